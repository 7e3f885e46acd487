//! What a scan found: the images with their labels and splits, the files left
//! out and why, and how the input was read, as a table people check before the
//! long work starts and as JSON for scripts and run records.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::PathBuf;

use contract::Split;
use serde_json::{json, Value};

use crate::collect::list_some;
use crate::source::ImageSource;
use crate::split::MIN_IMAGES_FOR_EVALUATION;

pub use contract::run_record::{DatasetSummary, Layout, SplitsFrom};

/// Up to this many classes the scan table has a column per class; more get a
/// row each.
pub const MAX_COLUMN_CLASSES: usize = 6;

/// Problems and duplicates the scan table lists before it counts the rest (all
/// of them are in `--json`, the problems in extract's `rejects.csv` too).
pub const MAX_LISTED: usize = 20;

fn more_line(out: &mut String, total: usize, listed_in: &str) {
    if total > MAX_LISTED {
        let _ = writeln!(
            out,
            "  ... and {} more: every one is in {listed_in}",
            total - MAX_LISTED
        );
    }
}

/// One usable image.
#[derive(Clone, Debug, PartialEq)]
pub struct ImageEntry {
    /// Relative to the dataset root, `/`-separated; a tar member as
    /// `SHARD.tar/MEMBER`.
    pub path: String,
    pub key: String,
    pub label: i32,
    pub class: String,
    pub split: Split,
    pub format: String,
    pub width: u32,
    pub height: u32,
    pub bytes: u64,
    pub source: ImageSource,
}

/// Why a file, folder, manifest line or tar member was left out.
#[derive(Clone, Debug, PartialEq)]
pub struct Problem {
    pub path: String,
    pub reason: String,
}

#[derive(Clone, Debug)]
pub struct ScanReport {
    pub root: PathBuf,
    pub layout: Layout,
    pub splits_from: SplitsFrom,
    pub classes: Vec<String>,
    pub images: Vec<ImageEntry>,
    /// Files that are not usable images, and entries that could not be read.
    pub problems: Vec<Problem>,
    /// Exact duplicates (same bytes) that were counted once: (duplicate, kept).
    pub duplicates: Vec<(String, String)>,
    /// How the input was read, in sentences: which folder is which split, what
    /// was descended into, what was ignored.
    pub notes: Vec<String>,
}

impl ScanReport {
    /// Image counts per split and class, in class order.
    pub fn counts(&self) -> BTreeMap<Split, Vec<usize>> {
        let mut counts: BTreeMap<Split, Vec<usize>> = BTreeMap::new();
        for image in &self.images {
            let row = counts
                .entry(image.split)
                .or_insert_with(|| vec![0; self.classes.len()]);
            row[image.label as usize] += 1;
        }
        counts
    }

    /// Every file found, usable or not.
    pub fn files_seen(&self) -> usize {
        self.images.len() + self.duplicates.len() + self.problems.len()
    }

    pub fn layout_description(&self) -> String {
        let splits = match self.splits_from {
            SplitsFrom::Folders => "splits as given by the folders",
            SplitsFrom::ManifestColumn => "splits from its split column",
            SplitsFrom::ShardNames if self.layout == Layout::HfParquet => {
                "splits from the file names"
            }
            SplitsFrom::ShardNames => "splits from the shard names",
            SplitsFrom::Hash if crate::split::balanced_rule(self.classes.len()) => {
                "split by content hash (8:1:1, val/test balanced per class)"
            }
            SplitsFrom::Hash => {
                "split by content hash (stratified: about 10% of each class to val and to test, at least one each from 3 images)"
            }
        };
        match self.layout {
            Layout::Splits => splits.to_string(),
            Layout::Flat => format!("flat class folders, {splits}"),
            Layout::Manifest => format!("label manifest, {splits}"),
            Layout::Webdataset => format!("WebDataset tar shards, {splits}"),
            Layout::FileNames => format!("labels from the file names, {splits}"),
            Layout::HfParquet => format!("Hugging Face Parquet files, {splits}"),
        }
    }

