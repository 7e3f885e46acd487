//! `metrics.json`: what `head-train` did and how well its head scores, per role's
//! split; what `report` tabulates. Field by field in crates/head/README.md.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::records::{read_versioned_json, write_json, RecordError};

pub const METRICS_FILE: &str = "metrics.json";
/// Bumped on any change a reader of the previous `metrics.json` would misread.
/// 2: `options.l2` may be null (the optimiser's default strength); version 1
/// files read as they are. 3: `tune` (top-block fine-tuning runs, optimizer
/// `adamw`); earlier files read with `tune` null. 4: each split's
/// `accuracy_interval`, `top5_accuracy` (and its interval), `macro_f1`,
/// `balanced_accuracy`, `roc_auc_averaging`, `per_class` and `classes_absent`;
/// earlier files read with them null or empty.
pub const METRICS_SCHEMA_VERSION: u32 = 4;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Optimizer {
    /// Mini-batch Adam, Keras defaults.
    Adam,
    /// Full-batch L-BFGS to the exact optimum.
    Lbfgs,
    /// AdamW over the top blocks and the classifier (`tune-train`).
    Adamw,
}

impl Optimizer {
    /// As `--optimizer` and `metrics.json` spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Optimizer::Adam => "adam",
            Optimizer::Lbfgs => "lbfgs",
            Optimizer::Adamw => "adamw",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClassWeight {
    None,
    /// `n / (K · n_c)` over the fitting rows, scikit-learn's `balanced`.
    Balanced,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "rule", content = "value")]
pub enum ThresholdRule {
    /// Predict class 1 when `p(class 1) >= value`.
    Fixed(f64),
    /// The threshold maximising F1 on the selection split.
    ValF1,
}

/// `--threshold`: a number, or `val-f1`.
impl std::str::FromStr for ThresholdRule {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "val-f1" => Ok(ThresholdRule::ValF1),
            number => match number.parse::<f64>() {
                Ok(value) if (0.0..=1.0).contains(&value) => Ok(ThresholdRule::Fixed(value)),
                Ok(value) => Err(format!("--threshold {value}: must lie in [0, 1]")),
                Err(_) => Err(format!(
                    "--threshold {number:?}: expected a number in [0, 1] or val-f1"
                )),
            },
        }
    }
}

/// One `--sweep NAME=V1,V2,...` argument: the axis name and its values.
pub fn sweep_axis(spec: &str) -> Result<(&str, Vec<f64>), String> {
    let (name, values) = spec
        .split_once('=')
        .ok_or_else(|| format!("--sweep {spec:?}: expected NAME=V1,V2,..."))?;
    let values = values
        .split(',')
        .map(|v| {
            v.trim()
                .parse::<f64>()
                .map_err(|_| format!("--sweep {spec:?}: {v:?} is not a number"))
        })
        .collect::<Result<Vec<f64>, String>>()?;
    Ok((name, values))
}

/// A grid of heads (`--sweep lr=… l2=…`); an empty axis keeps the single value.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SweepGrid {
    pub lr: Vec<f32>,
    pub l2: Vec<f64>,
}

/// Which element type the feature matrix is stored in (`--storage`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Storage {
    F32,
    F16,
    Bf16,
}

impl Storage {
    pub fn as_str(self) -> &'static str {
        match self {
            Storage::F32 => "f32",
            Storage::F16 => "f16",
            Storage::Bf16 => "bf16",
        }
    }
}

/// Everything `head-train` can be told, as it records it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HeadOptions {
    pub optimizer: Optimizer,
    /// L2 strength as given; `None`: [`HeadOptions::default_l2`]. The strength
    /// each head used is its candidate's `l2`.
    pub l2: Option<f64>,
    pub standardize: bool,
    pub class_weight: ClassWeight,
    pub epochs: usize,
    pub batch_size: usize,
    pub lr: f32,
    pub early_stop: Option<usize>,
    pub seed: u64,
    pub holdout: Option<f64>,
    pub sweep: Option<SweepGrid>,
    /// The CLIP linear-probe protocol: L2 searched on a log scale over 1e-6..1e6
    /// with the full-batch solver, then a refit on fit ∪ selection.
    pub sweep_l2_auto: bool,
    pub threshold: ThresholdRule,
    pub tol: f64,
    pub max_iter: usize,
    pub storage: Storage,
}

impl HeadOptions {
    /// The strength used without `--l2`: Adam none (Keras' Dense has no
    /// regulariser); the full-batch solver scikit-learn's default C = 1, which is
    /// l2 = 1 / n_fit (unregularised, separable features drive the weights to
    /// infinity and the log-loss up).
    pub fn default_l2(&self, fit_rows: usize) -> f64 {
        match self.optimizer {
            Optimizer::Adam | Optimizer::Adamw => 0.0,
            Optimizer::Lbfgs => 1.0 / fit_rows.max(1) as f64,
        }
    }

