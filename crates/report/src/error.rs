use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {reason}")]
    BadInput { path: PathBuf, reason: String },
    #[error("{dir}: no head-train or tune-train runs found (expected subfolders holding metrics.json, history.csv and head.safetensors)")]
    NoRuns { dir: PathBuf },
    #[error(transparent)]
    FeatureFile(#[from] contract::FeatureFileError),
    /// Names the head file itself.
    #[error(transparent)]
    HeadFile(#[from] contract::HeadFileError),
    /// Names the record (metrics.json, history.csv, run.json) itself.
    #[error(transparent)]
    Record(#[from] contract::RecordError),
    #[error("plot {name}: {reason}")]
    Plot { name: String, reason: String },
    #[error("{path}: {reason}")]
    Output { path: PathBuf, reason: String },
}

pub type Result<T, E = ReportError> = std::result::Result<T, E>;

pub(crate) fn io_error(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> ReportError + '_ {
    move |source| ReportError::Io {
        path: path.to_path_buf(),
        source,
    }
}
