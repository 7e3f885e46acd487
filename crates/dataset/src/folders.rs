//! Image folders: `ROOT/SPLIT/CLASS/*` (splits as given) or `ROOT/CLASS/*`
//! (split by content hash), told apart by the folder names, and never guessed:
//! when the top-level folders would be taken as classes but look like splits or
//! containers, the scan stops and says how to state the layout.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use contract::Split;

use crate::collect::{inspect_files, list_some, Candidate, ClassOrder, Collected};
use crate::names::{is_container, mentions_split, split_name, SplitName};
use crate::report::{Layout, Problem, SplitsFrom};
use crate::tree::FileTree;
use crate::walk::relative_path;
use crate::DatasetError;

/// `--layout`: how to read the top-level folders of an image folder dataset.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LayoutChoice {
    /// Decide from the folder names, and stop when they are ambiguous.
    #[default]
    Auto,
    /// The top-level folders are the classes.
    Flat,
    /// The top-level folders are splits holding class folders.
    Splits,
}

impl std::str::FromStr for LayoutChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(LayoutChoice::Auto),
            "flat" => Ok(LayoutChoice::Flat),
            "splits" => Ok(LayoutChoice::Splits),
            other => Err(format!(
                "unknown layout {other:?} (expected auto, flat or splits)"
            )),
        }
    }
}

fn unreadable(path: &Path) -> impl Fn(std::io::Error) -> DatasetError + '_ {
    move |source| DatasetError::Unreadable {
        path: path.to_path_buf(),
        source,
    }
}

