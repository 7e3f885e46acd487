//! Hugging Face datasets on disk: Parquet files as `datasets` writes them
//! (`to_parquet`) and the hub serves them (`data/train-00000-of-00002.parquet`).
//!
//! The image comes from an image column: a struct of `bytes` and `path` (the
//! `Image` feature), found by type or named with `--path-column`. The label comes
//! from an integer column whose class names are the `ClassLabel` names in the
//! schema's `huggingface` metadata, or from a string column; it is found by the
//! usual names or the `ClassLabel` type, or named with `--label-column`. The split
//! comes from the file name (`train-…`, `test/…`), or a `--split-column`. Images
//! are hashed where they are and read in place later ([`ImageSource::ParquetImage`]),
//! with the same content keys as the same images as loose files. A row without a
//! usable image or label is a problem naming the file and row.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Schema};
use contract::Split;
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ParquetRecordBatchReaderBuilder};
use parquet::arrow::ProjectionMask;
use rayon::prelude::*;

use crate::collect::{splits_from_file_names, ClassOrder, Collected, Found};
use crate::columns::{by_common_name, choose, named_column, ColumnNames, Role};
use crate::inspect::inspect_bytes;
use crate::manifest::column_text;
use crate::names::{split_name, SplitName};
use crate::parquet_images::{
    image_cell, image_path_cell, is_image_struct, leaves, load_metadata, BYTES_FIELD, PATH_FIELD,
};
use crate::report::{Layout, Problem, SplitsFrom};
use crate::source::ImageSource;
use crate::walk::relative_path;
use crate::DatasetError;

/// Rows decoded at a time while scanning.
const SCAN_BATCH_ROWS: usize = 64;

/// Whether a file name is a Parquet file.
pub fn is_parquet_name(name: &str) -> bool {
    name.to_lowercase().ends_with(".parquet")
}

/// The `huggingface` schema metadata's features: column → its `_type` and, for
/// `ClassLabel`, its names.
#[derive(Debug, Default)]
struct Features {
    types: BTreeMap<String, String>,
    class_names: BTreeMap<String, Vec<String>>,
}

fn features(schema: &Schema) -> Features {
    let mut found = Features::default();
    let Some(text) = schema.metadata().get("huggingface") else {
        return found;
    };
    let Ok(value) = serde_json::from_str::<serde_json::Value>(text) else {
        return found;
    };
    let features = value
        .get("info")
        .and_then(|info| info.get("features"))
        .or_else(|| value.get("features"));
    let Some(features) = features.and_then(|f| f.as_object()) else {
        return found;
    };
    for (name, feature) in features {
        let Some(kind) = feature.get("_type").and_then(|t| t.as_str()) else {
            continue;
        };
        found.types.insert(name.clone(), kind.to_string());
        if kind == "ClassLabel" {
            if let Some(names) = feature.get("names").and_then(|n| n.as_array()) {
                found.class_names.insert(
                    name.clone(),
                    names
                        .iter()
                        .map(|n| n.as_str().map_or_else(|| n.to_string(), str::to_string))
                        .collect(),
                );
            }
        }
    }
    found
}

/// What one file's columns are.
#[derive(Clone, Debug)]
struct FileColumns {
    image: String,
    label: String,
    split: Option<String>,
    /// `ClassLabel` names of the label column.
    class_names: Option<Vec<String>>,
}

fn is_label_type(data_type: &DataType) -> bool {
    data_type.is_integer()
        || matches!(
            data_type,
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
        )
}