    /// What the splits mean for training, and why val/test are as large as they
    /// are: said before any work so that a surprise costs nothing.
    pub fn split_notes(&self) -> Vec<String> {
        let counts = self.counts();
        let total_in = |split| counts.get(&split).map_or(0, |c| c.iter().sum::<usize>());
        let (train, val, test) = (
            total_in(Split::Train),
            total_in(Split::Val),
            total_in(Split::Test),
        );
        let mut notes = Vec::new();
        if train > 0 && val == 0 && test > 0 {
            notes.push(
                "no val split: head-train selects on a hash-chosen 10% holdout of train (per class) and evaluates on test".into(),
            );
        } else if train > 0 && val > 0 && test == 0 {
            notes.push(
                "no test split: head-train selects on a hash-chosen 10% holdout of train (per class) and evaluates on val".into(),
            );
        } else if train > 0 && val == 0 && test == 0 {
            notes.push(
                "only a train split: head-train needs val or test; give the folders split names, or point --data at the class folders to split them by content hash".into(),
            );
        }
        if self.splits_from == SplitsFrom::Hash && !self.classes.is_empty() {
            let sizes = self.class_sizes();
            if crate::split::balanced_rule(self.classes.len()) {
                notes.extend(self.balanced_notes(&sizes, &counts));
            } else {
                let small: Vec<String> = sizes
                    .iter()
                    .enumerate()
                    .filter(|(_, &n)| n < MIN_IMAGES_FOR_EVALUATION)
                    .map(|(c, n)| format!("{:?} ({n})", self.classes[c]))
                    .collect();
                if !small.is_empty() {
                    notes.push(format!(
                        "{} class(es) with fewer than {MIN_IMAGES_FOR_EVALUATION} images are train-only (val and test lack them): {}",
                        small.len(),
                        list_some(&small, 8)
                    ));
                }
            }
        }
        notes
    }

    /// Images per class, in class order.
    pub fn class_sizes(&self) -> Vec<usize> {
        let mut sizes = vec![0usize; self.classes.len()];
        for image in &self.images {
            sizes[image.label as usize] += 1;
        }
        sizes
    }

    /// The two-class rule's notes: why val and test are as large as they are.
    fn balanced_notes(&self, sizes: &[usize], counts: &BTreeMap<Split, Vec<usize>>) -> Vec<String> {
        let mut notes = Vec::new();
        let (smallest_class, smallest) = sizes
            .iter()
            .enumerate()
            .min_by_key(|(_, n)| **n)
            .map(|(c, n)| (c, *n))
            .unwrap_or((0, 0));
        let largest = sizes.iter().copied().max().unwrap_or(0);
        let per_class_val = counts.get(&Split::Val).map_or(0, |c| c[smallest_class]);
        let per_class_test = counts.get(&Split::Test).map_or(0, |c| c[smallest_class]);
        if smallest < MIN_IMAGES_FOR_EVALUATION {
            notes.push(format!(
                "class {:?} has {smallest} image(s): val and test need {MIN_IMAGES_FOR_EVALUATION} per class, so everything is train",
                self.classes[smallest_class]
            ));
        } else if largest >= 2 * smallest {
            notes.push(format!(
                "imbalanced classes: val and test get {per_class_val} and {per_class_test} images per class, set by the smallest class ({:?}, {smallest} images); the other classes' surplus goes to train",
                self.classes[smallest_class]
            ));
        }
        notes
    }

    /// The scan table: layout, label map, counts per split and class, formats,
    /// duplicates, problems. Up to [`MAX_COLUMN_CLASSES`] classes are columns;
    /// more are rows, one per class, with a summary line.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let many = self.classes.len() > MAX_COLUMN_CLASSES;
        let _ = writeln!(out, "dataset  {}", self.root.display());
        let _ = writeln!(out, "layout   {}", self.layout_description());
        for note in &self.notes {
            let _ = writeln!(out, "         {note}");
        }
        if many {
            let _ = writeln!(
                out,
                "labels   {} classes, numbered in the table below",
                self.classes.len()
            );
        } else {
            let _ = writeln!(out, "labels   {}", self.label_map());
        }
        for note in self.split_notes() {
            let _ = writeln!(out, "note     {note}");
        }
        out.push('\n');
        if many {
            out.push_str(&self.render_class_rows());
            let _ = writeln!(out, "{}", self.class_size_summary());
        } else {
            out.push_str(&self.render_counts());
        }
        out.push('\n');

