//! One entry point for every input people bring: `--data` as an image folder (with
//! or without a `--labels` manifest), a folder of tar shards, one shard, or a
//! brace pattern of shards.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use contract::Split;

use crate::collect::{order_classes, ClassOrder, Collected, Found};
use crate::folders::LayoutChoice;
use crate::manifest::Manifest;
use crate::report::{ImageEntry, Layout, Problem, ScanReport, SplitsFrom};
use crate::split::{assign_splits, KeyedLabel, SplitFractions};
use crate::walk::{relative_path, visible_files};
use crate::webdataset::is_shard_name;
use crate::{folders, manifest, webdataset, DatasetError};

#[derive(Clone, Debug, Default)]
pub struct ScanOptions {
    /// Decode every image fully instead of parsing headers only (slower, thorough).
    pub full_decode: bool,
    pub fractions: SplitFractions,
    /// Earlier assignments to keep (key → split), for hash-split datasets that grow.
    pub previous_splits: BTreeMap<String, Split>,
    /// How to read an image folder's top level (`--layout`).
    pub layout: LayoutChoice,
    /// A label manifest (`--labels`).
    pub labels: Option<PathBuf>,
}

/// What `--data` names.
enum Input {
    Folder(PathBuf),
    Shards { root: PathBuf, shards: Vec<PathBuf> },
}

/// Whether `--data` (every shard of a pattern too) and `--labels` name something
/// that exists: the cheap check a caller makes before any slow setup.
pub fn check_inputs(data: &Path, labels: Option<&Path>) -> Result<(), DatasetError> {
    if let Some(labels) = labels.filter(|l| !l.is_file()) {
        return Err(DatasetError::NotFound {
            path: labels.to_path_buf(),
            what: "the --labels manifest",
        });
    }
    check_data_path(data)
}

fn check_data_path(data: &Path) -> Result<(), DatasetError> {
    let text = data.to_string_lossy();
    if text.contains('{') {
        webdataset::expand_pattern(&text).map(|_| ())
    } else if data.exists() {
        Ok(())
    } else {
        Err(DatasetError::NotFound {
            path: data.to_path_buf(),
            what: "the dataset --data names",
        })
    }
}

fn resolve(data: &Path) -> Result<Input, DatasetError> {
    let text = data.to_string_lossy();
    if text.contains('{') {
        let (root, shards) = webdataset::expand_pattern(&text)?;
        return Ok(Input::Shards { root, shards });
    }
    check_data_path(data)?;
    let name = data
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if data.is_file() {
        if is_shard_name(&name) {
            let root = data
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
            return Ok(Input::Shards {
                root,
                shards: vec![data.to_path_buf()],
            });
        }
        return Err(DatasetError::NotADataset {
            path: data.to_path_buf(),
            reason: "a file; expected a folder of images, a .tar shard or a shard pattern (a --labels manifest goes in --labels)".into(),
        });
    }
    let mut shards = Vec::new();
    let mut first_image = None;
    for path in visible_files(data).filter_map(Result::ok) {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if is_shard_name(&name) {
            shards.push(path);
        } else if first_image.is_none() && crate::inspect::has_image_extension(&name) {
            first_image = Some(path);
        }
    }
    match (shards.first(), first_image) {
        (None, _) => Ok(Input::Folder(data.to_path_buf())),
        (Some(shard), Some(file)) => Err(DatasetError::MixedShardsAndFiles {
            path: data.to_path_buf(),
            shard: relative_path(data, shard),
            file: relative_path(data, &file),
        }),
        (Some(_), None) => Ok(Input::Shards {
            root: data.to_path_buf(),
            shards,
        }),
    }
}

/// Finds the dataset's images, labels and splits, and every file left out.
pub fn scan(data: &Path, options: &ScanOptions) -> Result<ScanReport, DatasetError> {
    let manifest = options.labels.as_deref().map(Manifest::read).transpose()?;
    let collected = match resolve(data)? {
        Input::Folder(root) => match &manifest {
            Some(manifest) => {
                if options.layout != LayoutChoice::Auto {
                    return Err(DatasetError::ConflictingOptions {
                        flag: "--layout",
                        context: "with --labels (the manifest says where each image belongs)",
                    });
                }
                manifest::collect(&root, manifest, options.full_decode)?
            }
            None => folders::collect(&root, options.layout, options.full_decode)?,
        },
        Input::Shards { root, shards } => {
            if options.layout != LayoutChoice::Auto {
                return Err(DatasetError::ConflictingOptions {
                    flag: "--layout",
                    context: "with tar shards (folders of images only)",
                });
            }
            webdataset::collect(&root, &shards, manifest.as_ref(), options.full_decode)?
        }
    };
    assemble(collected, options)
}

