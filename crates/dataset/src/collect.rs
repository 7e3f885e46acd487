//! What every way of reading a dataset hands to the final assembly: images
//! found with their class and (given) split, and the problems met on the way.

use std::path::{Path, PathBuf};

use contract::Split;
use rayon::prelude::*;

use crate::inspect::{inspect_bytes, Inspection};
use crate::names::{split_of_file, SplitName};
use crate::report::{Layout, Problem, SplitsFrom};
use crate::source::ImageSource;
use crate::tree::FileTree;
use crate::DatasetError;

/// How class names are ordered into labels 0..K-1.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClassOrder {
    /// Sorted as text: folder names, as Keras `flow_from_directory` and
    /// torchvision `ImageFolder` do.
    Text,
    /// Sorted as numbers when every label is an integer (labels 0..K-1 keep their
    /// value), else as text: manifests and WebDataset `cls`.
    NumbersFirst,
    /// In this order (Hugging Face `ClassLabel` names); classes without an image
    /// are dropped.
    Given(Vec<String>),
}

/// A usable image before deduplication and label assignment.
#[derive(Clone, Debug)]
pub struct Found {
    pub path: String,
    pub source: ImageSource,
    pub class: String,
    pub split: Option<Split>,
    pub inspection: Inspection,
}

/// A file to inspect: where it is, what it is said to be.
pub struct Candidate {
    pub path: String,
    pub absolute: PathBuf,
    pub class: String,
    pub split: Option<Split>,
}

pub struct Collected {
    pub root: PathBuf,
    pub layout: Layout,
    pub splits_from: SplitsFrom,
    pub class_order: ClassOrder,
    pub found: Vec<Found>,
    pub problems: Vec<Problem>,
    pub notes: Vec<String>,
}

/// Requests in flight while a scan reads objects one by one: each mostly
/// waits on the network, so many more than there are cores.
const OBJECT_READS_IN_FLIGHT: usize = 32;

/// Reads and inspects every candidate on all cores (and, for objects, with
/// many requests in flight).
pub fn inspect_files(
    tree: &FileTree,
    candidates: Vec<Candidate>,
    full_decode: bool,
) -> (Vec<Found>, Vec<Problem>) {
    let inspect_all = || -> Vec<Result<Found, Problem>> {
        candidates
            .into_par_iter()
            .map(|candidate| {
                let inspected = tree
                    .read(&candidate.absolute)
                    .and_then(|bytes| Ok((bytes, tree.source(&candidate.absolute)?)))
                    .map_err(|e| format!("cannot read: {e}"))
                    .and_then(|(bytes, source)| {
                        inspect_bytes(&bytes, full_decode).map(|inspection| (inspection, source))
                    });
                match inspected {
                    Ok((inspection, source)) => Ok(Found {
                        path: candidate.path,
                        source,
                        class: candidate.class,
                        split: candidate.split,
                        inspection,
                    }),
                    Err(reason) => Err(Problem {
                        path: candidate.path,
                        reason,
                    }),
                }
            })
            .collect()
    };
    let requests = match tree {
        FileTree::Local => None,
        FileTree::Objects(_) => rayon::ThreadPoolBuilder::new()
            .num_threads(OBJECT_READS_IN_FLIGHT)
            .thread_name(|i| format!("effprobe-s3-scan-{i}"))
            .build()
            .ok(),
    };
    let outcomes = match requests {
        Some(pool) => pool.install(inspect_all),
        None => inspect_all(),
    };
    let mut found = Vec::new();
    let mut problems = Vec::new();
    for outcome in outcomes {
        match outcome {
            Ok(image) => found.push(image),
            Err(problem) => problems.push(problem),
        }
    }
    (found, problems)
}

/// The integer a label names, if it is one (`" 3 "` → 3).
pub fn integer_label(label: &str) -> Option<i64> {
    label.trim().parse::<i64>().ok()
}

/// `names` in label order.
pub fn order_classes(mut names: Vec<String>, order: &ClassOrder) -> Vec<String> {
    names.sort();
    names.dedup();
    match order {
        ClassOrder::NumbersFirst if names.iter().all(|n| integer_label(n).is_some()) => {
            names.sort_by_key(|n| integer_label(n));
        }
        ClassOrder::Given(given) => {
            let present: std::collections::BTreeSet<String> = names.into_iter().collect();
            names = given
                .iter()
                .filter(|n| present.contains(*n))
                .cloned()
                .collect();
        }
        _ => {}
    }
    names
}

/// The split each file's path names (`train-00000.tar`, `val/00001.tar`,
/// `data/test-00000-of-00001.parquet`): all files name one or none does (then
/// the content hash splits). `shown` are the paths relative to `root`.
pub fn splits_from_file_names(
    root: &Path,
    shown: &[String],
) -> Result<(SplitsFrom, Vec<Option<Split>>), DatasetError> {
    let named: Vec<SplitName> = shown.iter().map(|s| split_of_file(s)).collect();
    if let Some(i) = named.iter().position(|s| *s == SplitName::Ambiguous) {
        return Err(DatasetError::AmbiguousSplitName {
            path: root.to_path_buf(),
            name: shown[i].clone(),
        });
    }
    let splits: Vec<Option<Split>> = named
        .iter()
        .map(|s| match s {
            SplitName::Split(split) => Some(*split),
            _ => None,
        })
        .collect();
    let with: Vec<String> = (0..shown.len())
        .filter(|&i| splits[i].is_some())
        .map(|i| shown[i].clone())
        .collect();
    let without: Vec<String> = (0..shown.len())
        .filter(|&i| splits[i].is_none())
        .map(|i| shown[i].clone())
        .collect();
    match (with.is_empty(), without.is_empty()) {
        (false, false) => Err(DatasetError::MixedShardSplits {
            path: root.to_path_buf(),
            named: list_some(&with, 3),
            unnamed: list_some(&without, 3),
        }),
        (false, true) => Ok((SplitsFrom::ShardNames, splits)),
        _ => Ok((SplitsFrom::Hash, splits)),
    }
}

/// "a, b, c and 4 more".
pub fn list_some(items: &[String], limit: usize) -> String {
    let shown: Vec<&str> = items.iter().take(limit).map(String::as_str).collect();
    if items.len() > limit {
        format!("{} and {} more", shown.join(", "), items.len() - limit)
    } else {
        shown.join(", ")
    }
}
