//! `--label-from-name REGEX`: labels in the file names, as in `train/cat.0.jpg`,
//! `train/dog.0.jpg` (Kaggle's dogs-vs-cats). The first capture group of the
//! pattern, searched in each file's name, is its label; images whose name it does
//! not match are left out, counted and listed. Splits come from split folders
//! (`train/`, `val/`, `test/`) when the labelled images sit in two or more of
//! them, else from the content hash.

use std::collections::BTreeSet;
use std::path::Path;

use contract::Split;
/// The pattern type, so that callers need no dependency of their own.
pub use regex::Regex;

use crate::collect::{inspect_files, list_some, Candidate, ClassOrder, Collected};
use crate::folders::LayoutChoice;
use crate::inspect::has_image_extension;
use crate::names::{split_name, SplitName};
use crate::report::{Layout, Problem, SplitsFrom};
use crate::tree::FileTree;
use crate::walk::relative_path;
use crate::DatasetError;

/// The label `pattern` finds in a file name: its first capture group, when the
/// pattern matches and the group took part.
pub fn label_in_name(pattern: &Regex, name: &str) -> Option<String> {
    pattern
        .captures(name)?
        .get(1)
        .map(|m| m.as_str().to_string())
        .filter(|label| !label.trim().is_empty())
}

/// Checks a `--label-from-name` pattern: it must parse and have a capture group.
pub fn parse_pattern(text: &str) -> Result<Regex, String> {
    let pattern = Regex::new(text).map_err(|e| format!("not a regular expression: {e}"))?;
    if pattern.captures_len() < 2 {
        return Err(format!(
            "{text:?} has no capture group: put the label in parentheses, e.g. '^([a-z]+)\\.\\d+\\.jpg$'"
        ));
    }
    Ok(pattern)
}

pub fn collect(
    tree: &FileTree,
    root: &Path,
    pattern: &Regex,
    choice: LayoutChoice,
    full_decode: bool,
) -> Result<Collected, DatasetError> {
    let unreadable = |source| DatasetError::Unreadable {
        path: root.to_path_buf(),
        source,
    };
    let (folders, _) = tree.top_level(root).map_err(unreadable)?;
    let mut split_of_folder = std::collections::BTreeMap::new();
    for (name, _) in &folders {
        match split_name(name) {
            SplitName::Split(split) => {
                split_of_folder.insert(name.clone(), split);
            }
            SplitName::Ambiguous if choice != LayoutChoice::Flat => {
                return Err(DatasetError::AmbiguousSplitName {
                    path: root.to_path_buf(),
                    name: name.clone(),
                })
            }
            _ => {}
        }
    }

    let mut problems = Vec::new();
    let mut unmatched: Vec<String> = Vec::new();
    let mut ignored: Vec<String> = Vec::new();
    let mut candidates = Vec::new();
    for entry in tree.visible_files(root) {
        let path = match entry {
            Ok(path) => path,
            Err(unreadable) => {
                problems.push(Problem {
                    path: relative_path(root, &unreadable.path),
                    reason: unreadable.reason(|p| relative_path(root, p)),
                });
                continue;
            }
        };
        let relative = relative_path(root, &path);
        let name = relative.rsplit('/').next().unwrap_or(&relative).to_string();
        let Some(label) = label_in_name(pattern, &name) else {
            if has_image_extension(&name) {
                problems.push(Problem {
                    path: relative.clone(),
                    reason: format!(
                        "its name does not match --label-from-name {:?}: no label",
                        pattern.as_str()
                    ),
                });
                unmatched.push(relative);
            } else {
                ignored.push(relative);
            }
            continue;
        };
        let top = relative.split('/').next().unwrap_or_default();
        let split = (relative.contains('/'))
            .then(|| split_of_folder.get(top).copied())
            .flatten();
        candidates.push(Candidate {
            path: relative,
            absolute: path,
            class: label,
            split,
        });
    }

    let mut notes = vec![format!(
        "labels from the file names: the first group of {:?}",
        pattern.as_str()
    )];
    if !unmatched.is_empty() {
        notes.push(format!(
            "{} image file(s) matched no label: left out (e.g. {})",
            unmatched.len(),
            list_some(&unmatched, 3)
        ));
    }
    if !ignored.is_empty() {
        notes.push(format!(
            "ignored {} other file(s): {}",
            ignored.len(),
            list_some(&ignored, 4)
        ));
    }
    let splits_from = splits_from(root, &mut candidates, choice, &mut notes)?;
    let (found, inspect_problems) = inspect_files(tree, candidates, full_decode);
    problems.extend(inspect_problems);
    Ok(Collected {
        root: root.to_path_buf(),
        layout: Layout::FileNames,
        splits_from,
        class_order: ClassOrder::NumbersFirst,
        found,
        problems,
        notes,
    })
}

/// Split folders decide when the labelled images are all in them and in two or
/// more; images only under `train/` (or in no split folder) are split by content
/// hash; some in split folders and some outside is a question.
fn splits_from(
    root: &Path,
    candidates: &mut [Candidate],
    choice: LayoutChoice,
    notes: &mut Vec<String>,
) -> Result<SplitsFrom, DatasetError> {
    let given: BTreeSet<Split> = candidates.iter().filter_map(|c| c.split).collect();
    let outside: Vec<String> = candidates
        .iter()
        .filter(|c| c.split.is_none())
        .map(|c| c.path.clone())
        .collect();
    let hash = |candidates: &mut [Candidate]| {
        for candidate in candidates.iter_mut() {
            candidate.split = None;
        }
        SplitsFrom::Hash
    };
    match choice {
        LayoutChoice::Flat => Ok(hash(candidates)),
        LayoutChoice::Splits if !outside.is_empty() => Err(DatasetError::NotSplitFolders {
            path: root.to_path_buf(),
            folders: list_some(&outside, 3),
        }),
        LayoutChoice::Splits => Ok(SplitsFrom::Folders),
        LayoutChoice::Auto => {
            if !given.is_empty() && !outside.is_empty() {
                let inside: Vec<String> = candidates
                    .iter()
                    .filter(|c| c.split.is_some())
                    .map(|c| c.path.clone())
                    .collect();
                return Err(DatasetError::MixedNameSplits {
                    path: root.to_path_buf(),
                    inside: list_some(&inside, 2),
                    outside: list_some(&outside, 2),
                });
            }
            if given.len() >= 2 || given.iter().any(|s| *s != Split::Train) {
                return Ok(SplitsFrom::Folders);
            }
            if given.contains(&Split::Train) {
                notes.push(
                    "every labelled image is in the train split folder: split by content hash (--layout splits keeps train only)"
                        .into(),
                );
            }
            Ok(hash(candidates))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_group_is_the_label() {
        let pattern = parse_pattern(r"^([a-z]+)\.\d+\.jpg$").unwrap();
        assert_eq!(label_in_name(&pattern, "cat.0.jpg").as_deref(), Some("cat"));
        assert_eq!(label_in_name(&pattern, "1.jpg"), None);
        let optional = parse_pattern(r"^(?:([a-z]+)_)?\d+").unwrap();
        assert_eq!(label_in_name(&optional, "17.png"), None);
        assert!(parse_pattern(r"^[a-z]+\.")
            .unwrap_err()
            .contains("no capture group"));
        assert!(parse_pattern(r"(")
            .unwrap_err()
            .contains("not a regular expression"));
    }
}
