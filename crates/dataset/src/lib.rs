//! effprobe's datasets: finding images, their labels and their splits, in every
//! form people bring them, without libtorch.
//!
//! * Image folders: `ROOT/SPLIT/CLASS/*` taken as given (split folders named
//!   the usual ways: `train`, `training_set`, `Validation`, `dev`, `test`, …) or
//!   `ROOT/CLASS/*` split by content hash. Folder names that could mean either
//!   stop the scan with an error that says how to state the layout.
//! * Label manifests (`--labels`): CSV or Parquet with path, label and split.
//! * WebDataset tar shards: a folder of `.tar` files, one shard, or a brace
//!   pattern; images are read in place.
//! * Any of these but Parquet under an S3 prefix (`s3://bucket/prefix`), read in
//!   place through object_store (see `s3`).
//!
//! Whether a file is an image is decided by its content, not its name: any file
//! whose header parses as a supported format counts. Every image is keyed by the
//! blake3 of its bytes, the key the feature cache and every split rule use.

mod collect;
pub mod columns;
mod error;
pub mod file_names;
pub mod folders;
pub mod hf_parquet;
pub mod inspect;
pub mod manifest;
pub mod names;
mod objects;
pub mod parquet_images;
pub mod pattern;
pub mod report;
pub mod s3;
mod scan;
pub mod source;
pub mod split;
pub mod splits_file;
pub mod tree;
pub mod walk;
pub mod webdataset;

pub use columns::ColumnNames;
pub use error::DatasetError;
pub use folders::LayoutChoice;
pub use report::{DatasetSummary, ImageEntry, Layout, Problem, ScanReport, SplitsFrom};
pub use scan::{check_inputs, scan, ScanOptions};
pub use source::ImageSource;
pub use split::{assign_splits, split_unit, KeyedLabel, SplitFractions};
