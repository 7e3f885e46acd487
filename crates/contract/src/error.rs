use std::path::PathBuf;

/// Everything that can go wrong with a feature file; every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum FeatureFileError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a readable Parquet file: {source}")]
    Parquet {
        path: PathBuf,
        source: parquet::errors::ParquetError,
    },
    #[error("{path}: {source}")]
    Arrow {
        path: PathBuf,
        source: arrow_schema::ArrowError,
    },
    #[error("{path}: missing column `{column}`")]
    MissingColumn { path: PathBuf, column: &'static str },
    #[error("{path}: column `{column}` has type {found}, expected {expected}")]
    WrongType {
        path: PathBuf,
        column: &'static str,
        expected: String,
        found: String,
    },
    #[error("{path}: feature vectors have {found} values but the metadata says feature_dim = {metadata}")]
    DimensionMismatch {
        path: PathBuf,
        metadata: usize,
        found: usize,
    },
    #[error("{path}: feature file format version {found} is not supported (this build reads version {supported})")]
    UnknownFormatVersion {
        path: PathBuf,
        found: String,
        supported: u32,
    },
    #[error("{path}: metadata key `{key}` is missing (not an effprobe feature file?)")]
    MissingMetadata { path: PathBuf, key: String },
    #[error("{path}: metadata key `{key}` is invalid: {reason}")]
    BadMetadata {
        path: PathBuf,
        key: String,
        reason: String,
    },
    #[error(
        "{path}: row {row} (key {key}) has a non-finite value ({value}) at feature index {index}"
    )]
    NonFinite {
        path: PathBuf,
        row: usize,
        key: String,
        index: usize,
        value: f32,
    },
    #[error("{path}: row {row} has a null in column `{column}`")]
    NullValue {
        path: PathBuf,
        row: usize,
        column: &'static str,
    },
    #[error("{path}: row {row} has an invalid split: {reason}")]
    InvalidSplit {
        path: PathBuf,
        row: usize,
        reason: String,
    },
    #[error(
        "{path}: row {row} has a feature vector of length {found}, the file declares {expected}"
    )]
    RowLength {
        path: PathBuf,
        row: usize,
        expected: usize,
        found: usize,
    },
    #[error("{path}: no `.parquet` part files in this directory")]
    EmptyDirectory { path: PathBuf },
    /// A folder of shards that is not one complete dataset.
    #[error(transparent)]
    Shards(#[from] crate::shard_record::ShardSetError),
    #[error("{path}: part disagrees with {first} on {what}: {found:?} vs {expected:?}")]
    PartsDisagree {
        path: PathBuf,
        first: PathBuf,
        what: &'static str,
        expected: String,
        found: String,
    },
}
