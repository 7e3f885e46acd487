//! `run.json`: what one `extract` run did (the dataset as scanned, counts, timings,
//! per backbone), beside its feature files; `report` reads the timings.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::records::{read_versioned_json, write_json, RecordError};

pub const RUN_RECORD_FILE: &str = "run.json";
/// Bumped on any change a reader of the previous `run.json` would misread; records
/// written before the version was recorded read as version 1.
pub const RUN_RECORD_SCHEMA_VERSION: u32 = 1;

/// How a dataset was read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Layout {
    /// `ROOT/SPLIT/CLASS/*`.
    Splits,
    /// `ROOT/CLASS/*`.
    Flat,
    /// A `--labels` manifest over the files under ROOT.
    Manifest,
    /// WebDataset tar shards.
    Webdataset,
    /// Image files whose labels are in their names (`--label-from-name`).
    FileNames,
    /// Parquet files with an image column, as Hugging Face `datasets` writes
    /// them and the hub serves them.
    HfParquet,
}

/// Where each image's split came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SplitsFrom {
    Folders,
    ManifestColumn,
    ShardNames,
    /// The content-hash rule.
    Hash,
}

/// The scan of the dataset, as a run record keeps it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DatasetSummary {
    pub root: String,
    pub layout: Layout,
    pub splits_from: SplitsFrom,
    pub description: String,
    /// Class names in label order: `classes[label]`.
    pub classes: Vec<String>,
    /// Images per split and class.
    pub counts: BTreeMap<String, BTreeMap<String, usize>>,
    pub images: usize,
    pub duplicates: usize,
    pub problems: usize,
    pub notes: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub schema_version: u32,
    pub tool_version: String,
    pub started_at: String,
    pub dataset: String,
    /// How the dataset was read: layout, label map, images per split and class,
    /// notes. Absent in records written before it was recorded.
    #[serde(default)]
    pub dataset_scan: Option<DatasetSummary>,
    pub output_dir: String,
    pub shard: Option<String>,
    /// Files found, usable or not.
    pub files_scanned: usize,
    /// Usable images in this run's selection (after de-duplication and sharding).
    pub images: usize,
    pub duplicates: usize,
    /// Images decoded and resized this run (zero on a full cache hit).
    pub decoded: usize,
    pub rejected: usize,
    pub rejects_file: String,
    /// Seconds of decode + resize work summed over worker threads, shared by every
    /// variant of the run: each image is decoded once.
    pub decode_seconds: f64,
    pub wall_seconds: f64,
    /// The process's peak resident memory (Linux `VmHWM`), null elsewhere.
    #[serde(default)]
    pub peak_rss_bytes: Option<u64>,
    pub variants: Vec<VariantRecord>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VariantRecord {
    pub variant: String,
    pub output: String,
    pub rows: usize,
    pub feature_dim: usize,
    pub input_size: u32,
    pub cached_hits: usize,
    /// Rows computed by the backbone in this run (the rest were cache hits).
    pub computed: usize,
    pub backbone_seconds: f64,
    /// Images through the backbone per second of backbone time.
    pub images_per_second: f64,
    pub batch_size: usize,
    pub device: String,
    pub precision: String,
    pub weights_source: String,
    pub weights_blake3: String,
    pub cache_dir: String,
    /// Mean backbone seconds per image over every run that computed rows of this
    /// cache (this one included): what extracting all rows once costs, even when
    /// this run was served from the cache.
    pub backbone_seconds_per_image: Option<f64>,
    /// `extract --tune-top N`: the activation cache beside the features.
    #[serde(default)]
    pub activations: Option<ActivationRecord>,
}

/// Where a variant's cached activations are and what they cost on disk.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ActivationRecord {
    pub dir: String,
    pub cut: crate::activations::CutPoint,
    pub dtype: String,
    /// Stored bytes per image (`C·H·W` float16 values).
    pub bytes_per_image: usize,
    pub rows: usize,
}

impl RunRecord {
    pub fn read(path: &Path) -> Result<Self, RecordError> {
        read_versioned_json(path, RUN_RECORD_FILE, RUN_RECORD_SCHEMA_VERSION, Some(1))
    }

    /// Writes it atomically.
    pub fn write(&self, path: &Path) -> Result<(), RecordError> {
        write_json(path, self)
    }

    /// The record of the backbone that made some features.
    pub fn variant(&self, variant: &str, weights_blake3: &str) -> Option<&VariantRecord> {
        self.variants
            .iter()
            .find(|v| v.variant == variant && v.weights_blake3 == weights_blake3)
    }
}
