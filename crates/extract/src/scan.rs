//! Finding a dataset's images, their classes and their given splits.
//!
//! Two layouts are understood: the Keras / torchvision one, `ROOT/{train,
//! validation|val,test}/CLASS/*`, taken as given; and a flat `ROOT/CLASS/*`,
//! which [`crate::split`] splits by content hash. Class folder names sorted give
//! labels 0..K-1 (the `flow_from_directory` convention).
//!
//! Whether a file is an image is decided by its content, not its name: any file
//! whose header parses as a supported format counts (a real GIF placeholder among
//! JPEGs is an image). `ScanOptions::full_decode` also decodes every pixel.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Cursor;
use std::path::{Path, PathBuf};

use featurefile::Split;
use rayon::prelude::*;

use crate::split::{assign_splits, KeyedLabel, SplitFractions};

#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("{path}: cannot read the dataset folder: {source}")]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: is not a directory")]
    NotADirectory { path: PathBuf },
    #[error(
        "{path}: no class folders found (expected ROOT/CLASS/* or ROOT/{{train,val,test}}/CLASS/*)"
    )]
    NoClasses { path: PathBuf },
    #[error(
        "{path}: mixes split folders ({splits}) with class folders ({classes}); use one layout"
    )]
    MixedLayout {
        path: PathBuf,
        splits: String,
        classes: String,
    },
    #[error("{path}: both `{first}` and `{second}` name the {split} split")]
    DuplicateSplitFolder {
        path: PathBuf,
        first: String,
        second: String,
        split: Split,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// `ROOT/SPLIT/CLASS/*`: splits are taken as given.
    GivenSplits,
    /// `ROOT/CLASS/*`: splits are assigned by content hash.
    Flat,
}

#[derive(Clone, Debug, Default)]
pub struct ScanOptions {
    /// Decode every image fully instead of parsing headers only (slower, thorough).
    pub full_decode: bool,
    pub fractions: SplitFractions,
    /// Earlier assignments to keep (key → split), for flat datasets that grow.
    pub previous_splits: BTreeMap<String, Split>,
}

/// One usable image.
#[derive(Clone, Debug, PartialEq)]
pub struct ImageEntry {
    /// Relative to the dataset root, `/`-separated.
    pub path: String,
    pub key: String,
    pub label: i32,
    pub class: String,
    pub split: Split,
    pub format: String,
    pub width: u32,
    pub height: u32,
    pub bytes: u64,
}

/// Why a file or folder was left out.
#[derive(Clone, Debug, PartialEq)]
pub struct Problem {
    pub path: String,
    pub reason: String,
}

#[derive(Clone, Debug)]
pub struct ScanReport {
    pub root: PathBuf,
    pub layout: Layout,
    pub classes: Vec<String>,
    pub images: Vec<ImageEntry>,
    /// Files that are not usable images, and entries that could not be read.
    pub problems: Vec<Problem>,
    /// Exact duplicates (same bytes) that were counted once: (duplicate, kept).
    pub duplicates: Vec<(String, String)>,
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
}

const SPLIT_FOLDERS: [&str; 5] = ["train", "val", "valid", "validation", "test"];

fn is_hidden(name: &str) -> bool {
    name.starts_with('.')
}

fn subdirectories(dir: &Path) -> Result<Vec<(String, PathBuf)>, ScanError> {
    let unreadable = |source| ScanError::Unreadable {
        path: dir.to_path_buf(),
        source,
    };
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(unreadable)? {
        let entry = entry.map_err(unreadable)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !is_hidden(&name) && entry.path().is_dir() {
            found.push((name, entry.path()));
        }
    }
    found.sort();
    Ok(found)
}

/// A file found under a class folder, before it is read.
struct Candidate {
    absolute: PathBuf,
    relative: String,
    class: String,
    given_split: Option<Split>,
}