/// The image, label and split columns of a file: stated, or found by type and
/// name; two plausible ones are a question.
fn file_columns(schema: &Schema, names: &ColumnNames) -> Result<FileColumns, String> {
    let header: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    let features = features(schema);
    let images: Vec<usize> = schema
        .fields()
        .iter()
        .enumerate()
        .filter(|(_, f)| {
            is_image_struct(f.data_type())
                || (features.types.get(f.name()).map(String::as_str) == Some("Image")
                    && matches!(f.data_type(), DataType::Struct(_)))
        })
        .map(|(i, _)| i)
        .collect();
    let image = match names.path.as_deref() {
        Some(name) => {
            let column = named_column(&header, name).ok_or_else(|| {
                format!(
                    "no column named {name:?} (--path-column {name}); its columns are {}",
                    crate::collect::list_some(&header, 12)
                )
            })?;
            if !is_image_struct(schema.field(column).data_type()) {
                return Err(format!(
                    "column {name:?} holds {}, not images (a struct of bytes and path, as the datasets Image feature writes)",
                    schema.field(column).data_type()
                ));
            }
            column
        }
        None => match images.as_slice() {
            [] => {
                return Err(format!(
                    "no image column (a struct of bytes and path, as the datasets Image feature writes); its columns are {}",
                    crate::collect::list_some(&header, 12)
                ))
            }
            [one] => *one,
            several => {
                return Err(format!(
                    "{} columns hold images: {}; say which with --path-column NAME",
                    several.len(),
                    several
                        .iter()
                        .map(|&i| header[i].clone())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            }
        },
    };
    let mut label_candidates: Vec<usize> = by_common_name(Role::Label, &header);
    for (i, name) in header.iter().enumerate() {
        if features.class_names.contains_key(name) && !label_candidates.contains(&i) {
            label_candidates.push(i);
        }
    }
    label_candidates.retain(|&i| i != image && is_label_type(schema.field(i).data_type()));
    label_candidates.sort_unstable();
    let label = choose(Role::Label, &header, names, &label_candidates, true)?.unwrap_or(0);
    let label_type = schema.field(label).data_type();
    if label == image || !is_label_type(label_type) {
        return Err(format!(
            "the label column {:?} holds {label_type}; expected integers (ClassLabel) or text",
            header[label]
        ));
    }
    let split = choose(
        Role::Split,
        &header,
        names,
        &by_common_name(Role::Split, &header),
        false,
    )?;
    let class_names = features.class_names.get(&header[label]).cloned();
    Ok(FileColumns {
        image: header[image].clone(),
        label: header[label].clone(),
        split: split.map(|c| header[c].clone()),
        class_names: class_names.filter(|_| label_type.is_integer()),
    })
}

/// One file, its metadata read and its columns known.
struct OpenFile {
    path: PathBuf,
    shown: String,
    metadata: ArrowReaderMetadata,
    columns: FileColumns,
    /// Digits of the largest row number, for paths that sort in row order.
    row_digits: usize,
}

/// What one row group holds.
struct GroupRead {
    found: Vec<Found>,
    problems: Vec<Problem>,
    unlabelled: usize,
}

fn column_named(batch: &RecordBatch, name: &str) -> Result<ArrayRef, String> {
    batch
        .column_by_name(name)
        .cloned()
        .ok_or_else(|| format!("column {name:?} missing from the batch"))
}

/// Hashes and checks every image of one row group and reads its labels.
fn read_group(file: &OpenFile, group: usize, first_row: usize, full_decode: bool) -> GroupRead {
    let mut read = GroupRead {
        found: Vec::new(),
        problems: Vec::new(),
        unlabelled: 0,
    };
    let columns = &file.columns;
    let at = |row: usize| format!("{}/{row:0width$}", file.shown, width = file.row_digits);
    let rows_in_group = file.metadata.metadata().row_group(group).num_rows().max(0) as usize;
    let whole_group = |reason: String| Problem {
        path: file.shown.clone(),
        reason: format!(
            "rows {first_row}..{} (row group {group}) cannot be read: {reason}",
            first_row + rows_in_group
        ),
    };
    let roots: Vec<&str> = std::iter::once(columns.label.as_str())
        .chain(columns.split.as_deref())
        .collect();
    let mask = ProjectionMask::leaves(
        file.metadata.parquet_schema(),
        leaves(
            &file.metadata,
            &columns.image,
            &[BYTES_FIELD, PATH_FIELD],
            &roots,
        ),
    );
    let reader = std::fs::File::open(&file.path)
        .map_err(|e| e.to_string())
        .and_then(|handle| {
            ParquetRecordBatchReaderBuilder::new_with_metadata(handle, file.metadata.clone())
                .with_row_groups(vec![group])
                .with_projection(mask)
                .with_batch_size(SCAN_BATCH_ROWS)
                .build()
                .map_err(|e| e.to_string())
        });
    let reader = match reader {
        Ok(reader) => reader,
        Err(reason) => {
            read.problems.push(whole_group(reason));
            return read;
        }
    };
    let mut row = first_row;
    let mut row_in_group = 0usize;
    for batch in reader {
        let batch = match batch {
            Ok(batch) => batch,
            Err(e) => {
                read.problems.push(Problem {
                    path: file.shown.clone(),
                    reason: format!(
                        "rows from {row} (row group {group}) cannot be read: {e}; the rows before are kept"
                    ),
                });
                return read;
            }
        };
        let text_of = |name: &str| {
            batch
                .schema()
                .index_of(name)
                .map_err(|e| e.to_string())
                .and_then(|c| column_text(&batch, c, name))
        };
        let labels = text_of(&columns.label);
        let splits = columns.split.as_deref().map(text_of).transpose();
        let images = column_named(&batch, &columns.image);
        let (labels, splits, images) = match (labels, splits, images) {
            (Ok(l), Ok(s), Ok(i)) => (l, s, i),
            (Err(reason), _, _) | (_, Err(reason), _) | (_, _, Err(reason)) => {
                read.problems.push(whole_group(reason));
                return read;
            }
        };
        for i in 0..batch.num_rows() {
            let problem = |reason: String| Problem {
                path: at(row),
                reason: format!("row {row}: {reason}"),
            };
            let outcome = row_outcome(
                file,
                &images,
                i,
                &labels[i],
                splits.as_ref().map(|s| s[i].as_str()),
                full_decode,
            );
            match outcome {
                Ok((class, split, inspection, referenced)) => read.found.push(Found {
                    path: at(row),
                    source: referenced.map_or_else(
                        || ImageSource::ParquetImage {
                            file: file.path.clone(),
                            column: columns.image.clone(),
                            row_group: group,
                            row: row_in_group,
                        },
                        ImageSource::File,
                    ),
                    class,
                    split,
                    inspection,
                }),
                Err(RowProblem::Unlabelled(reason)) => {
                    read.unlabelled += 1;
                    read.problems.push(problem(reason));
                }
                Err(RowProblem::Other(reason)) => read.problems.push(problem(reason)),
            }
            row += 1;
            row_in_group += 1;
        }
    }
    read
}

enum RowProblem {
    Unlabelled(String),
    Other(String),
}

/// A row's class, split, checked image, and the file its image is in when the
/// row names one instead of holding the bytes.
type RowRead = (
    String,
    Option<Split>,
    crate::inspect::Inspection,
    Option<PathBuf>,
);

/// The file an image struct without bytes names: as written when absolute,
/// else beside the Parquet file.
fn referenced_file(file: &OpenFile, named: &str) -> Result<PathBuf, String> {
    let named_path = Path::new(named);
    let candidate = if named_path.is_absolute() {
        named_path.to_path_buf()
    } else {
        file.path
            .parent()
            .unwrap_or_else(|| Path::new("."))
            .join(named_path)
    };
    if candidate.is_file() {
        Ok(candidate)
    } else {
        Err(format!(
            "no image bytes, and the file its path names ({named}) is not there"
        ))
    }
}

/// One row's class, split and checked image.
fn row_outcome(
    file: &OpenFile,
    images: &ArrayRef,
    i: usize,
    label: &str,
    split: Option<&str>,
    full_decode: bool,
) -> Result<RowRead, RowProblem> {
    let label = label.trim();
    let class = match (&file.columns.class_names, label) {
        (_, "") => {
            return Err(RowProblem::Unlabelled(format!(
                "no label (the {} column is empty)",
                file.columns.label
            )))
        }
        (Some(_), "-1") => {
            return Err(RowProblem::Unlabelled(
                "no label (-1, as datasets writes unlabelled rows)".into(),
            ))
        }
        (Some(names), value) => match value.parse::<usize>().ok().and_then(|n| names.get(n)) {
            Some(name) => name.clone(),
            None => {
                return Err(RowProblem::Other(format!(
                    "label {value} is not one of the {} ClassLabel names",
                    names.len()
                )))
            }
        },
        (None, value) => value.to_string(),
    };
    let split = match split.map(str::trim) {
        None => None,
        Some(text) => match split_name(text) {
            SplitName::Split(split) => Some(split),
            SplitName::Ambiguous => {
                return Err(RowProblem::Other(format!(
                    "split {text:?} could be val or test; write val or test"
                )))
            }
            SplitName::NotASplit => {
                return Err(RowProblem::Other(format!(
                    "unknown split {text:?} (expected train, val or test)"
                )))
            }
        },
    };
    match image_cell(images, i) {
        Ok(Some(bytes)) => {
            let inspection = inspect_bytes(bytes, full_decode).map_err(RowProblem::Other)?;
            Ok((class, split, inspection, None))
        }
        Ok(None) => {
            // `to_parquet` of a dataset of local files keeps their paths only.
            let named = image_path_cell(images, i).ok_or_else(|| {
                RowProblem::Other("no image (the image, its bytes and its path are null)".into())
            })?;
            let referenced = referenced_file(file, named).map_err(RowProblem::Other)?;
            let bytes = std::fs::read(&referenced).map_err(|e| {
                RowProblem::Other(format!("{}: cannot read: {e}", referenced.display()))
            })?;
            let inspection = inspect_bytes(&bytes, full_decode).map_err(RowProblem::Other)?;
            Ok((class, split, inspection, Some(referenced)))
        }
        Err(reason) => Err(RowProblem::Other(reason)),
    }
}

pub fn collect(
    root: &Path,
    files: &[PathBuf],
    names: &ColumnNames,
    full_decode: bool,
) -> Result<Collected, DatasetError> {
    let mut problems = Vec::new();
    let mut open = Vec::new();
    for path in files {
        let shown = relative_path(root, path);
        let metadata = match load_metadata(path) {
            Ok(metadata) => metadata,
            Err(reason) => {
                problems.push(Problem {
                    path: shown,
                    reason,
                });
                continue;
            }
        };
        let columns =
            file_columns(metadata.schema(), names).map_err(|reason| DatasetError::Manifest {
                path: path.clone(),
                reason,
            })?;
        let rows = metadata.metadata().file_metadata().num_rows().max(0) as usize;
        open.push(OpenFile {
            path: path.clone(),
            shown,
            metadata,
            columns,
            row_digits: rows.saturating_sub(1).to_string().len(),
        });
    }
    // Every file's labels must mean the same classes.
    let class_names = open.first().and_then(|f| f.columns.class_names.clone());
    if let Some(other) = open.iter().find(|f| f.columns.class_names != class_names) {
        return Err(DatasetError::Manifest {
            path: other.path.clone(),
            reason: format!(
                "its ClassLabel names ({}) differ from {}'s ({}); the files must share one label map",
                other
                    .columns
                    .class_names
                    .as_ref()
                    .map_or("none".into(), |n| n.join(", ")),
                open[0].shown,
                class_names.as_ref().map_or("none".into(), |n| n.join(", "))
            ),
        });
    }
    let has_split_column = open.iter().any(|f| f.columns.split.is_some());
    if has_split_column && open.iter().any(|f| f.columns.split.is_none()) {
        return Err(DatasetError::Manifest {
            path: root.to_path_buf(),
            reason: "some files have a split column and some do not; give every file one, or none (then the file names say the split)".into(),
        });
    }
    let shown: Vec<String> = open.iter().map(|f| f.shown.clone()).collect();
    let (splits_from, file_splits) = if has_split_column {
        (SplitsFrom::ManifestColumn, vec![None; open.len()])
    } else {
        splits_from_file_names(root, &shown)?
    };

    // Every row group of every file, on all cores.
    let mut units = Vec::new();
    for (f, file) in open.iter().enumerate() {
        let mut first_row = 0usize;
        for group in 0..file.metadata.metadata().num_row_groups() {
            units.push((f, group, first_row));
            first_row += file.metadata.metadata().row_group(group).num_rows().max(0) as usize;
        }
    }
    let reads: Vec<GroupRead> = units
        .par_iter()
        .map(|&(f, group, first_row)| read_group(&open[f], group, first_row, full_decode))
        .collect();
    let mut found = Vec::new();
    let mut unlabelled = 0usize;
    for ((f, _, _), read) in units.iter().zip(reads) {
        unlabelled += read.unlabelled;
        problems.extend(read.problems);
        found.extend(read.found.into_iter().map(|mut image| {
            if splits_from == SplitsFrom::ShardNames {
                image.split = file_splits[*f];
            }
            image
        }));
    }

    let mut notes = vec![format!("{} Parquet file(s)", open.len())];
    if let Some(file) = open.first() {
        let columns = &file.columns;
        notes.push(format!(
            "columns: {} the image, {} the label{}{}",
            columns.image,
            columns.label,
            if columns.class_names.is_some() {
                " (ClassLabel names)"
            } else {
                ""
            },
            columns
                .split
                .as_ref()
                .map_or(String::new(), |s| format!(", {s} the split"))
        ));
    }
    if unlabelled > 0 {
        notes.push(format!(
            "{unlabelled} row(s) have no label: left out (each is listed as a problem)"
        ));
    }
    let class_order = match &class_names {
        Some(names) => {
            let present: std::collections::BTreeSet<&str> =
                found.iter().map(|f: &Found| f.class.as_str()).collect();
            let absent: Vec<String> = names
                .iter()
                .filter(|n| !present.contains(n.as_str()))
                .cloned()
                .collect();
            if !absent.is_empty() {
                notes.push(format!(
                    "ClassLabel names without an image, left out of the label map: {}",
                    crate::collect::list_some(&absent, 6)
                ));
            }
            ClassOrder::Given(names.clone())
        }
        None => ClassOrder::NumbersFirst,
    };
    Ok(Collected {
        root: root.to_path_buf(),
        layout: Layout::HfParquet,
        splits_from,
        class_order,
        found,
        problems,
        notes,
    })
}
