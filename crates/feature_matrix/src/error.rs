use std::path::PathBuf;

use contract::FeatureFileError;

/// Feature files that cannot be trained on together, or splits that cannot play
/// the fit / selection / evaluation roles; each names what to fix.
#[derive(Debug, thiserror::Error)]
pub enum FeatureMatrixError {
    #[error(transparent)]
    FeatureFile(#[from] FeatureFileError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no input feature files given")]
    NoInputs,
    #[error("{path}: holds no rows")]
    EmptyInput { path: PathBuf },
    #[error("{path}: holds features of {found} but {first} holds {expected}; files of different backbones, weights or preprocessing cannot be mixed")]
    MixedInputs {
        path: PathBuf,
        first: PathBuf,
        expected: String,
        found: String,
    },
    #[error("{path}: its class list {found:?} differs from {first}'s {expected:?}")]
    MixedClasses {
        path: PathBuf,
        first: PathBuf,
        expected: Vec<String>,
        found: Vec<String>,
    },
    #[error("the features declare {0} class(es); a head needs at least two")]
    TooFewClasses(usize),
    #[error("{path}: row {row} (key {key}) has label {label} ({name:?}) but the file's classes are {classes:?}")]
    UnknownLabel {
        path: PathBuf,
        row: usize,
        key: String,
        label: i32,
        name: String,
        classes: Vec<String>,
    },
    #[error("the {split} split has no rows{hint}")]
    MissingSplit { split: String, hint: String },
    #[error("the {split} split holds only class {class:?}; both fitting and judging a head need at least two classes")]
    OneClassSplit { split: String, class: String },
    #[error("class {class:?} appears in the {split} split but never in {fit}, so the head cannot have learnt it")]
    ClassUnseenInTraining {
        class: String,
        split: String,
        fit: String,
    },
    #[error("invalid option: {0}")]
    InvalidOption(String),
}

pub type Result<T, E = FeatureMatrixError> = std::result::Result<T, E>;
