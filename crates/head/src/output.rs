//! What a run leaves in `--out`: `head.safetensors`, `metrics.json`, `history.csv`, `predictions.csv`.
//! The report stage reads only these and the feature files' metadata.

use std::path::Path;

use contract::head_file::{HeadFile, HeadStandardization};
use contract::metrics::{
    Activation, FeaturesSummary, HeadMetrics, HeadTiming, Resources, METRICS_SCHEMA_VERSION,
};

use crate::model::Head;
use crate::standardize::Standardization;
use crate::train::{TrainOptions, TrainedRun};
use crate::{HeadError, Result};
use metrics::calibration::CALIBRATION_BINS;

pub use contract::history::HISTORY_FILE;
pub use contract::metrics::METRICS_FILE;
pub use contract::predictions::PREDICTIONS_FILE;
pub const HEAD_FILE: &str = contract::head_file::HEAD_FILE_NAME;

impl TrainedRun {
    /// What `metrics.json` records of this run.
    pub fn run_metrics(&self, options: &TrainOptions) -> HeadMetrics {
        let chosen = &self.candidates[self.chosen].record;
        let meta = &self.meta;
        HeadMetrics {
            schema_version: METRICS_SCHEMA_VERSION,
            tool_version: format!("effprobe head {}", env!("CARGO_PKG_VERSION")),
            inputs: self
                .inputs
                .iter()
                .map(|p| p.display().to_string())
                .collect(),
            features: FeaturesSummary {
                variant: meta.variant.clone(),
                feature_dim: meta.feature_dim,
                feature_layer: meta.feature_layer.clone(),
                weights_source: meta.weights.source.clone(),
                weights_blake3: meta.weights.blake3.clone(),
                classes: meta.classes.clone(),
                rows: self.rows_loaded,
            },
            activation: activation(&self.head),
            roles: self.plan.roles(),
            options: options.clone(),
            class_weights: self.class_weights.clone(),
            candidates: self.candidates.iter().map(|c| c.record.clone()).collect(),
            chosen: self.chosen,
            refit_on_fit_and_selection: self.refit,
            threshold: (self.head.classes == 2).then_some(self.threshold),
            calibration_bins: CALIBRATION_BINS,
            splits: self.metrics.clone(),
            timing: HeadTiming {
                load_seconds: self.load_seconds,
                training_seconds: self.training_seconds,
                chosen_head_seconds: chosen.seconds,
                epochs_per_second: (chosen.epochs > 0)
                    .then(|| chosen.epochs as f64 / chosen.seconds.max(1e-12)),
                evaluation_seconds: self.evaluation_seconds,
            },
            resources: Resources {
                threads: rayon::current_num_threads(),
                storage: options.storage,
                matrix_bytes: self.matrix_bytes,
                peak_rss_bytes: contract::records::peak_rss_bytes(),
            },
            tune: None,
            partial_shards: self.partial_shards.clone(),
        }
    }

    /// Writes the outputs into `out` (created if needed), each atomically.
    pub fn write(&self, out: &Path, options: &TrainOptions) -> Result<()> {
        std::fs::create_dir_all(out).map_err(|source| HeadError::Io {
            path: out.to_path_buf(),
            source,
        })?;
        self.head_file().write(&out.join(HEAD_FILE))?;
        contract::history::write(&out.join(HISTORY_FILE), &self.history)?;
        self.evaluation.write(&out.join(PREDICTIONS_FILE))?;
        self.run_metrics(options).write(&out.join(METRICS_FILE))?;
        Ok(())
    }

    /// The head file (format: [`contract::head_file`]), with the features'
    /// identity and, when the features recorded it, where their weights live, so
    /// `extract predict` can rebuild the backbone.
    fn head_file(&self) -> HeadFile {
        let head = &self.head;
        let meta = &self.meta;
        HeadFile {
            classes: meta.classes.clone(),
            feature_dim: head.dim,
            weight: head.weight.clone(),
            bias: head.bias.clone(),
            standardization: self.standardization.as_ref().map(|s| HeadStandardization {
                mean: s.mean.clone(),
                scale: s.scale.clone(),
            }),
            variant: meta.variant.clone(),
            feature_layer: meta.feature_layer.clone(),
            preprocessing: meta.preprocessing.clone(),
            weights: meta.weights.clone(),
            weights_location: meta.weights_location().map(str::to_string),
            threshold: self.threshold,
            tune: None,
        }
    }
}

fn activation(head: &Head) -> Activation {
    if head.outputs() == 1 {
        Activation::Sigmoid
    } else {
        Activation::Softmax
    }
}

/// A head read back from `head.safetensors`, as this crate's types.
#[derive(Clone, Debug, PartialEq)]
pub struct SavedHead {
    pub head: Head,
    pub standardization: Option<Standardization>,
    pub classes: Vec<String>,
    pub variant: String,
    pub weights_blake3: String,
    pub weights_location: Option<String>,
    pub threshold: f64,
}

impl SavedHead {
    pub fn read(path: &Path) -> Result<Self> {
        let file = HeadFile::read(path)?;
        Ok(SavedHead {
            head: Head {
                classes: file.classes.len(),
                dim: file.feature_dim,
                weight: file.weight,
                bias: file.bias,
            },
            standardization: file.standardization.map(|s| Standardization {
                mean: s.mean,
                scale: s.scale,
            }),
            classes: file.classes,
            variant: file.variant,
            weights_blake3: file.weights.blake3,
            weights_location: file.weights_location,
            threshold: file.threshold,
        })
    }
}
