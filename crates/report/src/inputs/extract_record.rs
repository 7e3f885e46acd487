//! The subset of extract's run record (`features/run.json`, written by
//! crates/extract/src/pipeline/record.rs) that the report uses.

use std::path::Path;

use serde::Deserialize;

use crate::error::{io_error, ReportError, Result};

pub const EXTRACT_RECORD_FILE: &str = "run.json";

#[derive(Clone, Debug, Deserialize)]
pub struct ExtractRecord {
    /// Usable images in the run's selection.
    pub images: usize,
    /// Images decoded and resized in that run (zero on a full cache hit).
    pub decoded: usize,
    /// Decode + resize work summed over worker threads (CPU seconds), shared by
    /// every variant of the run: each image is decoded once.
    pub decode_seconds: f64,
    pub wall_seconds: f64,
    pub variants: Vec<VariantRecord>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct VariantRecord {
    pub variant: String,
    pub rows: usize,
    /// Rows computed by the backbone in that run (the rest were cache hits).
    pub computed: usize,
    pub backbone_seconds: f64,
    pub batch_size: usize,
    pub device: String,
    pub precision: String,
    pub weights_blake3: String,
}

impl ExtractRecord {
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(io_error(path))?;
        serde_json::from_str(&text).map_err(|e| ReportError::BadInput {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })
    }

    /// The record of the backbone that made a run's features.
    pub fn variant(&self, variant: &str, weights_blake3: &str) -> Option<&VariantRecord> {
        self.variants
            .iter()
            .find(|v| v.variant == variant && v.weights_blake3 == weights_blake3)
    }
}
