//! `history.csv`: the chosen head's training curve, one row per Adam epoch or
//! L-BFGS iteration; `report` plots it.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::records::{read_csv, write_csv, RecordError};

pub const HISTORY_FILE: &str = "history.csv";
/// The header every reader checks: a changed column is a changed schema.
pub const HISTORY_COLUMNS: [&str; 8] = [
    "step",
    "train_loss",
    "train_accuracy",
    "val_loss",
    "val_accuracy",
    "objective",
    "gradient_max",
    "seconds",
];

/// One row: an epoch (Adam) or an iteration (L-BFGS) of the chosen head.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HistoryRow {
    pub step: usize,
    /// Plain mean log-loss on the fitting rows (Adam: measured on each batch
    /// before its update, as Keras reports it).
    pub train_loss: f64,
    pub train_accuracy: f64,
    /// On the selection split.
    pub val_loss: f64,
    pub val_accuracy: f64,
    /// L-BFGS only: the regularised objective and the largest gradient component.
    pub objective: Option<f64>,
    pub gradient_max: Option<f64>,
    /// Since this head's training began.
    pub seconds: f64,
}

/// Writes the rows atomically, header first.
pub fn write(path: &Path, rows: &[HistoryRow]) -> Result<(), RecordError> {
    write_csv(path, "history.csv", &HISTORY_COLUMNS, rows)
}

pub fn read(path: &Path) -> Result<Vec<HistoryRow>, RecordError> {
    read_csv(path, "history.csv", &HISTORY_COLUMNS)
}
