//! `--labels FILE`: a CSV or Parquet table of path, label and (optionally) split,
//! as Keras `flow_from_dataframe`, Hugging Face `imagefolder` + `metadata.csv` and
//! competitions (`id,breed`) ship them. Columns are found by their usual names or
//! stated with `--path-column`, `--label-column`, `--split-column`; a path without
//! its extension (or with another) names the one image under the root whose stem
//! it is. Every bad row is a listed problem with its line number; nothing is
//! guessed.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Component, Path, PathBuf};

use arrow_array::{Array, RecordBatch};
use contract::Split;

use crate::collect::{inspect_files, list_some, Candidate, ClassOrder, Collected};
use crate::columns::{self, by_common_name, choose, is_multi_valued, ColumnNames, Role};
use crate::names::{split_name, SplitName};
use crate::report::{Layout, Problem, SplitsFrom};
use crate::s3::{S3Source, S3Url};
use crate::tree::FileTree;
use crate::walk::relative_path;
use crate::DatasetError;

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
    /// The columns read: (path, label, split).
    pub columns: (String, String, Option<String>),
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
    pub fn read(path: &Path, names: &ColumnNames) -> Result<Manifest, DatasetError> {
        if S3Url::is_s3(path) {
            let bytes = read_object(path)?;
            let (table, line_word) = if bytes.starts_with(b"PAR1") {
                (read_parquet(path, bytes::Bytes::from(bytes))?, "row")
            } else {
                (read_csv(path, bytes.as_slice())?, "line")
            };
            return Manifest::from_table(path, table, line_word, names);
        }
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
        let unreadable = |source| DatasetError::Unreadable {
            path: path.to_path_buf(),
            source,
        };
        let file = std::fs::File::open(path).map_err(unreadable)?;
        let (table, line_word) = if is_parquet {
            (read_parquet(path, file)?, "row")
        } else {
            (read_csv(path, file)?, "line")
        };
        Manifest::from_table(path, table, line_word, names)
    }

    fn empty(path: &Path, line_word: &'static str) -> Manifest {
        Manifest {
            path: path.to_path_buf(),
            rows: Vec::new(),
            has_split_column: false,
            columns: Default::default(),
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

/// A manifest as read, before its columns are chosen: every row's fields as
/// text, with its line (CSV) or row (Parquet, from 1).
struct Table {
    header: Vec<String>,
    rows: Vec<(usize, Vec<String>)>,
    /// Parquet columns that cannot be read as text, and why.
    unusable: BTreeMap<usize, String>,
}

impl Manifest {
    /// Chooses the columns (stated or recognised) and keeps each row's path,
    /// label and split; a CSV line with too few fields is a problem.
    fn from_table(
        path: &Path,
        table: Table,
        line_word: &'static str,
        names: &ColumnNames,
    ) -> Result<Manifest, DatasetError> {
        let mut manifest = Manifest::empty(path, line_word);
        let Table {
            header,
            rows,
            unusable,
        } = table;
        let bad = |reason: String| manifest.bad(reason);
        let path_column = choose(
            Role::Path,
            &header,
            names,
            &by_common_name(Role::Path, &header),
            true,
        )
        .map_err(bad)?
        .unwrap_or(0);
        let label_column = choose_label(&header, &rows, names, line_word).map_err(bad)?;
        let split_column = choose(
            Role::Split,
            &header,
            names,
            &by_common_name(Role::Split, &header),
            false,
        )
        .map_err(bad)?;
        for (role, column) in [
            (Role::Path, Some(path_column)),
            (Role::Label, Some(label_column)),
            (Role::Split, split_column),
        ] {
            if let Some(reason) = column.and_then(|c| unusable.get(&c)) {
                return Err(manifest.bad(format!(
                    "the {} column {:?}: {reason}",
                    role.what(),
                    header[column.unwrap_or(0)]
                )));
            }
        }
        let chosen = [path_column, label_column];
        if chosen[0] == chosen[1] || split_column.is_some_and(|s| chosen.contains(&s)) {
            return Err(manifest.bad(format!(
                "one column cannot hold two things: path {:?}, label {:?}, split {:?}",
                header[path_column],
                header[label_column],
                split_column.map(|c| header[c].clone())
            )));
        }
        manifest.has_split_column = split_column.is_some();
        manifest.columns = (
            header[path_column].clone(),
            header[label_column].clone(),
            split_column.map(|c| header[c].clone()),
        );
        let needed = path_column.max(label_column).max(split_column.unwrap_or(0)) + 1;
        for (line, fields) in rows {
            if fields.len() < needed {
                if let Some(path) = fields.get(path_column) {
                    manifest.unreadable_paths.push(path.clone());
                }
                manifest.problems.push(Problem {
                    path: manifest.where_(line),
                    reason: format!(
                        "{}: {} field(s), the header has {}",
                        manifest.where_(line),
                        fields.len(),
                        header.len()
                    ),
                });
                continue;
            }
            manifest.rows.push(ManifestRow {
                line,
                path: fields[path_column].clone(),
                label: fields[label_column].clone(),
                split: split_column.map(|c| fields[c].clone()),
            });
        }
        Ok(manifest)
    }
}

/// The label column: stated, or the one recognised name; `labels` only when it
/// holds one label per row.
fn choose_label(
    header: &[String],
    rows: &[(usize, Vec<String>)],
    names: &ColumnNames,
    line_word: &str,
) -> Result<usize, String> {
    let mut multi_valued = None;
    let candidates: Vec<usize> = by_common_name(Role::Label, header)
        .into_iter()
        .filter(|&c| {
            if !header[c]
                .trim()
                .eq_ignore_ascii_case(columns::MULTI_VALUED_NAME)
            {
                return true;
            }
            let several = rows
                .iter()
                .find(|(_, fields)| fields.get(c).is_some_and(|v| is_multi_valued(v)));
            if let Some((line, fields)) = several {
                multi_valued = Some((header[c].clone(), *line, fields[c].clone()));
            }
            several.is_none()
        })
        .collect();
    match (candidates.is_empty(), names.label.is_none(), multi_valued) {
        (true, true, Some((name, line, value))) => Err(format!(
            "its {name:?} column holds several labels on a row ({line_word} {line}: {value:?}), and effprobe trains single-label classifiers: name a column with one label per row with --label-column NAME (--label-column {name} reads each value as one label)"
        )),
        _ => choose(Role::Label, header, names, &candidates, true).map(|c| c.unwrap_or(0)),
    }
}

/// A manifest in S3 (`--labels s3://bucket/labels.csv`), read whole.
fn read_object(path: &Path) -> Result<Vec<u8>, DatasetError> {
    let shown = path.display().to_string();
    let storage = |reason: String, missing: bool| DatasetError::Storage {
        location: shown.clone(),
        reason,
        missing,
    };
    let url = S3Url::parse(&shown).map_err(|reason| storage(reason, true))?;
    let location = crate::s3::object_path(&url.key).map_err(|reason| storage(reason, true))?;
    let source = S3Source::connect(&url.bucket).map_err(|reason| storage(reason, false))?;
    source.read_all(&location).map_err(|e| {
        let missing = e.kind() == std::io::ErrorKind::NotFound;
        let reason = e.to_string();
        let reason = reason
            .strip_prefix(&format!("{url}: "))
            .unwrap_or(&reason)
            .to_string();
        storage(format!("the --labels manifest: {reason}"), missing)
    })
}

fn read_csv(path: &Path, input: impl std::io::Read) -> Result<Table, DatasetError> {
    let bad = |reason: String| DatasetError::Manifest {
        path: path.to_path_buf(),
        reason,
    };
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(input);
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| bad(format!("cannot read the CSV header: {e}")))?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').to_string())
        .collect();
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| bad(format!("cannot read as CSV: {e}")))?;
        let line = record.position().map_or(0, |p| p.line() as usize);
        rows.push((line, record.iter().map(str::to_string).collect()));
    }
    Ok(Table {
        header,
        rows,
        unusable: BTreeMap::new(),
    })
}

