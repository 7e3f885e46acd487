//! One entry point for every input people bring: `--data` as an image folder (with
//! or without a `--labels` manifest or `--label-from-name`), a folder of tar
//! shards, one shard, a folder of Hugging Face Parquet files, one such file, or a
//! pattern of shards or Parquet files; each of them but Parquet also under an
//! S3 prefix (`s3://bucket/prefix`), walked and read through the same `FileTree`.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use contract::Split;
use regex::Regex;

use crate::collect::{order_classes, ClassOrder, Collected, Found};
use crate::columns::ColumnNames;
use crate::folders::LayoutChoice;
use crate::hf_parquet::is_parquet_name;
use crate::manifest::Manifest;
use crate::objects::Named;
use crate::report::{ImageEntry, Layout, Problem, ScanReport, SplitsFrom};
use crate::s3::S3Url;
use crate::split::{assign_splits, KeyedLabel, SplitFractions};
use crate::tree::FileTree;
use crate::walk::relative_path;
use crate::webdataset::is_shard_name;
use crate::{
    file_names, folders, hf_parquet, manifest, objects, pattern, webdataset, DatasetError,
};

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
    /// Which columns hold the path (or image), label and split (`--path-column`,
    /// `--label-column`, `--split-column`); unset ones are recognised by name.
    pub columns: ColumnNames,
    /// Labels from the file names: the first capture group (`--label-from-name`).
    pub label_from_name: Option<Regex>,
}

/// What `--data` names.
enum Input {
    Folder(PathBuf),
    Shards { root: PathBuf, shards: Vec<PathBuf> },
    Parquet { root: PathBuf, files: Vec<PathBuf> },
}

/// Whether `--data` (every file of a pattern too) and `--labels` name something
/// that exists: the cheap check a caller makes before any slow setup.
/// In S3, one request each: the manifest object answers, and the folder the
/// dataset is in may be listed.
pub fn check_inputs(data: &Path, labels: Option<&Path>) -> Result<(), DatasetError> {
    match labels {
        Some(labels) if S3Url::is_s3(labels) => objects::check_object(labels)?,
        Some(labels) if !labels.is_file() => {
            return Err(DatasetError::NotFound {
                path: labels.to_path_buf(),
                what: "the --labels manifest",
            })
        }
        _ => {}
    }
    if S3Url::is_s3(data) {
        return objects::check(data);
    }
    check_data_path(data)
}

fn check_data_path(data: &Path) -> Result<(), DatasetError> {
    if pattern::is_pattern(data) {
        pattern::expand(&data.to_string_lossy()).map(|_| ())
    } else if data.exists() {
        Ok(())
    } else {
        Err(DatasetError::NotFound {
            path: data.to_path_buf(),
            what: "the dataset --data names",
        })
    }
}

