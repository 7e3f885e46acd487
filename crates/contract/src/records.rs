//! What every JSON and CSV record between stages shares: one error type naming
//! the file, versioned reading, atomic writing.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::atomic::{write_atomically, AtomicFile};

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a valid {what}: {reason}")]
    Malformed {
        path: PathBuf,
        what: &'static str,
        reason: String,
    },
    #[error("{path}: {what} has schema_version {found}, newer than the {supported} this build reads; read it with a newer effprobe")]
    NewerSchema {
        path: PathBuf,
        what: &'static str,
        found: u64,
        supported: u32,
    },
}

pub(crate) fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> RecordError + '_ {
    move |source| RecordError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Reads a JSON record whose `schema_version` this build understands. A record
/// without one is read as `unversioned` (files written before it was recorded),
/// or refused when that is `None`.
pub(crate) fn read_versioned_json<T: DeserializeOwned>(
    path: &Path,
    what: &'static str,
    supported: u32,
    unversioned: Option<u32>,
) -> Result<T, RecordError> {
    let text = std::fs::read_to_string(path).map_err(io_error(path))?;
    let malformed = |reason: String| RecordError::Malformed {
        path: path.to_path_buf(),
        what,
        reason,
    };
    let mut value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| malformed(e.to_string()))?;
    let version = match value.get("schema_version") {
        Some(v) => v
            .as_u64()
            .ok_or_else(|| malformed(format!("schema_version is {v}, not a number")))?,
        None => match unversioned {
            Some(assumed) => {
                value["schema_version"] = assumed.into();
                u64::from(assumed)
            }
            None => return Err(malformed("no schema_version".into())),
        },
    };
    if version > u64::from(supported) {
        return Err(RecordError::NewerSchema {
            path: path.to_path_buf(),
            what,
            found: version,
            supported,
        });
    }
    serde_json::from_value(value).map_err(|e| malformed(e.to_string()))
}

/// Pretty JSON, written atomically.
pub(crate) fn write_json<T: Serialize>(path: &Path, record: &T) -> Result<(), RecordError> {
    let mut json = serde_json::to_string_pretty(record).map_err(|e| RecordError::Malformed {
        path: path.to_path_buf(),
        what: "record",
        reason: e.to_string(),
    })?;
    json.push('\n');
    write_atomically(path, json.as_bytes()).map_err(io_error(path))
}

/// A CSV record: the header `columns`, then one row per item, written atomically.
pub(crate) fn write_csv<T: Serialize>(
    path: &Path,
    what: &'static str,
    columns: &[&str],
    rows: &[T],
) -> Result<(), RecordError> {
    publish_csv(path, what, |writer| {
        writer.write_record(columns)?;
        rows.iter().try_for_each(|row| writer.serialize(row))
    })
}

/// Publishes a CSV file atomically; `fill` writes every record, header included.
pub(crate) fn publish_csv(
    path: &Path,
    what: &'static str,
    fill: impl FnOnce(&mut csv::Writer<AtomicFile>) -> Result<(), csv::Error>,
) -> Result<(), RecordError> {
    let file = AtomicFile::create(path).map_err(io_error(path))?;
    let mut writer = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(file);
    fill(&mut writer).map_err(|e| RecordError::Malformed {
        path: path.to_path_buf(),
        what,
        reason: e.to_string(),
    })?;
    let file = writer.into_inner().map_err(|e| RecordError::Io {
        path: path.to_path_buf(),
        source: e.into_error(),
    })?;
    file.commit().map_err(io_error(path))
}

/// Opens a CSV file for reading, its errors naming the file.
pub(crate) fn open_csv(
    path: &Path,
    what: &'static str,
) -> Result<csv::Reader<std::fs::File>, RecordError> {
    csv::Reader::from_path(path).map_err(|e| match e.into_kind() {
        csv::ErrorKind::Io(source) => RecordError::Io {
            path: path.to_path_buf(),
            source,
        },
        other => RecordError::Malformed {
            path: path.to_path_buf(),
            what,
            reason: format!("{other:?}"),
        },
    })
}

/// Reads a CSV record whose header must be exactly `columns`: a changed column is
/// a changed schema.
pub(crate) fn read_csv<T: DeserializeOwned>(
    path: &Path,
    what: &'static str,
    columns: &[&str],
) -> Result<Vec<T>, RecordError> {
    let malformed = |reason: String| RecordError::Malformed {
        path: path.to_path_buf(),
        what,
        reason,
    };
    let mut reader = open_csv(path, what)?;
    let header = reader.headers().map_err(|e| malformed(e.to_string()))?;
    if header.iter().ne(columns.iter().copied()) {
        return Err(malformed(format!(
            "columns {:?}, expected {columns:?}",
            header.iter().collect::<Vec<_>>()
        )));
    }
    reader
        .deserialize()
        .map(|row| row.map_err(|e| malformed(e.to_string())))
        .collect()
}

/// This process's peak resident memory so far (Linux `VmHWM`; `None` elsewhere):
/// what `run.json` and `metrics.json` record as `peak_rss_bytes`, measured one way.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