/// A column's values as text: strings as they are, integers in decimal, nulls
/// empty.
pub(crate) fn column_text(
    batch: &RecordBatch,
    column: usize,
    name: &str,
) -> Result<Vec<String>, String> {
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

fn read_parquet(
    path: &Path,
    input: impl parquet::file::reader::ChunkReader + 'static,
) -> Result<Table, DatasetError> {
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let bad = |reason: String| DatasetError::Manifest {
        path: path.to_path_buf(),
        reason,
    };
    let builder = ParquetRecordBatchReaderBuilder::try_new(input)
        .map_err(|e| bad(format!("cannot read as Parquet: {e}")))?;
    let header: Vec<String> = builder
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let reader = builder
        .build()
        .map_err(|e| bad(format!("cannot read as Parquet: {e}")))?;
    let mut rows: Vec<(usize, Vec<String>)> = Vec::new();
    let mut unusable = BTreeMap::new();
    for batch in reader {
        let batch = batch.map_err(|e| bad(format!("cannot read as Parquet: {e}")))?;
        let first = rows.len();
        rows.extend(
            (0..batch.num_rows()).map(|i| (first + i + 1, Vec::with_capacity(header.len()))),
        );
        for (c, name) in header.iter().enumerate() {
            let values = column_text(&batch, c, name).unwrap_or_else(|reason| {
                unusable.insert(c, reason);
                vec![String::new(); batch.num_rows()]
            });
            for (row, value) in rows[first..].iter_mut().zip(values) {
                row.1.push(value);
            }
        }
    }
    Ok(Table {
        header,
        rows,
        unusable,
    })
}

/// What a manifest's path value names under the root.
enum Resolved {
    /// The file itself, or the one image whose stem the value is.
    File(String),
    Missing,
    /// Several images share the stem.
    Several(Vec<String>),
}

/// The images under a root by stem (`train/abc.jpg` → `abc`), built once and only
/// when a manifest names something that is not a file: ids without their
/// extension, or with another.
struct StemIndex {
    by_stem: HashMap<String, Vec<String>>,
}

/// `abc.jpg` → `abc`; `cat.0.jpg` → `cat.0`; `abc` → `abc`.
fn strip_extension(path: &str) -> &str {
    let name_start = path.rfind('/').map_or(0, |i| i + 1);
    match path[name_start..].rfind('.') {
        Some(dot) if dot > 0 => &path[..name_start + dot],
        _ => path,
    }
}

impl StemIndex {
    fn build(tree: &FileTree, root: &Path) -> StemIndex {
        let mut by_stem: HashMap<String, Vec<String>> = HashMap::new();
        for path in tree.visible_files(root).filter_map(Result::ok) {
            let relative = relative_path(root, &path);
            let name = relative.rsplit('/').next().unwrap_or(&relative);
            if crate::inspect::has_image_extension(name) {
                by_stem
                    .entry(strip_extension(name).to_string())
                    .or_default()
                    .push(relative);
            }
        }
        StemIndex { by_stem }
    }

    /// Images whose path without extension is `value` or ends in `/value`.
    fn matches(&self, value: &str) -> Vec<String> {
        let stem = value.rsplit('/').next().unwrap_or(value);
        self.by_stem
            .get(stem)
            .map(|paths| {
                paths
                    .iter()
                    .filter(|p| {
                        let bare = strip_extension(p);
                        bare == value
                            || bare
                                .strip_suffix(value)
                                .is_some_and(|head| head.ends_with('/'))
                    })
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The value as a stem (`abc`, `cat.0`), else without its extension
    /// (`abc.png` for `abc.jpg`).
    fn resolve(&self, value: &str) -> Resolved {
        let mut found = self.matches(value);
        if found.is_empty() && strip_extension(value) != value {
            found = self.matches(strip_extension(value));
        }
        match found.len() {
            0 => Resolved::Missing,
            1 => Resolved::File(found.remove(0)),
            _ => Resolved::Several(found),
        }
    }
}

/// A manifest over the files under `root`.
pub fn collect(
    tree: &FileTree,
    root: &Path,
    manifest: &Manifest,
    full_decode: bool,
) -> Result<Collected, DatasetError> {
    let mut problems = Vec::new();
    let rows = manifest.checked_rows(&mut problems);
    let mut candidates = Vec::new();
    // Every path the manifest names, on good rows or bad: the rest is unlisted.
    let mut listed: BTreeSet<String> = manifest
        .rows
        .iter()
        .map(|r| r.path.as_str())
        .chain(manifest.unreadable_paths.iter().map(String::as_str))
        .map(normalise_path)
        .collect();
    let mut stems: Option<StemIndex> = None;
    let mut missing: Vec<String> = Vec::new();
    let mut by_stem = 0usize;
    let mut first_line: HashMap<String, usize> = HashMap::new();
    for row in &rows {
        let at = manifest.where_(row.line);
        let resolved = if tree.is_file(&root.join(&row.path)) {
            Resolved::File(row.path.clone())
        } else {
            stems
                .get_or_insert_with(|| StemIndex::build(tree, root))
                .resolve(&row.path)
        };
        let file = match resolved {
            Resolved::File(file) => file,
            Resolved::Missing => {
                missing.push(format!("{at}: {:?}", row.path));
                problems.push(Problem {
                    path: row.path.clone(),
                    reason: format!(
                        "{at}: no such file under {} (nor an image whose name without extension is {:?})",
                        root.display(),
                        strip_extension(&row.path)
                    ),
                });
                continue;
            }
            Resolved::Several(files) => {
                problems.push(Problem {
                    path: row.path.clone(),
                    reason: format!(
                        "{at}: {:?} could be any of {} images: {}; write the path with its extension",
                        row.path,
                        files.len(),
                        list_some(&files, 6)
                    ),
                });
                continue;
            }
        };
        if file != row.path {
            by_stem += 1;
        }
        // Two rows naming one file (`abc` and `abc.jpg`): the first is kept.
        match first_line.entry(file.clone()) {
            Entry::Occupied(first) => {
                problems.push(Problem {
                    path: row.path.clone(),
                    reason: format!(
                        "{at}: names {file} again (first on {} {}); the first is kept",
                        manifest.line_word,
                        first.get()
                    ),
                });
                continue;
            }
            Entry::Vacant(slot) => {
                slot.insert(row.line);
            }
        }
        listed.insert(file.clone());
        candidates.push(Candidate {
            absolute: root.join(&file),
            path: file,
            class: row.label.clone(),
            split: row.split,
        });
    }
    if candidates.is_empty() && !missing.is_empty() {
        return Err(DatasetError::ManifestMatchesNothing {
            manifest: manifest.path.clone(),
            root: root.to_path_buf(),
            rows: rows.len(),
            first: rows.first().map(|r| r.path.clone()).unwrap_or_default(),
        });
    }
    let manifest_inside = match tree {
        FileTree::Local => manifest
            .path
            .canonicalize()
            .ok()
            .zip(root.canonicalize().ok()),
        FileTree::Objects(_) => Some((manifest.path.clone(), root.to_path_buf())),
    }
    .and_then(|(m, r)| {
        m.strip_prefix(&r)
            .ok()
            .map(|p| relative_path(Path::new(""), p))
    });
    let unlisted = tree
        .visible_files(root)
        .filter_map(Result::ok)
        .map(|path| relative_path(root, &path))
        .filter(|path| !listed.contains(path) && Some(path) != manifest_inside.as_ref())
        .count();
    let (path_column, label_column, split_column) = &manifest.columns;
    let mut notes = vec![format!(
        "labels from {} (columns: {path_column} the image, {label_column} the label{})",
        manifest.path.display(),
        split_column
            .as_ref()
            .map_or(String::new(), |s| format!(", {s} the split"))
    )];
    if by_stem > 0 {
        notes.push(format!(
            "{by_stem} row(s) name an image by its name without extension (or with another): each matched exactly one image under {}",
            root.display()
        ));
    }
    if !missing.is_empty() {
        notes.push(format!(
            "{} row(s) name a file that is not under {}: left out (the first: {}; every one is listed as a problem)",
            missing.len(),
            root.display(),
            missing[0]
        ));
    }
    if unlisted > 0 {
        notes.push(format!(
            "{unlisted} file(s) under {} are not in the manifest: ignored",
            root.display()
        ));
    }
    let (found, inspect_problems) = inspect_files(tree, candidates, full_decode);
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