    /// `--l2` if given, else [`HeadOptions::default_l2`].
    pub fn l2_for(&self, fit_rows: usize) -> f64 {
        self.l2.unwrap_or_else(|| self.default_l2(fit_rows))
    }

    /// The full-batch solver's stopping rule: largest gradient component.
    pub const DEFAULT_TOL: f64 = 1e-6;
    pub const DEFAULT_MAX_ITER: usize = 1000;
}

impl Default for HeadOptions {
    fn default() -> Self {
        HeadOptions {
            optimizer: Optimizer::Adam,
            l2: None,
            standardize: false,
            class_weight: ClassWeight::None,
            epochs: 10,
            batch_size: 32,
            lr: 1e-3,
            early_stop: None,
            seed: 0,
            holdout: None,
            sweep: None,
            sweep_l2_auto: false,
            threshold: ThresholdRule::Fixed(0.5),
            tol: Self::DEFAULT_TOL,
            max_iter: Self::DEFAULT_MAX_ITER,
            storage: Storage::F32,
        }
    }
}

/// How `tune-train` fine-tuned the top blocks: what `options` cannot say.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TuneSummary {
    pub cut: crate::activations::CutPoint,
    /// AdamW's decoupled weight decay of the kept candidate.
    pub weight_decay: f64,
    /// `cosine` or `constant`.
    pub schedule: String,
    /// Whether batch-norm running statistics were updated (else frozen).
    pub update_batch_norm: bool,
    /// `cpu` or `cuda:0`.
    pub device: String,
    pub trainable_parameters: u64,
    /// The activation cache folder trained on.
    pub activations: String,
    /// The grid's weight-decay axis (empty without `--sweep weight-decay=…`).
    pub sweep_weight_decay: Vec<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FeaturesSummary {
    pub variant: String,
    pub feature_dim: usize,
    pub feature_layer: String,
    pub weights_source: String,
    pub weights_blake3: String,
    pub classes: Vec<String>,
    pub rows: usize,
}

/// The split a role's rows come from: `train`, `holdout`, `val` or `test`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleSplit {
    pub split: String,
}

/// Which split played which role, and how many rows it had.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Roles {
    pub fit: RoleSplit,
    pub fit_rows: usize,
    pub selection: RoleSplit,
    pub selection_rows: usize,
    pub evaluation: RoleSplit,
    pub evaluation_rows: usize,
    pub holdout_fraction: Option<f64>,
}

/// One trained head of a sweep (or the only one), without its weights.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CandidateRecord {
    pub lr: Option<f32>,
    pub l2: f64,
    /// Log-loss on the selection split, the selection criterion.
    pub selection_loss: f64,
    pub selection_accuracy: f64,
    /// Adam: epochs run (fewer than asked after an early stop). L-BFGS: 0.
    pub epochs: usize,
    /// Adam: the epoch whose weights were kept. L-BFGS: 0.
    pub best_epoch: usize,
    /// L-BFGS only.
    pub iterations: Option<usize>,
    pub converged: Option<bool>,
    pub objective: Option<f64>,
    pub gradient_max: Option<f64>,
    pub seconds: f64,
}

/// A closed interval `[low, high]` (95% unless said otherwise).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    pub low: f64,
    pub high: f64,
}

/// One class's scores on one split. Undefined ratios are null, never 0/0.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassMetrics {
    pub class: String,
    /// Rows of this class in the split.
    pub support: u64,
    /// Rows predicted as this class.
    pub predicted: u64,
    /// Right among those predicted as it; null when none was.
    pub precision: Option<f64>,
    /// Found among its rows; null when the split has none.
    pub recall: Option<f64>,
    /// `2 tp / (2 tp + fp + fn)`: 0 when the class is present or predicted but
    /// never right; null when it is neither present nor predicted.
    pub f1: Option<f64>,
}

/// How `top5_accuracy` counts: the true class among this many most probable.
pub const TOP_K: usize = 5;

