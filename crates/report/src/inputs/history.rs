use serde::Deserialize;

/// One row of head-train's `history.csv`: an epoch (Adam) or an iteration (L-BFGS).
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct HistoryRow {
    pub step: usize,
    pub train_loss: f64,
    pub train_accuracy: f64,
    /// On the selection split.
    pub val_loss: f64,
    pub val_accuracy: f64,
    pub objective: Option<f64>,
    pub gradient_max: Option<f64>,
    pub seconds: f64,
}
