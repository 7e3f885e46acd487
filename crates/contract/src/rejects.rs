//! `rejects.csv`: every file `extract` left out, at which stage and why, beside
//! its feature files.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::atomic::AtomicFile;
use crate::records::{io_error, RecordError};

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

/// RFC 4180 CSV with the header [`REJECTS_COLUMNS`], written atomically.
pub fn write(path: &Path, rejects: &[Reject]) -> Result<(), RecordError> {
    let malformed = |e: csv::Error| RecordError::Malformed {
        path: path.to_path_buf(),
        what: "rejects.csv",
        reason: e.to_string(),
    };
    let file = AtomicFile::create(path).map_err(io_error(path))?;
    let mut writer = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(file);
    writer.write_record(REJECTS_COLUMNS).map_err(malformed)?;
    for reject in rejects {
        writer.serialize(reject).map_err(malformed)?;
    }
    let file = writer.into_inner().map_err(|e| RecordError::Io {
        path: path.to_path_buf(),
        source: e.into_error(),
    })?;
    file.commit().map_err(io_error(path))
}

pub fn read(path: &Path) -> Result<Vec<Reject>, RecordError> {
    let malformed = |reason: String| RecordError::Malformed {
        path: path.to_path_buf(),
        what: "rejects.csv",
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
    if header.iter().ne(REJECTS_COLUMNS) {
        return Err(malformed(format!(
            "columns {:?}, expected {:?}",
            header.iter().collect::<Vec<_>>(),
            REJECTS_COLUMNS
        )));
    }
    reader
        .deserialize()
        .map(|row| row.map_err(|e| malformed(e.to_string())))
        .collect()
}
