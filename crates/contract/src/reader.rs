use std::fs::File;
use std::path::{Path, PathBuf};

use arrow_array::{Array, FixedSizeListArray, Float32Array, Int32Array, RecordBatch, StringArray};
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::arrow::ProjectionMask;

use crate::schema::{check_schema, ColumnIndex};
use crate::shard_record::{MissingShards, ShardCoverage, ShardSet, ShardSetError};
use crate::{FeatureFileError, FeatureMeta, Result, Split};

/// Rows per streamed batch: bounded memory for files larger than RAM.
const DEFAULT_BATCH_ROWS: usize = 4096;

/// A run of rows, columnar, with features as one row-major `len × feature_dim` block.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FeatureBatch {
    pub feature_dim: usize,
    pub keys: Vec<String>,
    pub paths: Vec<String>,
    pub labels: Vec<i32>,
    pub label_names: Vec<String>,
    pub splits: Vec<Split>,
    pub features: Vec<f32>,
}

impl FeatureBatch {
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn feature(&self, row: usize) -> &[f32] {
        &self.features[row * self.feature_dim..(row + 1) * self.feature_dim]
    }

    pub fn append(&mut self, mut other: FeatureBatch) {
        self.feature_dim = other.feature_dim;
        self.keys.append(&mut other.keys);
        self.paths.append(&mut other.paths);
        self.labels.append(&mut other.labels);
        self.label_names.append(&mut other.label_names);
        self.splits.append(&mut other.splits);
        self.features.append(&mut other.features);
    }
}

/// Streams one feature file, validating its schema and metadata on open and every
/// value as it is read.
pub struct FeatureReader {
    path: PathBuf,
    meta: FeatureMeta,
    columns: ColumnIndex,
    num_rows: usize,
    rows_read: usize,
    batches: ParquetRecordBatchReader,
}

/// Opens a Parquet file and checks its metadata and schema: what every read of a
/// feature file starts with.
fn open_checked(
    path: &Path,
) -> Result<(
    ParquetRecordBatchReaderBuilder<File>,
    FeatureMeta,
    ColumnIndex,
)> {
    let file = File::open(path).map_err(|source| FeatureFileError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|source| {
        FeatureFileError::Parquet {
            path: path.to_path_buf(),
            source,
        }
    })?;
    let meta = FeatureMeta::from_key_values(
        path,
        builder.metadata().file_metadata().key_value_metadata(),
    )?;
    let columns = check_schema(path, builder.schema(), meta.feature_dim)?;
    Ok((builder, meta, columns))
}

