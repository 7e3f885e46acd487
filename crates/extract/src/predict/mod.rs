//! `extract predict`: classify new images with a trained head and the backbone
//! its features came from, and `extract export`: the two as one TorchScript
//! module for serving.
//!
//! The head file records the variant, the weights (blake3 and location) and the
//! preprocessing recipe of its features, so the backbone is rebuilt from it alone
//! and checked to be the same before any image is read ([`rebuild`]). Features
//! come from a feature cache when it holds them, else from the backbone with the
//! pipeline's throughput: parallel decode, bounded queue, batched forward
//! ([`features`]). The head itself is applied as the head file defines it
//! ([`contract::HeadFile::probabilities`]).

pub mod export;
pub mod features;
pub mod inputs;
pub mod output;
pub mod rebuild;

use std::path::PathBuf;
use std::time::Instant;

use contract::{HeadFile, HeadFileError};

use crate::pipeline::{Backbone, BackboneError, ExtractError};
use backbone::WeightsSpecError;

pub use features::{CacheUse, FeatureOptions};
pub use inputs::{collect, InputFile};
pub use output::Format;
pub use rebuild::{backbone_source, read_head, rebuild, HeadInput};

/// Exit status of `extract predict` when some inputs were rejected and every
/// other one was classified (1 is an error that stopped the run, 2 a bad
/// command line).
pub const EXIT_SOME_REJECTED: u8 = 3;

#[derive(Debug, thiserror::Error)]
pub enum PredictError {
    #[error(transparent)]
    HeadFile(#[from] HeadFileError),
    #[error("{head}: {reason}")]
    BadHead { head: PathBuf, reason: String },
    #[error(
        "{head} does not record where its backbone's weights are (it predates that record); \
         pass them with --weights (the head was trained on {weights}, blake3 {blake3})"
    )]
    NoWeightsLocation {
        head: PathBuf,
        weights: String,
        blake3: String,
    },
    #[error(
        "{head} was trained on features of the weights at {path}, which no longer exists; \
         pass those weights with --weights (blake3 {blake3})"
    )]
    WeightsMissing {
        head: PathBuf,
        path: PathBuf,
        blake3: String,
    },
    #[error("--weights {spec}: {reason}")]
    BadWeightsSpec { spec: String, reason: String },
    #[error("loading the weights {weights} for {head}: {source}")]
    Weights {
        head: PathBuf,
        weights: String,
        // Boxed: the model errors are large and this one is rare.
        source: Box<WeightsSpecError>,
    },
    #[error(
        "{head} was trained on other features than {weights} makes: {differences}. A head only \
         fits the features it was trained on: pass the weights it was trained on ({trained_on}) \
         with --weights"
    )]
    Mismatch {
        head: PathBuf,
        weights: String,
        differences: String,
        trained_on: String,
    },
    #[error("--threshold {0}")]
    Threshold(String),
    #[error(transparent)]
    Cache(#[from] ExtractError),
    #[error("the backbone failed: {0} (features computed so far are kept in the cache, when one is used)")]
    Backbone(BackboneError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("exporting to {path}: {reason}")]
    Export { path: PathBuf, reason: String },
}

#[derive(Clone, Debug)]
pub struct PredictOptions {
    /// Replaces the head's decision threshold on p(class 1) (two classes only).
    pub threshold: Option<f64>,
    pub features: FeatureOptions,
}

/// A classified input: its predicted class and every class's probability.
#[derive(Clone, Debug, PartialEq)]
pub struct Classified {
    pub label: usize,
    pub probabilities: Vec<f64>,
}

/// One input's row of the output.
#[derive(Clone, Debug, PartialEq)]
pub struct Prediction {
    pub path: String,
    pub key: Option<String>,
    /// The classification, or why the input could not be classified.
    pub outcome: Result<Classified, String>,
}

/// What a run did, for the summary line.
#[derive(Clone, Debug, serde::Serialize)]
pub struct PredictSummary {
    pub inputs: usize,
    pub classified: usize,
    pub rejected: usize,
    /// Distinct images run through the backbone: zero on a warm cache.
    pub computed: usize,
    /// Distinct images whose features came from the cache.
    pub cached: usize,
    pub duplicates: usize,
    pub threshold: Option<f64>,
    pub backbone_seconds: f64,
    pub decode_seconds: f64,
    pub wall_seconds: f64,
    pub device: String,
    pub precision: String,
    pub batch_size: usize,
    pub cache_dir: Option<PathBuf>,
}

/// The threshold in force: `given` or the head's, on p(class 1) of a two-class head.
pub fn threshold(head: &HeadFile, given: Option<f64>) -> Result<Option<f64>, PredictError> {
    match (head.classes.len(), given) {
        (2, None) => Ok(Some(head.threshold)),
        (2, Some(t)) if (0.0..=1.0).contains(&t) => Ok(Some(t)),
        (2, Some(t)) => Err(PredictError::Threshold(format!(
            "{t}: a probability threshold lies in [0, 1]"
        ))),
        (_, None) => Ok(None),
        (k, Some(_)) => Err(PredictError::Threshold(format!(
            "applies to two-class heads; this one has {k} classes and predicts the most probable"
        ))),
    }
}

/// Classifies `files` with `head` over `backbone`'s features (already checked to
/// be the head's, see [`rebuild::check`]).
pub fn predict(
    head: &HeadFile,
    backbone: &mut dyn Backbone,
    files: &[InputFile],
    options: &PredictOptions,
) -> Result<(Vec<Prediction>, PredictSummary), PredictError> {
    let wall = Instant::now();
    let threshold = threshold(head, options.threshold)?;
    let found = features::features(files, backbone, &head.classes, &options.features)?;
    let predictions: Vec<Prediction> = files
        .iter()
        .zip(&found.keys)
        .map(|(file, key)| match key {
            // Every key is either computed, cached or rejected; the guard keeps a
            // broken invariant a rejection rather than a panic.
            Ok(key) if !found.by_key.contains_key(key) => Prediction {
                path: file.shown.clone(),
                key: Some(key.clone()),
                outcome: Err("no features were made (internal error)".into()),
            },
            Ok(key) => {
                let probabilities = head.probabilities(&found.by_key[key]);
                let label = HeadFile::predicted(&probabilities, threshold.unwrap_or(0.5));
                Prediction {
                    path: file.shown.clone(),
                    key: Some(key.clone()),
                    outcome: Ok(Classified {
                        label,
                        probabilities,
                    }),
                }
            }
            Err(rejected) => Prediction {
                path: file.shown.clone(),
                key: rejected.key.clone(),
                outcome: Err(rejected.reason.clone()),
            },
        })
        .collect();
    let classified = predictions.iter().filter(|p| p.outcome.is_ok()).count();
    let summary = PredictSummary {
        inputs: files.len(),
        classified,
        rejected: files.len() - classified,
        computed: found.computed,
        cached: found.cached,
        duplicates: found.duplicates,
        threshold,
        backbone_seconds: found.backbone_seconds,
        decode_seconds: found.decode_seconds,
        wall_seconds: wall.elapsed().as_secs_f64(),
        device: backbone.device(),
        precision: backbone.precision(),
        batch_size: backbone.batch_size(),
        cache_dir: found.cache_dir,
    };
    Ok((predictions, summary))
}
