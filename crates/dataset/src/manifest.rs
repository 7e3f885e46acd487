//! `--labels FILE`: a CSV or Parquet table of path, label and (optionally) split,
//! as Keras `flow_from_dataframe` and Hugging Face `imagefolder` + `metadata.csv`
//! use. Every bad row is a listed problem with its line number; nothing is
//! guessed.

use std::collections::{BTreeSet, HashMap};
use std::path::{Component, Path, PathBuf};

use arrow_array::{Array, RecordBatch};
use contract::Split;

use crate::collect::{inspect_files, list_some, Candidate, ClassOrder, Collected};
use crate::names::{split_name, SplitName};
use crate::report::{Layout, Problem, SplitsFrom};
use crate::walk::{relative_path, visible_files};
use crate::DatasetError;

const PATH_COLUMNS: [&str; 3] = ["path", "file_name", "filename"];
const LABEL_COLUMNS: [&str; 2] = ["label", "class"];
const SPLIT_COLUMN: &str = "split";

/// One data row as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManifestRow {
    /// The line of a CSV file (the header is line 1), or the row of a Parquet
    /// file counted from 1.
    pub line: usize,
    pub path: String,
    pub label: String,
    pub split: Option<String>,
}

#[derive(Clone, Debug)]
pub struct Manifest {
    pub path: PathBuf,
    pub rows: Vec<ManifestRow>,
    pub has_split_column: bool,
    /// Rows that could not be read at all (a CSV line with too few fields).
    pub problems: Vec<Problem>,
    /// The paths those rows name, when they name one: listed, if not usable.
    pub unreadable_paths: Vec<String>,
    /// `line` for CSV, `row` for Parquet.
    pub line_word: &'static str,
}

/// A manifest row that names a usable place, label and split.
pub struct CheckedRow {
    pub line: usize,
    pub path: String,
    pub label: String,
    pub split: Option<Split>,
}

impl Manifest {
    pub fn read(path: &Path) -> Result<Manifest, DatasetError> {
        if !path.is_file() {
            return Err(DatasetError::NotFound {
                path: path.to_path_buf(),
                what: "the --labels manifest",
            });
        }
        let is_parquet = std::fs::File::open(path)
            .and_then(|mut f| {
                use std::io::Read;
                let mut magic = [0u8; 4];
                f.read_exact(&mut magic).map(|_| magic == *b"PAR1")
            })
            .unwrap_or(false);
        if is_parquet {
            read_parquet(path)
        } else {
            read_csv(path)
        }
    }

    fn empty(path: &Path, line_word: &'static str) -> Manifest {
        Manifest {
            path: path.to_path_buf(),
            rows: Vec::new(),
            has_split_column: false,
            problems: Vec::new(),
            unreadable_paths: Vec::new(),
            line_word,
        }
    }

    fn bad(&self, reason: String) -> DatasetError {
        DatasetError::Manifest {
            path: self.path.clone(),
            reason,
        }
    }

