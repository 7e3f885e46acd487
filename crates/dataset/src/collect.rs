//! What every way of reading a dataset hands to the final assembly: images
//! found with their class and (given) split, and the problems met on the way.

use std::path::PathBuf;

use contract::Split;
use rayon::prelude::*;

use crate::inspect::{inspect_bytes, Inspection};
use crate::report::{Layout, Problem, SplitsFrom};
use crate::source::ImageSource;

/// How class names are ordered into labels 0..K-1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClassOrder {
    /// Sorted as text: folder names, as Keras `flow_from_directory` and
    /// torchvision `ImageFolder` do.
    Text,
    /// Sorted as numbers when every label is an integer (labels 0..K-1 keep their
    /// value), else as text: manifests and WebDataset `cls`.
    NumbersFirst,
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

/// Reads and inspects every candidate on all cores.
pub fn inspect_files(candidates: Vec<Candidate>, full_decode: bool) -> (Vec<Found>, Vec<Problem>) {
    let outcomes: Vec<Result<Found, Problem>> = candidates
        .into_par_iter()
        .map(|candidate| {
            let inspected = std::fs::read(&candidate.absolute)
                .map_err(|e| format!("cannot read: {e}"))
                .and_then(|bytes| inspect_bytes(&bytes, full_decode));
            match inspected {
                Ok(inspection) => Ok(Found {
                    path: candidate.path,
                    source: ImageSource::File(candidate.absolute),
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
        .collect();
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
pub fn order_classes(mut names: Vec<String>, order: ClassOrder) -> Vec<String> {
    names.sort();
    names.dedup();
    if order == ClassOrder::NumbersFirst && names.iter().all(|n| integer_label(n).is_some()) {
        names.sort_by_key(|n| integer_label(n));
    }
    names
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
