//! The split assignments of a hash-split dataset as a plain CSV (`key,split,path`),
//! so that a dataset that grows keeps every existing image in its split.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use contract::Split;

use crate::report::ScanReport;

#[derive(Debug, thiserror::Error)]
pub enum SplitsFileError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}: {reason}")]
    Malformed {
        path: PathBuf,
        line: usize,
        reason: String,
    },
}

const HEADER: &str = "key,split,path";

pub fn read(path: &Path) -> Result<BTreeMap<String, Split>, SplitsFileError> {
    let text = std::fs::read_to_string(path).map_err(|source| SplitsFileError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut splits = BTreeMap::new();
    for (index, line) in text.lines().enumerate() {
        if (index == 0 && line == HEADER) || line.trim().is_empty() {
            continue;
        }
        let malformed = |reason: String| SplitsFileError::Malformed {
            path: path.to_path_buf(),
            line: index + 1,
            reason,
        };
        let mut fields = line.splitn(3, ',');
        let (Some(key), Some(split)) = (fields.next(), fields.next()) else {
            return Err(malformed("expected key,split,path".into()));
        };
        if key.len() != 64 || !key.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(malformed(format!("{key:?} is not a blake3 hex key")));
        }
        splits.insert(key.to_string(), split.parse().map_err(malformed)?);
    }
    Ok(splits)
}

/// Writes every image's assignment, atomically (temporary file, then rename).
pub fn write(path: &Path, report: &ScanReport) -> Result<(), SplitsFileError> {
    let io = |source| SplitsFileError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut rows: Vec<_> = report
        .images
        .iter()
        .map(|i| (i.key.as_str(), i.split, i.path.as_str()))
        .collect();
    rows.sort();
    let mut text = format!("{HEADER}\n");
    for (key, split, image_path) in rows {
        text.push_str(&format!("{key},{split},{image_path}\n"));
    }
    contract::atomic::write_atomically(path, text.as_bytes()).map_err(io)
}