    fn where_(&self, line: usize) -> String {
        let name = self.path.file_name().map_or_else(
            || self.path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        format!("{name} {} {line}", self.line_word)
    }

    /// Rows with a path that stays inside the root, a label and a known split;
    /// every other row becomes a problem. Duplicate paths keep their first row.
    pub fn checked_rows(&self, problems: &mut Vec<Problem>) -> Vec<CheckedRow> {
        problems.extend(self.problems.iter().cloned());
        let mut first_line: HashMap<String, usize> = HashMap::new();
        let mut rows = Vec::new();
        for row in &self.rows {
            let at = self.where_(row.line);
            let problem = |path: &str, reason: String| Problem {
                path: if path.is_empty() {
                    at.clone()
                } else {
                    path.to_string()
                },
                reason,
            };
            let path = normalise_path(&row.path);
            if path.is_empty() {
                problems.push(problem("", format!("{at}: empty path")));
                continue;
            }
            if leaves_root(&path) {
                problems.push(problem(
                    &path,
                    format!("{at}: the path leaves the dataset root (absolute or ..); paths are relative to --data"),
                ));
                continue;
            }
            if let Some(first) = first_line.get(&path) {
                problems.push(problem(
                    &path,
                    format!(
                        "{at}: listed again (first on {} {first}); the first is kept",
                        self.line_word
                    ),
                ));
                continue;
            }
            first_line.insert(path.clone(), row.line);
            let label = row.label.trim();
            if label.is_empty() {
                problems.push(problem(&path, format!("{at}: empty label")));
                continue;
            }
            let split = match row.split.as_deref().map(str::trim) {
                None => None,
                Some("") => {
                    problems.push(problem(&path, format!("{at}: empty split (the split column needs train, val or test on every row)")));
                    continue;
                }
                Some(text) => match split_name(text) {
                    SplitName::Split(split) => Some(split),
                    SplitName::Ambiguous => {
                        problems.push(problem(
                            &path,
                            format!("{at}: split {text:?} could be val or test; write val or test"),
                        ));
                        continue;
                    }
                    SplitName::NotASplit => {
                        problems.push(problem(
                            &path,
                            format!("{at}: unknown split {text:?} (expected train, val or test)"),
                        ));
                        continue;
                    }
                },
            };
            rows.push(CheckedRow {
                line: row.line,
                path,
                label: label.to_string(),
                split,
            });
        }
        rows
    }
}

/// `./a//b.jpg` → `a/b.jpg`; backslashes are kept (they are valid in names).
fn normalise_path(path: &str) -> String {
    let trimmed = path.trim();
    if trimmed.starts_with('/') {
        return trimmed.to_string();
    }
    trimmed
        .split('/')
        .filter(|part| !part.is_empty() && *part != ".")
        .collect::<Vec<_>>()
        .join("/")
}

fn leaves_root(path: &str) -> bool {
    Path::new(path)
        .components()
        .any(|c| !matches!(c, Component::Normal(_)))
}

fn find_column(
    columns: &[String],
    wanted: &[&str],
    what: &str,
    required: bool,
) -> Result<Option<usize>, String> {
    let found: Vec<usize> = columns
        .iter()
        .enumerate()
        .filter(|(_, c)| wanted.contains(&c.trim().to_lowercase().as_str()))
        .map(|(i, _)| i)
        .collect();
    match found.as_slice() {
        [] if required => Err(format!(
            "no {what} column (expected one of {}); its columns are {}",
            wanted.join(", "),
            list_some(columns, 8)
        )),
        [] => Ok(None),
        [one] => Ok(Some(*one)),
        several => Err(format!(
            "several {what} columns ({}); keep one",
            several
                .iter()
                .map(|&i| columns[i].clone())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

struct Columns {
    path: usize,
    label: usize,
    split: Option<usize>,
}

fn columns_of(header: &[String]) -> Result<Columns, String> {
    Ok(Columns {
        path: find_column(header, &PATH_COLUMNS, "path", true)?.unwrap_or(0),
        label: find_column(header, &LABEL_COLUMNS, "label", true)?.unwrap_or(0),
        split: find_column(header, &[SPLIT_COLUMN], "split", false)?,
    })
}

fn read_csv(path: &Path) -> Result<Manifest, DatasetError> {
    let mut manifest = Manifest::empty(path, "line");
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(path)
        .map_err(|e| manifest.bad(format!("cannot read as CSV: {e}")))?;
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| manifest.bad(format!("cannot read the CSV header: {e}")))?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').to_string())
        .collect();
    let columns = columns_of(&header).map_err(|reason| manifest.bad(reason))?;
    manifest.has_split_column = columns.split.is_some();
    let needed = columns
        .path
        .max(columns.label)
        .max(columns.split.unwrap_or(0))
        + 1;
    for record in reader.records() {
        let record = record.map_err(|e| manifest.bad(format!("cannot read as CSV: {e}")))?;
        let line = record.position().map_or(0, |p| p.line() as usize);
        if record.len() < needed {
            if let Some(path) = record.get(columns.path) {
                manifest.unreadable_paths.push(path.to_string());
            }
            manifest.problems.push(Problem {
                path: manifest.where_(line),
                reason: format!(
                    "{}: {} field(s), the header has {}",
                    manifest.where_(line),
                    record.len(),
                    header.len()
                ),
            });
            continue;
        }
        manifest.rows.push(ManifestRow {
            line,
            path: record[columns.path].to_string(),
            label: record[columns.label].to_string(),
            split: columns.split.map(|c| record[c].to_string()),
        });
    }
    Ok(manifest)
}

/// A column's values as text: strings as they are, integers in decimal, nulls
/// empty.
fn column_text(batch: &RecordBatch, column: usize, name: &str) -> Result<Vec<String>, String> {
    use arrow_array::cast::AsArray;
    use arrow_array::types::*;
    use arrow_schema::DataType;
    let array = batch.column(column);
    let text = |i: usize, value: String| {
        if array.is_null(i) {
            String::new()
        } else {
            value
        }
    };
    let values: Vec<String> = match array.data_type() {
        DataType::Utf8 => {
            let a = array.as_string::<i32>();
            (0..a.len())
                .map(|i| text(i, a.value(i).to_string()))
                .collect()
        }
        DataType::LargeUtf8 => {
            let a = array.as_string::<i64>();
            (0..a.len())
                .map(|i| text(i, a.value(i).to_string()))
                .collect()
        }
        DataType::Utf8View => {
            let a = array.as_string_view();
            (0..a.len())
                .map(|i| text(i, a.value(i).to_string()))
                .collect()
        }
        DataType::Int8 => integers(array.as_primitive::<Int8Type>(), text),
        DataType::Int16 => integers(array.as_primitive::<Int16Type>(), text),
        DataType::Int32 => integers(array.as_primitive::<Int32Type>(), text),
        DataType::Int64 => integers(array.as_primitive::<Int64Type>(), text),
        DataType::UInt8 => integers(array.as_primitive::<UInt8Type>(), text),
        DataType::UInt16 => integers(array.as_primitive::<UInt16Type>(), text),
        DataType::UInt32 => integers(array.as_primitive::<UInt32Type>(), text),
        DataType::UInt64 => integers(array.as_primitive::<UInt64Type>(), text),
        other => {
            return Err(format!(
                "column {name:?} holds {other}; expected text or integers"
            ))
        }
    };
    Ok(values)
}

fn integers<T: arrow_array::ArrowPrimitiveType>(
    array: &arrow_array::PrimitiveArray<T>,
    text: impl Fn(usize, String) -> String,
) -> Vec<String>
where
    T::Native: std::fmt::Display,
{
    (0..array.len())
        .map(|i| text(i, array.value(i).to_string()))
        .collect()
}

fn read_parquet(path: &Path) -> Result<Manifest, DatasetError> {
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let mut manifest = Manifest::empty(path, "row");
    let file = std::fs::File::open(path).map_err(|source| DatasetError::Unreadable {
        path: path.to_path_buf(),
        source,
    })?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| manifest.bad(format!("cannot read as Parquet: {e}")))?;
    let header: Vec<String> = builder
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let columns = columns_of(&header).map_err(|reason| manifest.bad(reason))?;
    manifest.has_split_column = columns.split.is_some();
    let reader = builder
        .build()
        .map_err(|e| manifest.bad(format!("cannot read as Parquet: {e}")))?;
    let mut row = 0usize;
    for batch in reader {
        let batch = batch.map_err(|e| manifest.bad(format!("cannot read as Parquet: {e}")))?;
        let bad = |reason| manifest.bad(reason);
        let paths = column_text(&batch, columns.path, &header[columns.path]).map_err(bad)?;
        let labels = column_text(&batch, columns.label, &header[columns.label]).map_err(bad)?;
        let splits = columns
            .split
            .map(|c| column_text(&batch, c, &header[c]))
            .transpose()
            .map_err(bad)?;
        for i in 0..batch.num_rows() {
            row += 1;
            manifest.rows.push(ManifestRow {
                line: row,
                path: paths[i].clone(),
                label: labels[i].clone(),
                split: splits.as_ref().map(|s| s[i].clone()),
            });
        }
    }
    Ok(manifest)
}

/// A manifest over the files under `root`.
pub fn collect(
    root: &Path,
    manifest: &Manifest,
    full_decode: bool,
) -> Result<Collected, DatasetError> {
    let mut problems = Vec::new();
    let rows = manifest.checked_rows(&mut problems);
    let mut candidates = Vec::new();
    // Every path the manifest names, on good rows or bad: the rest is unlisted.
    let listed: BTreeSet<String> = manifest
        .rows
        .iter()
        .map(|r| r.path.as_str())
        .chain(manifest.unreadable_paths.iter().map(String::as_str))
        .map(normalise_path)
        .collect();
    let mut missing = 0usize;
    for row in &rows {
        let absolute = root.join(&row.path);
        if !absolute.is_file() {
            missing += 1;
            problems.push(Problem {
                path: row.path.clone(),
                reason: format!(
                    "{}: no such file under {}",
                    manifest.where_(row.line),
                    root.display()
                ),
            });
            continue;
        }
        candidates.push(Candidate {
            path: row.path.clone(),
            absolute,
            class: row.label.clone(),
            split: row.split,
        });
    }
    if candidates.is_empty() && missing > 0 {
        return Err(DatasetError::ManifestMatchesNothing {
            manifest: manifest.path.clone(),
            root: root.to_path_buf(),
            rows: rows.len(),
            first: rows.first().map(|r| r.path.clone()).unwrap_or_default(),
        });
    }
    let manifest_inside = manifest
        .path
        .canonicalize()
        .ok()
        .zip(root.canonicalize().ok())
        .and_then(|(m, r)| {
            m.strip_prefix(&r)
                .ok()
                .map(|p| relative_path(Path::new(""), p))
        });
    let unlisted = visible_files(root)
        .filter_map(Result::ok)
        .map(|path| relative_path(root, &path))
        .filter(|path| !listed.contains(path) && Some(path) != manifest_inside.as_ref())
        .count();
    let mut notes = vec![format!("labels from {}", manifest.path.display())];
    if unlisted > 0 {
        notes.push(format!(
            "{unlisted} file(s) under {} are not in the manifest: ignored",
            root.display()
        ));
    }
    let (found, inspect_problems) = inspect_files(candidates, full_decode);
    problems.extend(inspect_problems);
    Ok(Collected {
        root: root.to_path_buf(),
        layout: Layout::Manifest,
        splits_from: if manifest.has_split_column {
            SplitsFrom::ManifestColumn
        } else {
            SplitsFrom::Hash
        },
        class_order: ClassOrder::NumbersFirst,
        found,
        problems,
        notes,
    })
}
