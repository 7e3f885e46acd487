use std::path::{Path, PathBuf};

use anyhow::Context;
use dataset::file_names::Regex;
use dataset::{scan, ColumnNames, LayoutChoice, ScanOptions, ScanReport};

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
    /// Labels (and optionally splits) from a CSV or Parquet file: a path column (relative to
    /// the dataset; an id without extension names the one image with that stem in any
    /// subfolder; the sample key for tar shards), a label column (names or integers) and an
    /// optional split column. Columns go by their usual names (path, file_name, filename, file,
    /// image, image_id, id, img, filepath; label, class, category, target, breed, species,
    /// labels; split) or --path-column, --label-column, --split-column. A local file or an
    /// object (s3://BUCKET/KEY).
    #[arg(long, value_name = "FILE")]
    labels: Option<PathBuf>,
    /// The column that names each image in a --labels manifest, or holds it (a struct of bytes
    /// and path) in Hugging Face Parquet files. Default: the one column with a usual name
    /// (several stop the scan with a question).
    #[arg(long, value_name = "NAME")]
    path_column: Option<String>,
    /// The label column of a --labels manifest or of Hugging Face Parquet files. Default: the
    /// one column with a usual name (or, in Parquet, a ClassLabel column).
    #[arg(long, value_name = "NAME")]
    label_column: Option<String>,
    /// The split column (train, val, test) of a --labels manifest or of Parquet files.
    /// Default: a column named split; without one, splits come from folders or file names,
    /// else the content hash.
    #[arg(long, value_name = "NAME")]
    split_column: Option<String>,
    /// Labels from the file names: the first capture group of REGEX, searched in each file's
    /// name (`'^(cat|dog)\.\d+\.jpg$'` for train/cat.0.jpg). Images it does not match are
    /// left out and counted.
    #[arg(long, value_name = "REGEX", value_parser = dataset::file_names::parse_pattern)]
    label_from_name: Option<Regex>,
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
            columns: ColumnNames {
                path: self.path_column.clone(),
                label: self.label_column.clone(),
                split: self.split_column.clone(),
            },
            label_from_name: self.label_from_name.clone(),
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