impl FeatureReader {
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with_batch_rows(path, DEFAULT_BATCH_ROWS)
    }

    pub fn open_with_batch_rows(path: impl AsRef<Path>, batch_rows: usize) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let (builder, meta, columns) = open_checked(&path)?;
        let num_rows = usize::try_from(builder.metadata().file_metadata().num_rows()).unwrap_or(0);
        let parquet_error = |source| FeatureFileError::Parquet {
            path: path.clone(),
            source,
        };
        let batches = builder
            .with_batch_size(batch_rows.max(1))
            .build()
            .map_err(parquet_error)?;
        Ok(FeatureReader {
            path,
            meta,
            columns,
            num_rows,
            rows_read: 0,
            batches,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn meta(&self) -> &FeatureMeta {
        &self.meta
    }

    pub fn num_rows(&self) -> usize {
        self.num_rows
    }

    /// Only the `key` column, without touching the feature bytes: what a cache
    /// needs to know which images it already holds. Validates like `open`.
    pub fn read_keys(path: impl AsRef<Path>) -> Result<(FeatureMeta, Vec<String>)> {
        let path = path.as_ref().to_path_buf();
        let (builder, meta, columns) = open_checked(&path)?;
        let parquet_error = |source| FeatureFileError::Parquet {
            path: path.clone(),
            source,
        };
        let mask = ProjectionMask::roots(builder.parquet_schema(), [columns.key]);
        let reader = builder
            .with_projection(mask)
            .build()
            .map_err(parquet_error)?;
        let mut keys = Vec::new();
        for batch in reader {
            let batch = batch.map_err(|source| FeatureFileError::Arrow {
                path: path.clone(),
                source,
            })?;
            let array = batch
                .column(0)
                .as_any()
                .downcast_ref::<StringArray>()
                .ok_or_else(|| FeatureFileError::WrongType {
                    path: path.clone(),
                    column: "key",
                    expected: "Utf8".into(),
                    found: batch.column(0).data_type().to_string(),
                })?;
            if array.null_count() > 0 {
                return Err(FeatureFileError::NullValue {
                    path: path.clone(),
                    row: keys.len(),
                    column: "key",
                });
            }
            keys.extend(array.iter().map(|k| k.unwrap_or_default().to_string()));
        }
        Ok((meta, keys))
    }

    /// Reads every remaining row into one batch.
    pub fn read_all(self) -> Result<FeatureBatch> {
        let dim = self.meta.feature_dim;
        let mut all = FeatureBatch {
            feature_dim: dim,
            ..Default::default()
        };
        all.features.reserve(self.num_rows * dim);
        for batch in self {
            all.append(batch?);
        }
        Ok(all)
    }

    fn convert(&self, batch: &RecordBatch) -> Result<FeatureBatch> {
        let first_row = self.rows_read;
        let path = &self.path;
        let no_nulls = |column: &'static str, array: &dyn Array| -> Result<()> {
            match (0..array.len()).find(|&i| array.is_null(i)) {
                Some(i) => Err(FeatureFileError::NullValue {
                    path: path.clone(),
                    row: first_row + i,
                    column,
                }),
                None => Ok(()),
            }
        };
        let strings = |index: usize, column: &'static str| -> Result<Vec<String>> {
            let array = batch.column(index);
            no_nulls(column, array.as_ref())?;
            let array = array
                .as_any()
                .downcast_ref::<StringArray>()
                .ok_or_else(|| FeatureFileError::WrongType {
                    path: path.clone(),
                    column,
                    expected: "Utf8".into(),
                    found: array.data_type().to_string(),
                })?;
            Ok(array
                .iter()
                .map(|v| v.unwrap_or_default().to_string())
                .collect())
        };
        let keys = strings(self.columns.key, "key")?;
        let paths = strings(self.columns.path, "path")?;
        let label_names = strings(self.columns.label_name, "label_name")?;
        let splits = strings(self.columns.split, "split")?
            .iter()
            .enumerate()
            .map(|(i, s)| {
                s.parse::<Split>()
                    .map_err(|reason| FeatureFileError::InvalidSplit {
                        path: path.clone(),
                        row: first_row + i,
                        reason,
                    })
            })
            .collect::<Result<Vec<_>>>()?;

        let labels = batch.column(self.columns.label);
        no_nulls("label", labels.as_ref())?;
        let labels = labels
            .as_any()
            .downcast_ref::<Int32Array>()
            .map(|a| a.values().to_vec())
            .unwrap_or_default();

        let features = batch.column(self.columns.feature);
        no_nulls("feature", features.as_ref())?;
        let features = features
            .as_any()
            .downcast_ref::<FixedSizeListArray>()
            .ok_or_else(|| FeatureFileError::WrongType {
                path: path.clone(),
                column: "feature",
                expected: "FixedSizeList<Float32, D>".into(),
                found: features.data_type().to_string(),
            })?;
        let values = features.values();
        no_nulls("feature", values.as_ref())?;
        let values = values
            .as_any()
            .downcast_ref::<Float32Array>()
            .ok_or_else(|| FeatureFileError::WrongType {
                path: path.clone(),
                column: "feature",
                expected: "FixedSizeList<Float32, D>".into(),
                found: features.data_type().to_string(),
            })?;
        let dim = self.meta.feature_dim;
        let start = features.offset() * dim;
        let features: Vec<f32> = values.values()[start..start + features.len() * dim].to_vec();
        if let Some(position) = features.iter().position(|v| !v.is_finite()) {
            let row = position / dim;
            return Err(FeatureFileError::NonFinite {
                path: path.clone(),
                row: first_row + row,
                key: keys[row].clone(),
                index: position % dim,
                value: features[position],
            });
        }
        Ok(FeatureBatch {
            feature_dim: dim,
            keys,
            paths,
            labels,
            label_names,
            splits,
            features,
        })
    }
}

impl Iterator for FeatureReader {
    type Item = Result<FeatureBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        let batch = match self.batches.next()? {
            Ok(batch) => batch,
            Err(source) => {
                return Some(Err(FeatureFileError::Arrow {
                    path: self.path.clone(),
                    source,
                }))
            }
        };
        let converted = self.convert(&batch);
        self.rows_read += batch.num_rows();
        Some(converted)
    }
}

