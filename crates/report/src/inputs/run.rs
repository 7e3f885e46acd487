use std::path::{Path, PathBuf};

use super::head_file::HeadFileMeta;
use super::history::HistoryRow;
use super::metrics::{Metrics, SUPPORTED_SCHEMA_VERSION};
use crate::error::{io_error, ReportError, Result};

pub const METRICS_FILE: &str = "metrics.json";
pub const HISTORY_FILE: &str = "history.csv";
pub const HEAD_FILE: &str = "head.safetensors";

/// One head-train output folder, read back.
#[derive(Clone, Debug)]
pub struct HeadRun {
    /// The folder's name (`b0`, `b0-lbfgs`, ...).
    pub name: String,
    pub dir: PathBuf,
    pub metrics: Metrics,
    pub history: Vec<HistoryRow>,
    pub head: HeadFileMeta,
}

impl HeadRun {
    pub fn read(dir: &Path) -> Result<Self> {
        let metrics_path = dir.join(METRICS_FILE);
        let text = std::fs::read_to_string(&metrics_path).map_err(io_error(&metrics_path))?;
        let bad = |path: &Path, reason: String| ReportError::BadInput {
            path: path.to_path_buf(),
            reason,
        };
        let version: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| bad(&metrics_path, e.to_string()))?;
        if version["schema_version"].as_u64() != Some(SUPPORTED_SCHEMA_VERSION as u64) {
            return Err(bad(
                &metrics_path,
                format!(
                    "schema_version {}, this report reads {SUPPORTED_SCHEMA_VERSION}",
                    version["schema_version"]
                ),
            ));
        }
        let metrics: Metrics =
            serde_json::from_value(version).map_err(|e| bad(&metrics_path, e.to_string()))?;
        if metrics.evaluation().is_none() {
            return Err(bad(&metrics_path, "no split with role evaluation".into()));
        }
        if metrics.chosen_candidate().is_none() {
            return Err(bad(
                &metrics_path,
                "chosen is not an index into candidates".into(),
            ));
        }

        let history_path = dir.join(HISTORY_FILE);
        let history = read_history(&history_path)?;

        let head_path = dir.join(HEAD_FILE);
        let head = HeadFileMeta::read(&head_path)?;
        if head.variant != metrics.features.variant
            || head.weights_blake3 != metrics.features.weights_blake3
        {
            return Err(bad(
                &head_path,
                format!(
                    "variant/weights ({}, {}) disagree with {METRICS_FILE} ({}, {})",
                    head.variant,
                    head.weights_blake3,
                    metrics.features.variant,
                    metrics.features.weights_blake3
                ),
            ));
        }
        Ok(HeadRun {
            name: dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| dir.display().to_string()),
            dir: dir.to_path_buf(),
            metrics,
            history,
            head,
        })
    }
}

fn read_history(path: &Path) -> Result<Vec<HistoryRow>> {
    let bad = |reason: String| ReportError::BadInput {
        path: path.to_path_buf(),
        reason,
    };
    let mut reader = csv::Reader::from_path(path).map_err(|e| bad(e.to_string()))?;
    reader
        .deserialize()
        .map(|row| row.map_err(|e| bad(e.to_string())))
        .collect()
}

/// Every run under `dir`: each subfolder holding a `metrics.json` (hidden ones
/// skipped), or `dir` itself when it is one run. Sorted by folder name.
pub fn find_runs(dir: &Path) -> Result<Vec<HeadRun>> {
    if dir.join(METRICS_FILE).is_file() {
        return Ok(vec![HeadRun::read(dir)?]);
    }
    let mut folders: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io_error(dir))?
        .filter_map(|entry| entry.ok())
        .filter(|entry| !entry.file_name().to_string_lossy().starts_with('.'))
        .map(|entry| entry.path())
        .filter(|path| path.join(METRICS_FILE).is_file())
        .collect();
    folders.sort();
    if folders.is_empty() {
        return Err(ReportError::NoRuns {
            dir: dir.to_path_buf(),
        });
    }
    folders.iter().map(|folder| HeadRun::read(folder)).collect()
}
