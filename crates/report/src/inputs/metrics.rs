//! The subset of head-train's `metrics.json` (schema_version 1, documented in
//! crates/head/README.md) that the report uses.

use serde::Deserialize;

pub const SUPPORTED_SCHEMA_VERSION: u32 = 1;

#[derive(Clone, Debug, Deserialize)]
pub struct Metrics {
    pub schema_version: u32,
    pub features: Features,
    pub roles: Roles,
    pub options: Options,
    pub candidates: Vec<Candidate>,
    pub chosen: usize,
    pub splits: Vec<SplitMetrics>,
    pub timing: Timing,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Features {
    pub variant: String,
    pub feature_dim: usize,
    pub weights_source: String,
    pub weights_blake3: String,
    pub rows: usize,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Roles {
    pub fit_rows: usize,
    pub evaluation: RoleSplit,
}

#[derive(Clone, Debug, Deserialize)]
pub struct RoleSplit {
    pub split: String,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Options {
    /// `adam` or `lbfgs`.
    pub optimizer: String,
    pub epochs: usize,
    pub batch_size: usize,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Candidate {
    /// Adam: epochs run; L-BFGS: 0.
    pub epochs: usize,
    pub iterations: Option<usize>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct SplitMetrics {
    pub split: String,
    /// `fit`, `selection` or `evaluation`.
    pub role: String,
    pub rows: usize,
    pub log_loss: f64,
    pub accuracy: f64,
    pub roc_auc: Option<f64>,
    pub f1: f64,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Timing {
    pub training_seconds: f64,
}

impl Metrics {
    /// The kept head scored once on the evaluation split.
    pub fn evaluation(&self) -> Option<&SplitMetrics> {
        self.splits.iter().find(|s| s.role == "evaluation")
    }

    pub fn chosen_candidate(&self) -> Option<&Candidate> {
        self.candidates.get(self.chosen)
    }
}
