//! `history.csv`: the chosen head's training curve, one row per Adam epoch or
//! L-BFGS iteration; `report` plots it.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::atomic::AtomicFile;
use crate::records::{io_error, RecordError};

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
    let malformed = |e: csv::Error| RecordError::Malformed {
        path: path.to_path_buf(),
        what: "history.csv",
        reason: e.to_string(),
    };
    let file = AtomicFile::create(path).map_err(io_error(path))?;
    let mut writer = csv::Writer::from_writer(file);
    if rows.is_empty() {
        writer.write_record(HISTORY_COLUMNS).map_err(malformed)?;
    }
    for row in rows {
        writer.serialize(row).map_err(malformed)?;
    }
    let file = writer.into_inner().map_err(|e| RecordError::Io {
        path: path.to_path_buf(),
        source: e.into_error(),
    })?;
    file.commit().map_err(io_error(path))
}

pub fn read(path: &Path) -> Result<Vec<HistoryRow>, RecordError> {
    let malformed = |reason: String| RecordError::Malformed {
        path: path.to_path_buf(),
        what: "history.csv",
        reason,
    };
    let mut reader = csv::Reader::from_path(path).map_err(|e| match e.into_kind() {
        csv::ErrorKind::Io(source) => RecordError::Io {
            path: path.to_path_buf(),
            source,
        },
        other => malformed(format!("{other:?}")),
    })?;
    let header = reader.headers().map_err(|e| malformed(e.to_string()))?;
    if header.iter().ne(HISTORY_COLUMNS) {
        return Err(malformed(format!(
            "columns {:?}, expected {:?}",
            header.iter().collect::<Vec<_>>(),
            HISTORY_COLUMNS
        )));
    }
    reader
        .deserialize()
        .map(|row| row.map_err(|e| malformed(e.to_string())))
        .collect()
}
