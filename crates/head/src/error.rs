use std::path::PathBuf;

use contract::FeatureFileError;

/// Everything that stops a head from being trained, each naming what to fix.
#[derive(Debug, thiserror::Error)]
pub enum HeadError {
    #[error(transparent)]
    FeatureFile(#[from] FeatureFileError),
    #[error(transparent)]
    Features(#[from] feature_matrix::FeatureMatrixError),
    #[error(transparent)]
    HeadFile(#[from] contract::HeadFileError),
    #[error(transparent)]
    Record(#[from] contract::RecordError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid option: {0}")]
    InvalidOption(String),
    #[error("invalid option: {0}")]
    Metrics(#[from] metrics::MetricsError),
    #[error("cannot write {path}: {reason}")]
    Output { path: PathBuf, reason: String },
}

pub type Result<T, E = HeadError> = std::result::Result<T, E>;
