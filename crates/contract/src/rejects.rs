//! `rejects.csv`: every file `extract` left out, at which stage and why, beside
//! its feature files.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::records::{read_csv, write_csv, RecordError};

pub const REJECTS_FILE: &str = "rejects.csv";
pub const REJECTS_COLUMNS: [&str; 4] = ["path", "stage", "reason", "key"];

/// A file left out, at scan time (not an image, unreadable, a bad manifest row)
/// or at decode time (corrupt, truncated, too large).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reject {
    pub path: String,
    /// `scan` or `decode`.
    pub stage: String,
    pub reason: String,
    /// The content key, when the bytes could be read.
    pub key: Option<String>,
}

/// Writes the rows atomically, header first.
pub fn write(path: &Path, rows: &[Reject]) -> Result<(), RecordError> {
    write_csv(path, "rejects.csv", &REJECTS_COLUMNS, rows)
}

pub fn read(path: &Path) -> Result<Vec<Reject>, RecordError> {
    read_csv(path, "rejects.csv", &REJECTS_COLUMNS)
}