fn names(folders: &[(String, PathBuf)]) -> String {
    folders
        .iter()
        .map(|(name, _)| format!("{name}/"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn collect(
    tree: &FileTree,
    root: &Path,
    choice: LayoutChoice,
    full_decode: bool,
) -> Result<Collected, DatasetError> {
    let (folders, files) = tree.top_level(root).map_err(unreadable(root))?;
    let mut problems = Vec::new();
    let mut notes = Vec::new();
    loose_files(
        tree,
        root,
        &files,
        "the dataset root",
        &mut problems,
        &mut notes,
    );

    let mut splits = Vec::new();
    let mut others = Vec::new();
    for (name, path) in folders {
        match split_name(&name) {
            SplitName::Split(split) => splits.push((split, name, path)),
            SplitName::Ambiguous if choice != LayoutChoice::Flat => {
                return Err(DatasetError::AmbiguousSplitName {
                    path: root.to_path_buf(),
                    name,
                })
            }
            _ => others.push((name, path)),
        }
    }
    let layout = match choice {
        LayoutChoice::Flat => {
            others.extend(splits.drain(..).map(|(_, name, path)| (name, path)));
            others.sort();
            Layout::Flat
        }
        LayoutChoice::Splits if !others.is_empty() => {
            return Err(DatasetError::NotSplitFolders {
                path: root.to_path_buf(),
                folders: names(&others),
            })
        }
        LayoutChoice::Splits => Layout::Splits,
        LayoutChoice::Auto => match (splits.is_empty(), others.is_empty()) {
            (false, false) => {
                let split_folders: Vec<_> = splits
                    .iter()
                    .map(|(_, name, path)| (name.clone(), path.clone()))
                    .collect();
                return Err(DatasetError::MixedLayout {
                    path: root.to_path_buf(),
                    splits: names(&split_folders),
                    classes: names(&others),
                });
            }
            (false, true) => Layout::Splits,
            (true, false) => {
                check_classes_look_like_classes(tree, root, &others)?;
                Layout::Flat
            }
            (true, true) => {
                return Err(DatasetError::NoClasses {
                    path: root.to_path_buf(),
                })
            }
        },
    };
    if layout == Layout::Splits && splits.is_empty() {
        return Err(DatasetError::NoClasses {
            path: root.to_path_buf(),
        });
    }

    let mut candidates = Vec::new();
    if layout == Layout::Flat {
        for (class, dir) in &others {
            walk_class(tree, root, dir, class, None, &mut candidates, &mut problems);
        }
    } else {
        splits.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        let mut seen: BTreeMap<Split, String> = BTreeMap::new();
        for (split, name, dir) in splits {
            if let Some(first) = seen.insert(split, name.clone()) {
                return Err(DatasetError::DuplicateSplitFolder {
                    path: root.to_path_buf(),
                    first,
                    second: name,
                    split,
                });
            }
            let class_root = descend_into_twin(tree, &dir, split, &name, &mut notes)?;
            if name != split.as_str() && class_root == dir {
                notes.push(format!("{name}/ is the {split} split"));
            }
            let (classes, files) = tree
                .top_level(&class_root)
                .map_err(unreadable(&class_root))?;
            let shown = format!("{}/", relative_path(root, &class_root));
            loose_files(tree, root, &files, &shown, &mut problems, &mut notes);
            for (class, class_dir) in classes {
                walk_class(
                    tree,
                    root,
                    &class_dir,
                    &class,
                    Some(split),
                    &mut candidates,
                    &mut problems,
                );
            }
        }
    }
    let (found, inspect_problems) = inspect_files(tree, candidates, full_decode);
    problems.extend(inspect_problems);
    Ok(Collected {
        root: root.to_path_buf(),
        layout,
        splits_from: if layout == Layout::Flat {
            SplitsFrom::Hash
        } else {
            SplitsFrom::Folders
        },
        class_order: ClassOrder::Text,
        found,
        problems,
        notes,
    })
}

/// Kaggle's downloads nest a split folder in its twin (`training_set/training_set/
/// cats`): when a split folder holds nothing but one folder naming the same split,
/// the classes are in there.
fn descend_into_twin(
    tree: &FileTree,
    dir: &Path,
    split: Split,
    name: &str,
    notes: &mut Vec<String>,
) -> Result<PathBuf, DatasetError> {
    let (inner, files) = tree.top_level(dir).map_err(unreadable(dir))?;
    match inner.as_slice() {
        [(inner_name, inner_dir)]
            if files.is_empty() && split_name(inner_name) == SplitName::Split(split) =>
        {
            notes.push(format!(
                "{name}/{inner_name}/ is the {split} split (a split folder inside its twin)"
            ));
            Ok(inner_dir.clone())
        }
        _ => Ok(dir.to_path_buf()),
    }
}

/// The top-level folders are about to be taken as classes: refuse when they look
/// like something else.
fn check_classes_look_like_classes(
    tree: &FileTree,
    root: &Path,
    classes: &[(String, PathBuf)],
) -> Result<(), DatasetError> {
    let mut reasons = Vec::new();
    if classes.len() == 1 {
        reasons.push(format!(
            "there is only one folder ({}/), and one class cannot train a classifier",
            classes[0].0
        ));
    }
    let split_like: Vec<String> = classes
        .iter()
        .filter(|(name, _)| mentions_split(name))
        .map(|(name, _)| format!("{name}/"))
        .collect();
    if !split_like.is_empty() {
        reasons.push(format!(
            "{} look(s) like a split",
            list_some(&split_like, 4)
        ));
    }
    let containers: Vec<String> = classes
        .iter()
        .filter(|(name, _)| is_container(name))
        .map(|(name, _)| format!("{name}/"))
        .collect();
    if !containers.is_empty() {
        reasons.push(format!(
            "{} usually hold(s) a dataset, not a class",
            list_some(&containers, 4)
        ));
    }
    let mut nested_splits = Vec::new();
    for (name, dir) in classes {
        if let Ok((inner, _)) = tree.top_level(dir) {
            for (inner_name, _) in inner {
                if split_name(&inner_name) != SplitName::NotASplit {
                    nested_splits.push(format!("{name}/{inner_name}/"));
                }
            }
        }
    }
    if !nested_splits.is_empty() {
        reasons.push(format!(
            "{} look(s) like CLASS/SPLIT folders, while effprobe reads SPLIT/CLASS",
            list_some(&nested_splits, 4)
        ));
    }
    if reasons.is_empty() {
        return Ok(());
    }
    let label_map: Vec<String> = classes
        .iter()
        .enumerate()
        .map(|(i, (name, _))| format!("{name} = {i}"))
        .collect();
    Err(DatasetError::AmbiguousLayout {
        path: root.to_path_buf(),
        seen: names(classes),
        inferred: format!(
            "{} class(es) ({}) split by content hash",
            classes.len(),
            list_some(&label_map, 6)
        ),
        reasons: reasons.join("; "),
    })
}

/// Files beside the class (or split) folders: an image there belongs to no class
/// and is a problem; anything else (a README, a licence) is ignored, and said so.
fn loose_files(
    tree: &FileTree,
    root: &Path,
    files: &[(String, PathBuf)],
    place: &str,
    problems: &mut Vec<Problem>,
    notes: &mut Vec<String>,
) {
    let mut ignored = Vec::new();
    for (name, path) in files {
        let looks_like_image = crate::inspect::has_image_extension(name)
            || tree
                .read(path)
                .ok()
                .is_some_and(|bytes| image::guess_format(&bytes).is_ok());
        if looks_like_image {
            problems.push(Problem {
                path: relative_path(root, path),
                reason: format!(
                    "an image directly under {place}, in no class folder: left out (move it into its class folder, or list it in a --labels manifest)"
                ),
            });
        } else {
            ignored.push(name.clone());
        }
    }
    if !ignored.is_empty() {
        notes.push(format!(
            "ignored {} non-image file(s) under {place}: {}",
            ignored.len(),
            list_some(&ignored, 4)
        ));
    }
}

/// Every non-hidden file under a class folder, following symlinks; loops and
/// unreadable entries become problems.
fn walk_class(
    tree: &FileTree,
    root: &Path,
    dir: &Path,
    class: &str,
    split: Option<Split>,
    candidates: &mut Vec<Candidate>,
    problems: &mut Vec<Problem>,
) {
    for entry in tree.visible_files(dir) {
        match entry {
            Ok(path) => candidates.push(Candidate {
                path: relative_path(root, &path),
                absolute: path,
                class: class.to_string(),
                split,
            }),
            Err(unreadable) => problems.push(Problem {
                path: relative_path(root, &unreadable.path),
                reason: unreadable.reason(|p| relative_path(root, p)),
            }),
        }
    }
}