        let formats = self.images.iter().fold(BTreeMap::new(), |mut acc, image| {
            *acc.entry(image.format.as_str()).or_insert(0usize) += 1;
            acc
        });
        let formats: Vec<String> = formats.iter().map(|(f, n)| format!("{f} {n}")).collect();
        let _ = writeln!(out, "formats  {}", formats.join(", "));
        if self.duplicates.is_empty() {
            let _ = writeln!(out, "duplicates  none");
        } else {
            let _ = writeln!(out, "duplicates  {} (counted once):", self.duplicates.len());
            for (duplicate, kept) in self.duplicates.iter().take(MAX_LISTED) {
                let _ = writeln!(out, "  {duplicate}  same bytes as  {kept}");
            }
            more_line(&mut out, self.duplicates.len(), "`extract scan --json`");
        }
        if self.problems.is_empty() {
            let _ = writeln!(out, "problems    none");
        } else {
            let _ = writeln!(out, "problems    {} left out:", self.problems.len());
            for problem in self.problems.iter().take(MAX_LISTED) {
                let _ = writeln!(out, "  {}: {}", problem.path, problem.reason);
            }
            more_line(
                &mut out,
                self.problems.len(),
                "`extract scan --json` and in extract's rejects.csv",
            );
        }
        out
    }

    /// `ants = 0, bees = 1`.
    pub fn label_map(&self) -> String {
        self.classes
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c} = {i}"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// `classes 120; images per class min 2 / median 9.5 / max 17`.
    pub fn class_size_summary(&self) -> String {
        let mut sizes = self.class_sizes();
        sizes.sort_unstable();
        let median = match sizes.len() {
            0 => 0.0,
            n if n % 2 == 1 => sizes[n / 2] as f64,
            n => (sizes[n / 2 - 1] + sizes[n / 2]) as f64 / 2.0,
        };
        format!(
            "classes  {}; images per class min {} / median {median} / max {}",
            sizes.len(),
            sizes.first().copied().unwrap_or(0),
            sizes.last().copied().unwrap_or(0)
        )
    }

    /// Splits as columns, one row per class: the table for many classes.
    fn render_class_rows(&self) -> String {
        let mut out = String::new();
        let counts = self.counts();
        let width = self
            .classes
            .iter()
            .map(|c| c.chars().count())
            .max()
            .unwrap_or(0)
            .max(5);
        let label_width = self.classes.len().to_string().len().max(5);
        let _ = write!(out, "{:<width$}  {:>label_width$}", "class", "label");
        for split in counts.keys() {
            let _ = write!(out, "{:>7}", split.as_str());
        }
        let _ = writeln!(out, "{:>7}", "total");
        let mut totals = vec![0usize; counts.len()];
        for (label, class) in self.classes.iter().enumerate() {
            let _ = write!(out, "{class:<width$}  {label:>label_width$}");
            let mut row = 0;
            for (column, per_class) in counts.values().enumerate() {
                let n = per_class[label];
                totals[column] += n;
                row += n;
                let _ = write!(out, "{n:>7}");
            }
            let _ = writeln!(out, "{row:>7}");
        }
        let _ = write!(out, "{:<width$}  {:>label_width$}", "total", "");
        for total in &totals {
            let _ = write!(out, "{total:>7}");
        }
        let _ = writeln!(out, "{:>7}", totals.iter().sum::<usize>());
        out
    }

    fn render_counts(&self) -> String {
        let mut out = String::new();
        let width = self
            .classes
            .iter()
            .map(|c| c.chars().count())
            .max()
            .unwrap_or(0)
            .max(5)
            + 2;
        let _ = write!(out, "{:<8}", "split");
        for class in &self.classes {
            let _ = write!(out, "{class:>width$}");
        }
        let _ = writeln!(out, "{:>width$}", "total");
        let mut totals = vec![0usize; self.classes.len()];
        for (split, counts) in self.counts() {
            let _ = write!(out, "{:<8}", split.as_str());
            for (i, count) in counts.iter().enumerate() {
                totals[i] += count;
                let _ = write!(out, "{count:>width$}");
            }
            let _ = writeln!(out, "{:>width$}", counts.iter().sum::<usize>());
        }
        let _ = write!(out, "{:<8}", "total");
        for total in &totals {
            let _ = write!(out, "{total:>width$}");
        }
        let _ = writeln!(out, "{:>width$}", totals.iter().sum::<usize>());
        out
    }

    /// What a run record keeps of the scan: enough to know afterwards which
    /// label meant what and how many images each split had.
    pub fn summary(&self) -> DatasetSummary {
        DatasetSummary {
            root: self.root.display().to_string(),
            layout: self.layout,
            splits_from: self.splits_from,
            description: self.layout_description(),
            classes: self.classes.clone(),
            counts: self.named_counts(),
            images: self.images.len(),
            duplicates: self.duplicates.len(),
            problems: self.problems.len(),
            notes: self
                .notes
                .iter()
                .cloned()
                .chain(self.split_notes())
                .collect(),
        }
    }

    fn named_counts(&self) -> BTreeMap<String, BTreeMap<String, usize>> {
        self.counts()
            .into_iter()
            .map(|(split, counts)| {
                (
                    split.to_string(),
                    self.classes.iter().cloned().zip(counts).collect(),
                )
            })
            .collect()
    }

    /// The whole report (every image with key, label, split, size).
    pub fn to_json(&self) -> Value {
        json!({
            "root": self.root.display().to_string(),
            "layout": self.layout,
            "splits_from": self.splits_from,
            "notes": self.notes.iter().cloned().chain(self.split_notes()).collect::<Vec<_>>(),
            "classes": self.classes,
            "counts": self.named_counts(),
            "images": self.images.iter().map(|i| json!({
                "path": i.path, "key": i.key, "label": i.label, "class": i.class, "split": i.split.as_str(),
                "format": i.format, "width": i.width, "height": i.height, "bytes": i.bytes,
            })).collect::<Vec<_>>(),
            "duplicates": self.duplicates.iter().map(|(d, k)| json!({"path": d, "same_as": k})).collect::<Vec<_>>(),
            "problems": self.problems.iter().map(|p| json!({"path": p.path, "reason": p.reason})).collect::<Vec<_>>(),
        })
    }
}
