//! The feature folder's metadata: each feature file's (or part folder's) footer,
//! indexed by the backbone that made it.

use std::path::{Path, PathBuf};

use contract::{FeatureDataset, FeatureMeta};

use crate::error::{io_error, Result};

/// One feature dataset: where, its metadata (the `effprobe.extra.*` facts through
/// [`FeatureMeta`]'s getters; absent ones fall back to [`crate::known`]), rows.
#[derive(Clone, Debug)]
pub struct FeatureInfo {
    pub path: PathBuf,
    pub meta: FeatureMeta,
    pub rows: usize,
}

/// Every feature dataset directly under a folder: `*.parquet` files and folders
/// of part files. Entries that are not feature files are listed in `skipped`.
#[derive(Clone, Debug, Default)]
pub struct FeatureIndex {
    pub datasets: Vec<FeatureInfo>,
    pub skipped: Vec<(PathBuf, String)>,
}

impl FeatureIndex {
    pub fn scan(dir: &Path) -> Result<Self> {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(io_error(dir))?
            .filter_map(|entry| entry.ok())
            .filter(|entry| !entry.file_name().to_string_lossy().starts_with('.'))
            .map(|entry| entry.path())
            .filter(|path| path.is_dir() || path.extension().is_some_and(|e| e == "parquet"))
            .collect();
        paths.sort();
        let mut index = FeatureIndex::default();
        for path in paths {
            match FeatureDataset::open(&path) {
                Ok(dataset) => index.datasets.push(FeatureInfo {
                    meta: dataset.meta().clone(),
                    rows: dataset.num_rows(),
                    path,
                }),
                // A folder of something else (another tool's output) is not an error.
                Err(error) => index.skipped.push((path, error.to_string())),
            }
        }
        Ok(index)
    }

    /// The features a head was trained on: same variant and weights.
    pub fn find(&self, variant: &str, weights_blake3: &str) -> Option<&FeatureInfo> {
        self.datasets
            .iter()
            .find(|d| d.meta.variant == variant && d.meta.weights.blake3 == weights_blake3)
    }
}