/// Scores of one split. Two classes: binary precision/recall/F1 of class 1. More
/// classes: macro averages over the classes present in truth or prediction,
/// predictions are the most likely class, ROC-AUC is the macro one-vs-rest mean.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SplitMetrics {
    /// Which split these rows come from: `train`, `holdout`, `val` or `test`.
    pub split: String,
    /// `fit`, `selection` or `evaluation`.
    pub role: String,
    pub rows: usize,
    /// Mean of `−ln max(p(true class), ε)` with ε the f64 machine epsilon
    /// (scikit-learn's `log_loss`; natural log, unweighted).
    pub log_loss: f64,
    pub accuracy: f64,
    /// `None` (null) when the split lacks a class, where AUC is undefined.
    pub roc_auc: Option<f64>,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// `binary` (positive class = label 1) or `macro`.
    pub averaging: String,
    /// Σ_b (n_b / n) |accuracy_b − mean confidence_b| over `calibration_bins`
    /// equal-width bins of the predicted class's probability.
    pub expected_calibration_error: f64,
    /// `confusion_matrix[true][predicted]`, in class order.
    pub confusion_matrix: Vec<Vec<u64>>,
    /// 95% Wilson score interval of `accuracy`.
    #[serde(default)]
    pub accuracy_interval: Option<Interval>,
    /// Share of rows whose true class is among the [`TOP_K`] most probable
    /// (equal probabilities ranked by class order); null for K ≤ 5 classes.
    #[serde(default)]
    pub top5_accuracy: Option<f64>,
    /// 95% Wilson score interval of `top5_accuracy`.
    #[serde(default)]
    pub top5_accuracy_interval: Option<Interval>,
    /// Mean F1 over the classes present in truth or prediction (scikit-learn's
    /// `f1_score(average="macro")`), for any number of classes.
    #[serde(default)]
    pub macro_f1: Option<f64>,
    /// Mean recall over the classes present in the split (scikit-learn's
    /// `balanced_accuracy_score`).
    #[serde(default)]
    pub balanced_accuracy: Option<f64>,
    /// How `roc_auc` averages: `binary` (class 1's scores) or `macro-ovr` (the
    /// mean one-vs-rest AUC over the classes present in the split).
    #[serde(default)]
    pub roc_auc_averaging: Option<String>,
    /// Per class, in class order.
    #[serde(default)]
    pub per_class: Vec<ClassMetrics>,
    /// Classes with no row in this split: their recall is undefined, and they
    /// count in neither `balanced_accuracy` nor the macro ROC-AUC.
    #[serde(default)]
    pub classes_absent: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HeadTiming {
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

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Resources {
    pub threads: usize,
    /// Element type of the feature matrix.
    pub storage: Storage,
    pub matrix_bytes: usize,
    /// The process's peak resident memory (Linux `VmHWM`), null elsewhere.
    pub peak_rss_bytes: Option<u64>,
}

/// `sigmoid` (two classes, one logit) or `softmax` (K logits).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    Sigmoid,
    Softmax,
}

/// The schema of `metrics.json`, version [`METRICS_SCHEMA_VERSION`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HeadMetrics {
    pub schema_version: u32,
    pub tool_version: String,
    /// The feature files or part directories given, in order.
    pub inputs: Vec<String>,
    pub features: FeaturesSummary,
    pub activation: Activation,
    pub roles: Roles,
    pub options: HeadOptions,
    /// Per class, in class order, the weight each row's loss carried.
    pub class_weights: Vec<f64>,
    /// Every head trained (one unless sweeping), in training order.
    pub candidates: Vec<CandidateRecord>,
    /// Index into `candidates` of the head kept.
    pub chosen: usize,
    /// `--sweep-l2 auto`: the kept head was refit on fit ∪ selection with the chosen
    /// L2. Then `splits[selection]` and `history.csv` are those of the chosen
    /// candidate before its refit (the refit head has seen the selection rows).
    pub refit_on_fit_and_selection: bool,
    /// Decision threshold on p(class 1) for two classes; null for argmax.
    pub threshold: Option<f64>,
    pub calibration_bins: usize,
    /// Metrics of the kept head on each role's split: fit, selection, evaluation.
    pub splits: Vec<SplitMetrics>,
    pub timing: HeadTiming,
    pub resources: Resources,
    /// Set by `tune-train`: the features are the tuned top's, trained with it.
    #[serde(default)]
    pub tune: Option<TuneSummary>,
}

impl HeadMetrics {
    /// Reads and checks a `metrics.json`: its schema version, that some split has
    /// the evaluation role, and that `chosen` indexes `candidates`.
    pub fn read(path: &Path) -> Result<Self, RecordError> {
        let metrics: HeadMetrics =
            read_versioned_json(path, "metrics.json", METRICS_SCHEMA_VERSION, None)?;
        let malformed = |reason: &str| RecordError::Malformed {
            path: path.to_path_buf(),
            what: "metrics.json",
            reason: reason.to_string(),
        };
        if metrics.evaluation().is_none() {
            return Err(malformed("no split with role evaluation"));
        }
        if metrics.chosen_candidate().is_none() {
            return Err(malformed("chosen is not an index into candidates"));
        }
        Ok(metrics)
    }

    /// Writes it atomically.
    pub fn write(&self, path: &Path) -> Result<(), RecordError> {
        write_json(path, self)
    }

    /// The kept head scored once on the evaluation split.
    pub fn evaluation(&self) -> Option<&SplitMetrics> {
        self.splits.iter().find(|s| s.role == "evaluation")
    }

    pub fn chosen_candidate(&self) -> Option<&CandidateRecord> {
        self.candidates.get(self.chosen)
    }
}