/// A feature file, or a directory of part files (one per shard or chunk) read as
/// one dataset. All parts must hold the same features (variant, weights, recipe).
#[derive(Clone, Debug)]
pub struct FeatureDataset {
    path: PathBuf,
    parts: Vec<PathBuf>,
    meta: FeatureMeta,
    num_rows: usize,
}

impl FeatureDataset {
    /// A file, or every part file of a folder, whatever its shards' state: for
    /// reading what features are there (their metadata, timings).
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let parts = if path.is_dir() {
            list_parts(&path)?
        } else {
            vec![path.clone()]
        };
        Self::open_parts(path, parts)
    }

    /// For training: a file, a folder of part files, or a folder of `extract
    /// --shard` parts whose shards are all done (see [`crate::shard_record`]).
    /// With [`MissingShards::Allow`] a shard set with gaps reads its done shards,
    /// and the coverage returned says which were left out.
    pub fn open_with(
        path: impl AsRef<Path>,
        partial: MissingShards,
    ) -> Result<(Self, Option<ShardCoverage>)> {
        let path = path.as_ref().to_path_buf();
        if !path.is_dir() {
            return Ok((Self::open(path)?, None));
        }
        let shards = ShardSet::scan(&path)
            .map_err(ShardSetError::from)?
            .readable(partial)?;
        let parts = match &shards {
            Some(coverage) => coverage.parts.clone(),
            None => list_parts(&path)?,
        };
        Ok((Self::open_parts(path, parts)?, shards))
    }

    fn open_parts(path: PathBuf, parts: Vec<PathBuf>) -> Result<Self> {
        if parts.is_empty() {
            return Err(FeatureFileError::EmptyDirectory { path });
        }
        let first = FeatureReader::open(&parts[0])?;
        let meta = first.meta().clone();
        let mut num_rows = first.num_rows();
        for part in &parts[1..] {
            let reader = FeatureReader::open(part)?;
            let other = reader.meta();
            let disagree = |what: &'static str, expected: String, found: String| {
                FeatureFileError::PartsDisagree {
                    path: part.clone(),
                    first: parts[0].clone(),
                    what,
                    expected,
                    found,
                }
            };
            if !meta.same_features_as(other) {
                return Err(disagree(
                    "variant, weights or preprocessing",
                    format!(
                        "{} {} {}",
                        meta.variant, meta.weights.blake3, meta.feature_dim
                    ),
                    format!(
                        "{} {} {}",
                        other.variant, other.weights.blake3, other.feature_dim
                    ),
                ));
            }
            if meta.classes != other.classes {
                return Err(disagree(
                    "classes",
                    meta.classes.join(","),
                    other.classes.join(","),
                ));
            }
            num_rows += reader.num_rows();
        }
        Ok(FeatureDataset {
            path,
            parts,
            meta,
            num_rows,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn parts(&self) -> &[PathBuf] {
        &self.parts
    }

    /// The metadata of the first part; the others agree on everything but timestamps.
    pub fn meta(&self) -> &FeatureMeta {
        &self.meta
    }

    pub fn num_rows(&self) -> usize {
        self.num_rows
    }

    /// Streams every part in order.
    pub fn batches(&self) -> impl Iterator<Item = Result<FeatureBatch>> + '_ {
        self.parts
            .iter()
            .flat_map(|part| match FeatureReader::open(part) {
                Ok(reader) => Box::new(reader) as Box<dyn Iterator<Item = Result<FeatureBatch>>>,
                Err(error) => Box::new(std::iter::once(Err(error))),
            })
    }

    pub fn read_all(&self) -> Result<FeatureBatch> {
        let dim = self.meta.feature_dim;
        let mut all = FeatureBatch {
            feature_dim: dim,
            ..Default::default()
        };
        all.features.reserve(self.num_rows * dim);
        for batch in self.batches() {
            all.append(batch?);
        }
        Ok(all)
    }
}

/// `*.parquet` files directly in `dir`, sorted by name; hidden files (including
/// writers' in-progress temporaries) are not parts.
fn list_parts(dir: &Path) -> Result<Vec<PathBuf>> {
    let io_error = |source| FeatureFileError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut parts = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io_error)? {
        let entry_path = entry.map_err(io_error)?.path();
        let name = entry_path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("");
        if !name.starts_with('.') && name.ends_with(".parquet") && entry_path.is_file() {
            parts.push(entry_path);
        }
    }
    parts.sort();
    if parts.is_empty() {
        return Err(FeatureFileError::EmptyDirectory {
            path: dir.to_path_buf(),
        });
    }
    Ok(parts)
}
