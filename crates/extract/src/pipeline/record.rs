use serde::Serialize;

/// What one `extract` run did, written as JSON next to the output.
#[derive(Debug, Clone, Serialize)]
pub struct RunRecord {
    pub tool_version: String,
    pub started_at: String,
    pub dataset: String,
    /// How the dataset was read: layout, label map (`classes[label]`), images per
    /// split and class, notes.
    pub dataset_scan: dataset::DatasetSummary,
    pub output_dir: String,
    pub shard: Option<String>,
    /// Files found under the class folders, usable or not.
    pub files_scanned: usize,
    /// Usable images in this run's selection (after de-duplication and sharding).
    pub images: usize,
    pub duplicates: usize,
    /// Images decoded and resized this run (zero on a full cache hit).
    pub decoded: usize,
    pub rejected: usize,
    pub rejects_file: String,
    /// Seconds of decode + resize work summed over worker threads.
    pub decode_seconds: f64,
    pub wall_seconds: f64,
    pub variants: Vec<VariantRecord>,
}

#[derive(Debug, Clone, Serialize)]
pub struct VariantRecord {
    pub variant: String,
    pub output: String,
    pub rows: usize,
    pub feature_dim: usize,
    pub input_size: u32,
    pub cached_hits: usize,
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
    /// cache (this one included); what extracting all rows once costs, even when
    /// this run was served from the cache.
    pub backbone_seconds_per_image: Option<f64>,
}
