use std::path::{Path, PathBuf};

use anyhow::Context;
use dataset::{scan, LayoutChoice, ScanOptions, ScanReport};

/// `--layout` values.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum LayoutArg {
    /// Decide from the folder names, and stop when they are ambiguous.
    Auto,
    /// The top-level folders are the classes (split by content hash).
    Flat,
    /// The top-level folders are train/val/test folders holding class folders.
    Splits,
}

/// How to read a dataset: the flags `extract` and `extract scan` share.
#[derive(clap::Args, Debug)]
pub struct DatasetArgs {
    /// Labels (and optionally splits) from a CSV or Parquet file: a path column (`path`,
    /// `file_name` or `filename`; relative to the dataset, or the sample key for tar shards),
    /// a label column (`label` or `class`; names or integers) and an optional `split` column.
    #[arg(long, value_name = "FILE")]
    labels: Option<PathBuf>,
    /// How to read an image folder's top level: auto (from the folder names; ambiguous names
    /// stop the scan), flat (the folders are classes) or splits (train/val/test folders).
    #[arg(long, value_enum, default_value = "auto")]
    layout: LayoutArg,
    /// Hash-split datasets: keep the split assignments in this CSV (key,split,path) and add new
    /// images to it, so a growing dataset never moves an existing image. Created if absent.
    #[arg(long, value_name = "CSV")]
    splits: Option<PathBuf>,
}

impl DatasetArgs {
    /// Fails fast when `data` or `--labels` names nothing, before any slow setup.
    pub fn check(&self, data: &Path) -> anyhow::Result<()> {
        Ok(dataset::check_inputs(data, self.labels.as_deref())?)
    }

    /// Scans `data` and, with `--splits`, records its assignments.
    pub fn scan(&self, data: &Path, full_decode: bool) -> anyhow::Result<ScanReport> {
        let mut options = ScanOptions {
            full_decode,
            layout: match self.layout {
                LayoutArg::Auto => LayoutChoice::Auto,
                LayoutArg::Flat => LayoutChoice::Flat,
                LayoutArg::Splits => LayoutChoice::Splits,
            },
            labels: self.labels.clone(),
            ..Default::default()
        };
        if let Some(path) = self.splits.as_ref().filter(|p| p.exists()) {
            options.previous_splits = dataset::splits_file::read(path)?;
        }
        let report = scan(data, &options)?;
        if let Some(path) = &self.splits {
            dataset::splits_file::write(path, &report)
                .with_context(|| format!("writing the split assignments to {}", path.display()))?;
        }
        Ok(report)
    }
}