fn parent_of(file: &Path) -> PathBuf {
    file.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// Files of a pattern or a folder, told apart by name: tar shards, Parquet files,
/// anything else.
fn by_kind(files: Vec<PathBuf>) -> (Vec<PathBuf>, Vec<PathBuf>, Vec<PathBuf>) {
    let (mut shards, mut parquet, mut others) = (Vec::new(), Vec::new(), Vec::new());
    for path in files {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if is_shard_name(&name) {
            shards.push(path);
        } else if is_parquet_name(&name) {
            parquet.push(path);
        } else {
            others.push(path);
        }
    }
    (shards, parquet, others)
}

/// A pattern's files, which must be all shards or all Parquet files.
fn pattern_input(pattern: &str, root: PathBuf, files: Vec<PathBuf>) -> Result<Input, DatasetError> {
    let (shards, parquet, others) = by_kind(files);
    match (shards.is_empty(), parquet.is_empty(), others.first()) {
        (false, true, None) => Ok(Input::Shards { root, shards }),
        (true, false, None) => Ok(Input::Parquet {
            root,
            files: parquet,
        }),
        _ => Err(DatasetError::Pattern {
            pattern: pattern.to_string(),
            reason: "it names files of several kinds; a pattern names tar shards or Parquet files"
                .into(),
        }),
    }
}

/// One file named as `--data`: a shard or a Parquet file.
fn file_input(data: &Path) -> Result<Input, DatasetError> {
    let name = data
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if is_shard_name(&name) {
        return Ok(Input::Shards {
            root: parent_of(data),
            shards: vec![data.to_path_buf()],
        });
    }
    if is_parquet_name(&name) {
        return Ok(Input::Parquet {
            root: parent_of(data),
            files: vec![data.to_path_buf()],
        });
    }
    Err(DatasetError::NotADataset {
        path: data.to_path_buf(),
        reason: "a file; expected a folder of images, a .tar shard, a .parquet file or a pattern of them (a --labels manifest goes in --labels)".into(),
    })
}

/// A folder named as `--data`, told by what it holds.
fn folder_input(tree: &FileTree, data: &Path) -> Result<Input, DatasetError> {
    let (shards, parquet, others) =
        by_kind(tree.visible_files(data).filter_map(Result::ok).collect());
    let first_image = others.iter().find(|path| {
        crate::inspect::has_image_extension(&path.file_name().unwrap_or_default().to_string_lossy())
    });
    let shown = |paths: &[PathBuf]| {
        paths
            .first()
            .map(|p| relative_path(data, p))
            .unwrap_or_default()
    };
    match (shards.is_empty(), parquet.is_empty(), first_image) {
        // Images (and maybe a manifest in Parquet), or nothing yet known: an
        // image folder.
        (true, true, _) | (true, false, Some(_)) => Ok(Input::Folder(data.to_path_buf())),
        (false, _, Some(file)) => Err(DatasetError::MixedInputs {
            path: data.to_path_buf(),
            first: format!("tar shards ({})", shown(&shards)),
            second: format!("other image files ({})", relative_path(data, file)),
        }),
        (false, false, None) => Err(DatasetError::MixedInputs {
            path: data.to_path_buf(),
            first: format!("tar shards ({})", shown(&shards)),
            second: format!("Parquet files ({})", shown(&parquet)),
        }),
        (false, true, None) => Ok(Input::Shards {
            root: data.to_path_buf(),
            shards,
        }),
        (true, false, None) => Ok(Input::Parquet {
            root: data.to_path_buf(),
            files: parquet,
        }),
    }
}

/// What `--data` names, and the tree its files are read from.
fn resolve(data: &Path) -> Result<(FileTree, Input), DatasetError> {
    if S3Url::is_s3(data) {
        return resolve_objects(data);
    }
    let local = FileTree::Local;
    if pattern::is_pattern(data) {
        let text = data.to_string_lossy();
        let (root, files) = pattern::expand(&text)?;
        return Ok((local, pattern_input(&text, root, files)?));
    }
    check_data_path(data)?;
    let input = if data.is_file() {
        file_input(data)?
    } else {
        folder_input(&local, data)?
    };
    Ok((local, input))
}

/// `--data s3://…`: listed once, then read as a local copy would be.
fn resolve_objects(data: &Path) -> Result<(FileTree, Input), DatasetError> {
    let (tree, named) = objects::resolve(data)?;
    let input = match named {
        Named::Pattern { root, files } => pattern_input(&data.to_string_lossy(), root, files)?,
        Named::File(file) => file_input(&file)?,
        Named::Folder(root) => folder_input(&tree, &root)?,
    };
    if matches!(input, Input::Parquet { .. }) {
        return Err(DatasetError::NotADataset {
            path: data.to_path_buf(),
            reason: "Hugging Face Parquet files are read from local disk only (copy them, e.g. with `aws s3 cp --recursive`, and pass the local folder); image folders, manifests and tar shards are read from S3 in place".into(),
        });
    }
    Ok((tree, input))
}

/// Finds the dataset's images, labels and splits, and every file left out.
pub fn scan(data: &Path, options: &ScanOptions) -> Result<ScanReport, DatasetError> {
    let manifest = options
        .labels
        .as_deref()
        .map(|path| Manifest::read(path, &options.columns))
        .transpose()?;
    let by_name = options.label_from_name.as_ref();
    let (tree, input) = resolve(data)?;
    let collected = match input {
        Input::Folder(root) => match (&manifest, by_name) {
            (Some(_), Some(_)) => {
                return Err(DatasetError::ConflictingOptions {
                    flag: "--label-from-name",
                    context: "with --labels (the labels come from one of them)",
                })
            }
            (Some(manifest), None) => {
                if options.layout != LayoutChoice::Auto {
                    return Err(DatasetError::ConflictingOptions {
                        flag: "--layout",
                        context: "with --labels (the manifest says where each image belongs)",
                    });
                }
                manifest::collect(&tree, &root, manifest, options.full_decode)?
            }
            (None, Some(pattern)) => {
                refuse_columns(
                    options,
                    "with --label-from-name (file names have no columns)",
                )?;
                file_names::collect(&tree, &root, pattern, options.layout, options.full_decode)?
            }
            (None, None) => {
                refuse_columns(options, "without --labels (an image folder has no columns)")?;
                folders::collect(&tree, &root, options.layout, options.full_decode)?
            }
        },
        Input::Shards { root, shards } => {
            if options.layout != LayoutChoice::Auto {
                return Err(DatasetError::ConflictingOptions {
                    flag: "--layout",
                    context: "with tar shards (folders of images only)",
                });
            }
            if by_name.is_some() {
                return Err(DatasetError::ConflictingOptions {
                    flag: "--label-from-name",
                    context: "with tar shards (their labels are cls or json members, or --labels)",
                });
            }
            if manifest.is_none() {
                refuse_columns(
                    options,
                    "with tar shards without --labels (shards have no columns)",
                )?;
            }
            webdataset::collect(
                &tree,
                &root,
                &shards,
                manifest.as_ref(),
                options.full_decode,
            )?
        }
        Input::Parquet { root, files } => {
            if options.layout != LayoutChoice::Auto {
                return Err(DatasetError::ConflictingOptions {
                    flag: "--layout",
                    context: "with Parquet image files (folders of images only)",
                });
            }
            if manifest.is_some() {
                return Err(DatasetError::ConflictingOptions {
                    flag: "--labels",
                    context: "with Parquet image files (their label column is the labels; name it with --label-column)",
                });
            }
            if by_name.is_some() {
                return Err(DatasetError::ConflictingOptions {
                    flag: "--label-from-name",
                    context: "with Parquet image files (their label column is the labels; name it with --label-column)",
                });
            }
            hf_parquet::collect(&root, &files, &options.columns, options.full_decode)?
        }
    };
    assemble(collected, options)
}

/// `--path-column` and friends name columns of a table: refused where there is none.
fn refuse_columns(options: &ScanOptions, context: &'static str) -> Result<(), DatasetError> {
    let ColumnNames { path, label, split } = &options.columns;
    let flag = if path.is_some() {
        "--path-column"
    } else if label.is_some() {
        "--label-column"
    } else if split.is_some() {
        "--split-column"
    } else {
        return Ok(());
    };
    Err(DatasetError::ConflictingOptions { flag, context })
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
            Layout::FileNames => "image file names must match --label-from-name, whose first group is the label",
            Layout::HfParquet => "each row needs an image (a struct of bytes and path) and a label",
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
    let classes = order_classes(kept.iter().map(|f| f.class.clone()).collect(), &class_order);
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