/// Duplicates counted once, classes ordered into labels, splits assigned.
fn assemble(collected: Collected, options: &ScanOptions) -> Result<ScanReport, DatasetError> {
    let Collected {
        root,
        layout,
        splits_from,
        class_order,
        mut found,
        mut problems,
        notes,
    } = collected;
    found.sort_by(|a, b| a.path.cmp(&b.path));
    let mut kept: Vec<Found> = Vec::with_capacity(found.len());
    let mut by_key: HashMap<String, usize> = HashMap::with_capacity(found.len());
    let mut duplicates = Vec::new();
    for image in found {
        match by_key.get(&image.inspection.key) {
            Some(&index) => {
                let first = &kept[index];
                if first.class != image.class {
                    problems.push(Problem {
                        path: image.path.clone(),
                        reason: format!(
                            "same bytes as {} but labelled {:?} instead of {:?}; the first one is kept",
                            first.path, image.class, first.class
                        ),
                    });
                }
                duplicates.push((image.path, first.path.clone()));
            }
            None => {
                by_key.insert(image.inspection.key.clone(), kept.len());
                kept.push(image);
            }
        }
    }
    problems.sort_by(|a, b| a.path.cmp(&b.path));
    if kept.is_empty() {
        let expected = match layout {
            Layout::Webdataset => "each sample needs an image member (KEY.jpg, .jpeg, .png or .webp) and a label (KEY.cls, KEY.json with a label or class field, or --labels MANIFEST)",
            Layout::Manifest => "the manifest's paths must name image files under --data",
            Layout::Flat | Layout::Splits => "image files go in class folders: ROOT/CLASS/* or ROOT/SPLIT/CLASS/*",
        };
        let detail = match problems.first() {
            Some(first) => format!(
                " ({} problem(s); the first: {}: {}); {expected}",
                problems.len(),
                first.path,
                first.reason
            ),
            None => format!(" (no image files found); {expected}"),
        };
        return Err(DatasetError::NoImages { path: root, detail });
    }

    // Integer labels are named by their value: `01` and `1` are one class.
    if class_order == ClassOrder::NumbersFirst
        && kept
            .iter()
            .all(|f| crate::collect::integer_label(&f.class).is_some())
    {
        for image in &mut kept {
            if let Some(n) = crate::collect::integer_label(&image.class) {
                image.class = n.to_string();
            }
        }
    }
    let classes = order_classes(kept.iter().map(|f| f.class.clone()).collect(), class_order);
    if classes.len() < 2 {
        let class = classes[0].clone();
        let hint = match layout {
            Layout::Flat | Layout::Splits => format!(
                ". If {class}/ holds the class folders, pass --data {}",
                root.join(&class).display()
            ),
            _ => String::new(),
        };
        return Err(DatasetError::OneClass {
            path: root,
            class,
            hint,
        });
    }
    let label_of: HashMap<&str, i32> = classes
        .iter()
        .enumerate()
        .map(|(i, c)| (c.as_str(), i as i32))
        .collect();
    let hashed = (splits_from == SplitsFrom::Hash).then(|| {
        let items: Vec<KeyedLabel> = kept
            .iter()
            .map(|f| KeyedLabel {
                key: f.inspection.key.clone(),
                label: label_of[f.class.as_str()],
            })
            .collect();
        assign_splits(
            &items,
            classes.len(),
            options.fractions,
            &options.previous_splits,
        )
    });
    let images = kept
        .into_iter()
        .map(|f| {
            let split = match &hashed {
                Some(assigned) => assigned
                    .get(&f.inspection.key)
                    .copied()
                    .unwrap_or(Split::Train),
                None => f.split.unwrap_or(Split::Train),
            };
            ImageEntry {
                label: label_of[f.class.as_str()],
                path: f.path,
                class: f.class,
                key: f.inspection.key,
                split,
                format: f.inspection.format,
                width: f.inspection.width,
                height: f.inspection.height,
                bytes: f.inspection.bytes,
                source: f.source,
            }
        })
        .collect();
    Ok(ScanReport {
        root,
        layout,
        splits_from,
        classes,
        images,
        problems,
        duplicates,
        notes,
    })
}
