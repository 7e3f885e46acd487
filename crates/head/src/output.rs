//! What a run leaves in `--out`: `head.safetensors`, `metrics.json`, `history.csv`.
//! The report stage reads only these and the feature files' metadata.

use std::io::Write;
use std::path::Path;

use featurefile::head_file::{HeadFile, HeadStandardization};
use featurefile::EXTRA_WEIGHTS_LOCATION;
use serde::Serialize;

use crate::metrics::{SplitMetrics, CALIBRATION_BINS};
use crate::model::Head;
use crate::roles::RoleRows;
use crate::standardize::Standardization;
use crate::train::{Candidate, TrainOptions, TrainedRun};
use crate::{HeadError, Result};

pub const HEAD_FILE: &str = featurefile::head_file::HEAD_FILE_NAME;
pub const METRICS_FILE: &str = "metrics.json";
pub const HISTORY_FILE: &str = "history.csv";
/// Bumped on any change a reader of the previous `metrics.json` would misread.
pub const METRICS_SCHEMA_VERSION: u32 = 1;

/// The schema of `metrics.json` (version [`METRICS_SCHEMA_VERSION`]); documented
/// field by field in `crates/head/README.md`.
#[derive(Debug, Serialize)]
pub struct RunMetrics<'a> {
    pub schema_version: u32,
    pub tool_version: String,
    /// The feature files or part directories given, in order.
    pub inputs: Vec<String>,
    pub features: FeaturesSummary<'a>,
    /// `sigmoid` (two classes, one logit) or `softmax` (K logits).
    pub activation: &'static str,
    pub roles: Roles<'a>,
    pub options: &'a TrainOptions,
    /// Per class, in class order, the weight each row's loss carried.
    pub class_weights: &'a [f64],
    /// Every head trained (one unless sweeping), in training order.
    pub candidates: &'a [Candidate],
    /// Index into `candidates` of the head kept.
    pub chosen: usize,
    /// `--sweep-l2 auto`: the kept head was refit on fit ∪ selection with the chosen L2.
    pub refit_on_fit_and_selection: bool,
    /// Decision threshold on p(class 1) for two classes; null for argmax.
    pub threshold: Option<f64>,
    pub calibration_bins: usize,
    /// Metrics of the kept head on each role's split: fit, selection, evaluation.
    pub splits: &'a [SplitMetrics],
    pub timing: Timing,
    pub resources: Resources,
}

#[derive(Debug, Serialize)]
pub struct FeaturesSummary<'a> {
    pub variant: &'a str,
    pub feature_dim: usize,
    pub feature_layer: &'a str,
    pub weights_source: &'a str,
    pub weights_blake3: &'a str,
    pub classes: &'a [String],
    pub rows: usize,
}

/// Which split played which role, and how many rows it had.
#[derive(Debug, Serialize)]
pub struct Roles<'a> {
    pub fit: &'a RoleRows,
    pub fit_rows: usize,
    pub selection: &'a RoleRows,
    pub selection_rows: usize,
    pub evaluation: &'a RoleRows,
    pub evaluation_rows: usize,
    pub holdout_fraction: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct Timing {
    /// Opening, validating and loading the features into the matrix.
    pub load_seconds: f64,
    /// Standardisation, every candidate and any refit.
    pub training_seconds: f64,
    /// The kept head alone (its candidate's time; excludes a refit).
    pub chosen_head_seconds: f64,
    /// Adam: epochs of the kept head per second of its training; null for L-BFGS.
    pub epochs_per_second: Option<f64>,
    pub evaluation_seconds: f64,
}

#[derive(Debug, Serialize)]
pub struct Resources {
    pub threads: usize,
    /// Element type of the feature matrix.
    pub storage: &'static str,
    pub matrix_bytes: usize,
    /// The process's peak resident memory (Linux `VmHWM`), null elsewhere.
    pub peak_rss_bytes: Option<u64>,
}

/// Peak resident set size of this process so far.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