pub fn scan(root: &Path, options: &ScanOptions) -> Result<ScanReport, ScanError> {
    if !root.is_dir() {
        return Err(if root.exists() {
            ScanError::NotADirectory {
                path: root.to_path_buf(),
            }
        } else {
            ScanError::Unreadable {
                path: root.to_path_buf(),
                source: std::io::Error::from(std::io::ErrorKind::NotFound),
            }
        });
    }
    let top = subdirectories(root)?;
    let (split_dirs, class_dirs): (Vec<_>, Vec<_>) = top
        .into_iter()
        .partition(|(name, _)| SPLIT_FOLDERS.contains(&name.to_lowercase().as_str()));
    let layout = match (split_dirs.is_empty(), class_dirs.is_empty()) {
        (false, false) => {
            let names = |dirs: &[(String, PathBuf)]| {
                dirs.iter()
                    .map(|d| d.0.clone())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            return Err(ScanError::MixedLayout {
                path: root.to_path_buf(),
                splits: names(&split_dirs),
                classes: names(&class_dirs),
            });
        }
        (false, true) => Layout::GivenSplits,
        (true, false) => Layout::Flat,
        (true, true) => {
            return Err(ScanError::NoClasses {
                path: root.to_path_buf(),
            })
        }
    };

    let mut problems = Vec::new();
    let mut candidates = Vec::new();
    match layout {
        Layout::Flat => {
            for (class, dir) in class_dirs {
                walk_class(root, &dir, &class, None, &mut candidates, &mut problems);
            }
        }
        Layout::GivenSplits => {
            let mut seen: BTreeMap<Split, String> = BTreeMap::new();
            for (name, dir) in split_dirs {
                let split: Split = name.to_lowercase().parse().unwrap_or(Split::Train);
                if let Some(first) = seen.insert(split, name.clone()) {
                    return Err(ScanError::DuplicateSplitFolder {
                        path: root.to_path_buf(),
                        first,
                        second: name,
                        split,
                    });
                }
                for (class, class_dir) in subdirectories(&dir)? {
                    walk_class(
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
    }
    let classes: Vec<String> = candidates
        .iter()
        .map(|c| c.class.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if classes.is_empty() {
        return Err(ScanError::NoClasses {
            path: root.to_path_buf(),
        });
    }

    let inspected: Vec<Result<(Candidate, Inspection), Problem>> = candidates
        .into_par_iter()
        .map(
            |candidate| match inspect(&candidate.absolute, options.full_decode) {
                Ok(inspection) => Ok((candidate, inspection)),
                Err(reason) => Err(Problem {
                    path: candidate.relative,
                    reason,
                }),
            },
        )
        .collect();

    let mut by_key: BTreeMap<String, usize> = BTreeMap::new();
    let mut duplicates = Vec::new();
    let mut kept: Vec<(Candidate, Inspection)> = Vec::new();
    for outcome in inspected {
        match outcome {
            Err(problem) => problems.push(problem),
            Ok((candidate, inspection)) => match by_key.get(&inspection.key) {
                Some(&index) => {
                    let first = &kept[index].0;
                    if first.class != candidate.class {
                        problems.push(Problem {
                            path: candidate.relative.clone(),
                            reason: format!(
                                "same bytes as {} but in class {:?} instead of {:?}; the first one is kept",
                                first.relative, candidate.class, first.class
                            ),
                        });
                    }
                    duplicates.push((candidate.relative, first.relative.clone()));
                }
                None => {
                    by_key.insert(inspection.key.clone(), kept.len());
                    kept.push((candidate, inspection));
                }
            },
        }
    }

    let label_of = |class: &str| classes.iter().position(|c| c == class).unwrap_or(0) as i32;
    let hashed_splits = (layout == Layout::Flat).then(|| {
        let items: Vec<KeyedLabel> = kept
            .iter()
            .map(|(c, i)| KeyedLabel {
                key: i.key.clone(),
                label: label_of(&c.class),
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
        .map(|(candidate, inspection)| {
            let split = match (&hashed_splits, candidate.given_split) {
                (Some(assigned), _) => assigned
                    .get(&inspection.key)
                    .copied()
                    .unwrap_or(Split::Train),
                (None, given) => given.unwrap_or(Split::Train),
            };
            ImageEntry {
                label: label_of(&candidate.class),
                path: candidate.relative,
                class: candidate.class,
                key: inspection.key,
                split,
                format: inspection.format,
                width: inspection.width,
                height: inspection.height,
                bytes: inspection.bytes,
            }
        })
        .collect();
    problems.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(ScanReport {
        root: root.to_path_buf(),
        layout,
        classes,
        images,
        problems,
        duplicates,
    })
}

fn relative_path(root: &Path, path: &Path) -> String {
    let relative = path.strip_prefix(root).unwrap_or(path);
    relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// An entry under a walked folder that cannot be read.
pub(crate) struct UnreadableEntry {
    pub path: PathBuf,
    pub loop_ancestor: Option<PathBuf>,
    pub error: String,
}

impl UnreadableEntry {
    /// Why, with paths shown by `show` (relative to a dataset root, or as given).
    pub fn reason(&self, show: impl Fn(&Path) -> String) -> String {
        match &self.loop_ancestor {
            Some(ancestor) => format!("symlink loop back to {}", show(ancestor)),
            None => format!("cannot read: {}", self.error),
        }
    }
}

/// Every non-hidden file under `dir` (hidden folders are not entered), sorted by
/// name, following symlinks; each entry that cannot be read is an error.
pub(crate) fn visible_files(
    dir: &Path,
) -> impl Iterator<Item = Result<PathBuf, UnreadableEntry>> + '_ {
    walkdir::WalkDir::new(dir)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|entry| {
            entry.depth() == 0 || !is_hidden(&entry.file_name().to_string_lossy())
        })
        .filter_map(move |entry| match entry {
            Ok(entry) if entry.file_type().is_file() => Some(Ok(entry.into_path())),
            Ok(_) => None,
            Err(error) => Some(Err(UnreadableEntry {
                path: error.path().unwrap_or(dir).to_path_buf(),
                loop_ancestor: error.loop_ancestor().map(Path::to_path_buf),
                error: error
                    .io_error()
                    .map_or(error.to_string(), |e| e.to_string()),
            })),
        })
}

/// Every non-hidden file under a class folder, following symlinks; loops and
/// unreadable entries become problems.
fn walk_class(
    root: &Path,
    dir: &Path,
    class: &str,
    given_split: Option<Split>,
    candidates: &mut Vec<Candidate>,
    problems: &mut Vec<Problem>,
) {
    for entry in visible_files(dir) {
        match entry {
            Ok(path) => candidates.push(Candidate {
                relative: relative_path(root, &path),
                absolute: path,
                class: class.to_string(),
                given_split,
            }),
            Err(unreadable) => problems.push(Problem {
                path: relative_path(root, &unreadable.path),
                reason: unreadable.reason(|p| relative_path(root, p)),
            }),
        }
    }
}

struct Inspection {
    key: String,
    format: String,
    width: u32,
    height: u32,
    bytes: u64,
}

/// Hashes the file and checks that its content is an image we can decode.
fn inspect(path: &Path, full_decode: bool) -> Result<Inspection, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read: {e}"))?;
    if bytes.is_empty() {
        return Err("empty file (0 bytes)".into());
    }
    let key = blake3::hash(&bytes).to_hex().to_string();
    let reader = image::ImageReader::new(Cursor::new(&bytes))
        .with_guessed_format()
        .map_err(|e| format!("cannot read: {e}"))?;
    let format = reader
        .format()
        .ok_or_else(|| "not an image (content matches no known image format)".to_string())?;
    let format_name = format!("{format:?}").to_lowercase();
    if !format.reading_enabled() {
        return Err(format!("unsupported image format: {format_name}"));
    }
    let (width, height) = if full_decode {
        let decoded = reader
            .decode()
            .map_err(|e| format!("cannot decode {format_name}: {e}"))?;
        (decoded.width(), decoded.height())
    } else {
        reader
            .into_dimensions()
            .map_err(|e| format!("corrupt {format_name} header: {e}"))?
    };
    Ok(Inspection {
        key,
        format: format_name,
        width,
        height,
        bytes: bytes.len() as u64,
    })
}
