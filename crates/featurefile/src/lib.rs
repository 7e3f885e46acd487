//! The effprobe feature file: one Parquet file (or a directory of part files) per
//! backbone, holding one pooled feature vector per image plus enough metadata to
//! know exactly how it was made. This crate is the only contract between the
//! `extract`, `head` and `report` stages, and it never links libtorch.
//!
//! Columns: `key` (blake3 hex of the image bytes), `path` (relative to the dataset
//! root), `label` (int32), `label_name` (utf8), `split` (train / val / test),
//! `feature` (FixedSizeList<Float32, D>). File metadata: see [`FeatureMeta`].
//!
//! The head file `head.safetensors` ([`head_file`]) is part of the contract too:
//! `head-train` writes it, `extract predict` reads it.

mod error;
pub mod head_file;
mod meta;
mod reader;
mod schema;
mod split;
mod writer;

pub use error::FeatureFileError;
pub use head_file::{HeadFile, HeadFileError};
pub use meta::{
    FeatureMeta, Interpolation, Preprocessing, ResizeMode, WeightsIdentity, EXTRA_WEIGHTS_LOCATION,
    FORMAT_VERSION,
};
pub use reader::{FeatureBatch, FeatureDataset, FeatureReader};
pub use split::Split;
pub use writer::{FeatureRow, FeatureWriter};

pub type Result<T, E = FeatureFileError> = std::result::Result<T, E>;
