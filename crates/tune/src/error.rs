use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum TuneError {
    #[error(transparent)]
    Features(#[from] feature_matrix::FeatureMatrixError),
    #[error(transparent)]
    Activations(#[from] contract::activations::ActivationError),
    #[error(transparent)]
    Model(#[from] backbone::ModelError),
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
    #[error(transparent)]
    Record(#[from] contract::RecordError),
    #[error(transparent)]
    HeadFile(#[from] contract::HeadFileError),
    #[error(transparent)]
    TuneFile(#[from] contract::tune_file::TuneFileError),
    #[error("{path}: {reason}")]
    Input { path: PathBuf, reason: String },
    #[error("loading the weights {spec}: {reason}")]
    Weights { spec: String, reason: String },
    #[error("{0}")]
    InvalidOption(String),
    #[error("invalid option: {0}")]
    Metrics(#[from] metrics::MetricsError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}
