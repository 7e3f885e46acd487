//! The contract between effprobe's stages: every file one stage hands to another,
//! each with one typed definition, one writer and one reader. It never links
//! libtorch.
//!
//! | file | written by | read by |
//! |---|---|---|
//! | feature file (`VARIANT.parquet`, [`FeatureWriter`], [`FeatureReader`]) | extract | head-train, report, extract predict |
//! | `head.safetensors` ([`head_file`]) | head-train, tune-train | extract predict / export, report |
//! | activation cache (`.cache/VARIANT-topN-*/`, [`activations`]) | extract --tune-top | tune-train |
//! | a cache chunk's seal (`CHUNK.blake3`, [`seal`]) | extract | extract, tune-train |
//! | `tune.safetensors` ([`tune_file`]) | tune-train | extract predict / export |
//! | `metrics.json` ([`metrics`]) | head-train, tune-train | report |
//! | `history.csv` ([`history`]) | head-train, tune-train | report |
//! | `predictions.csv` ([`predictions`]) | head-train, tune-train | report |
//! | `run.json` ([`run_record`]) | extract | report, scripts/compare |
//! | `rejects.csv` ([`rejects`]) | extract | people, scripts |
//! | `VARIANT/_shard-K-of-N.done.json` ([`shard_record`]) | extract --shard | extract status, head-train, tune-train |
//! | `effprobe.extra.*` keys ([`extra`]) | extract | head-train, report |
//!
//! The feature file: one Parquet file (or a directory of part files) per backbone,
//! holding one pooled feature vector per image plus enough metadata to know
//! exactly how it was made. Columns: `key` (blake3 hex of the image bytes), `path`
//! (relative to the dataset root), `label` (int32), `label_name` (utf8), `split`
//! (train / val / test), `feature` (FixedSizeList<Float32, D>). File metadata: see
//! [`FeatureMeta`]. Every file is published atomically ([`atomic`]).

pub mod activations;
pub mod atomic;
mod error;
pub mod extra;
pub mod head_file;
pub mod history;
mod identity;
mod meta;
pub mod metrics;
pub mod predictions;
mod preprocessing;
mod reader;
pub mod records;
pub mod rejects;
pub mod run_record;
mod safetensors_bytes;
mod schema;
pub mod seal;
pub mod shard;
pub mod shard_record;
mod split;
pub mod tune_file;
mod writer;

pub use error::FeatureFileError;
pub use head_file::{HeadFile, HeadFileError};
pub use identity::{FeatureIdentity, PIXELS_REVISION};
pub use meta::{FeatureMeta, WeightsIdentity, FORMAT_VERSION};
pub use metrics::HeadMetrics;
pub use preprocessing::{Interpolation, Preprocessing, PreprocessingError, ResizeMode};
pub use reader::{FeatureBatch, FeatureDataset, FeatureReader};
pub use records::RecordError;
pub use run_record::{DatasetSummary, RunRecord};
pub use shard::Shard;
pub use shard_record::{MissingShards, ShardCoverage, ShardRecord, ShardSet};
pub use split::Split;
pub use writer::{FeatureRow, FeatureWriter};

pub type Result<T, E = FeatureFileError> = std::result::Result<T, E>;