impl TrainedRun {
    pub fn run_metrics<'a>(&'a self, options: &'a TrainOptions) -> RunMetrics<'a> {
        let chosen = &self.candidates[self.chosen];
        let meta = &self.meta;
        RunMetrics {
            schema_version: METRICS_SCHEMA_VERSION,
            tool_version: format!("effprobe head {}", env!("CARGO_PKG_VERSION")),
            inputs: self
                .inputs
                .iter()
                .map(|p| p.display().to_string())
                .collect(),
            features: FeaturesSummary {
                variant: &meta.variant,
                feature_dim: meta.feature_dim,
                feature_layer: &meta.feature_layer,
                weights_source: &meta.weights.source,
                weights_blake3: &meta.weights.blake3,
                classes: &meta.classes,
                rows: self.rows_loaded,
            },
            activation: activation(&self.head),
            roles: Roles {
                fit: &self.plan.fit,
                fit_rows: self.plan.fit.rows.len(),
                selection: &self.plan.selection,
                selection_rows: self.plan.selection.rows.len(),
                evaluation: &self.plan.evaluation,
                evaluation_rows: self.plan.evaluation.rows.len(),
                holdout_fraction: self.plan.holdout_fraction,
            },
            options,
            class_weights: &self.class_weights,
            candidates: &self.candidates,
            chosen: self.chosen,
            refit_on_fit_and_selection: self.refit,
            threshold: (self.head.classes == 2).then_some(self.threshold),
            calibration_bins: CALIBRATION_BINS,
            splits: &self.metrics,
            timing: Timing {
                load_seconds: self.load_seconds,
                training_seconds: self.training_seconds,
                chosen_head_seconds: chosen.seconds,
                epochs_per_second: (chosen.epochs > 0)
                    .then(|| chosen.epochs as f64 / chosen.seconds.max(1e-12)),
                evaluation_seconds: self.evaluation_seconds,
            },
            resources: Resources {
                threads: rayon::current_num_threads(),
                storage: options.storage.as_str(),
                matrix_bytes: self.matrix_bytes,
                peak_rss_bytes: peak_rss_bytes(),
            },
        }
    }

    /// Writes the three outputs into `out` (created if needed).
    pub fn write(&self, out: &Path, options: &TrainOptions) -> Result<()> {
        std::fs::create_dir_all(out).map_err(|source| HeadError::Io {
            path: out.to_path_buf(),
            source,
        })?;
        write_head(&out.join(HEAD_FILE), self)?;
        write_history(&out.join(HISTORY_FILE), &self.history)?;
        let metrics = serde_json::to_string_pretty(&self.run_metrics(options)).map_err(|e| {
            HeadError::Output {
                path: out.join(METRICS_FILE),
                reason: e.to_string(),
            }
        })?;
        write_file(&out.join(METRICS_FILE), metrics.as_bytes())
    }
}

fn activation(head: &Head) -> &'static str {
    if head.outputs() == 1 {
        "sigmoid"
    } else {
        "softmax"
    }
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    let io = |source| HeadError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::create(path).map_err(io)?;
    file.write_all(bytes).map_err(io)
}

/// The head file (format: [`featurefile::head_file`]), with the features'
/// identity and, when the features recorded it, where their weights live, so
/// `extract predict` can rebuild the backbone.
fn write_head(path: &Path, run: &TrainedRun) -> Result<()> {
    let head = &run.head;
    let meta = &run.meta;
    let file = HeadFile {
        classes: meta.classes.clone(),
        feature_dim: head.dim,
        weight: head.weight.clone(),
        bias: head.bias.clone(),
        standardization: run.standardization.as_ref().map(|s| HeadStandardization {
            mean: s.mean.clone(),
            scale: s.scale.clone(),
        }),
        variant: meta.variant.clone(),
        feature_layer: meta.feature_layer.clone(),
        preprocessing: meta.preprocessing.clone(),
        weights: meta.weights.clone(),
        weights_location: meta.extra.get(EXTRA_WEIGHTS_LOCATION).cloned(),
        threshold: run.threshold,
    };
    write_file(path, &file.to_bytes())
}

fn write_history(path: &Path, history: &[crate::train::HistoryRow]) -> Result<()> {
    let optional = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
    let mut text = String::from(
        "step,train_loss,train_accuracy,val_loss,val_accuracy,objective,gradient_max,seconds\n",
    );
    for h in history {
        text.push_str(&format!(
            "{},{},{},{},{},{},{},{}\n",
            h.step,
            h.train_loss,
            h.train_accuracy,
            h.val_loss,
            h.val_accuracy,
            optional(h.objective),
            optional(h.gradient_max),
            h.seconds
        ));
    }
    write_file(path, text.as_bytes())
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
