use std::path::{Path, PathBuf};

use contract::history::{HistoryRow, HISTORY_FILE};
use contract::metrics::{HeadMetrics, METRICS_FILE};
use contract::predictions::{Predictions, PREDICTIONS_FILE};

use super::head_file::HeadFileMeta;
use crate::error::{io_error, ReportError, Result};

pub const HEAD_FILE: &str = contract::head_file::HEAD_FILE_NAME;

/// One head-train or tune-train output folder, read back (a tune-train run's
/// `tune.safetensors` is not read: `metrics.json` says what was tuned).
#[derive(Clone, Debug)]
pub struct HeadRun {
    /// The folder's name (`b0`, `b0-lbfgs`, ...).
    pub name: String,
    pub dir: PathBuf,
    pub metrics: HeadMetrics,
    pub history: Vec<HistoryRow>,
    pub head: HeadFileMeta,
    /// The evaluation split's per-image probabilities; absent in runs written
    /// before head-train recorded them (then no bootstrap or paired test).
    pub predictions: Option<Predictions>,
}

impl HeadRun {
    pub fn read(dir: &Path) -> Result<Self> {
        let metrics = HeadMetrics::read(&dir.join(METRICS_FILE))?;
        let history = contract::history::read(&dir.join(HISTORY_FILE))?;
        let bad = |path: &Path, reason: String| ReportError::BadInput {
            path: path.to_path_buf(),
            reason,
        };

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
        let predictions_path = dir.join(PREDICTIONS_FILE);
        let predictions = if predictions_path.is_file() {
            let predictions = Predictions::read(&predictions_path)?;
            let evaluated = metrics.evaluation().map_or(0, |e| e.rows);
            if predictions.rows.len() != evaluated
                || predictions.classes != metrics.features.classes
            {
                return Err(bad(
                    &predictions_path,
                    format!(
                        "{} rows of classes {:?}, but {METRICS_FILE} evaluates {evaluated} rows of {:?}",
                        predictions.rows.len(),
                        predictions.classes,
                        metrics.features.classes
                    ),
                ));
            }
            Some(predictions)
        } else {
            None
        };
        Ok(HeadRun {
            name: dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| dir.display().to_string()),
            dir: dir.to_path_buf(),
            metrics,
            history,
            head,
            predictions,
        })
    }
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
