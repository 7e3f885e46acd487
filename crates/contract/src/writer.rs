use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::builder::{Float32Builder, Int32Builder, StringBuilder};
use arrow_array::{ArrayRef, FixedSizeListArray, RecordBatch};
use arrow_schema::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, Encoding};
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;

use crate::atomic::AtomicFile;
use crate::schema::{feature_item_field, feature_schema, FEATURE};
use crate::{FeatureFileError, FeatureMeta, Result, Split};

/// One image's entry in a feature file.
#[derive(Clone, Debug, PartialEq)]
pub struct FeatureRow {
    /// blake3 hex of the image file's bytes.
    pub key: String,
    /// Relative to the dataset root, `/`-separated.
    pub path: String,
    pub label: i32,
    pub label_name: String,
    pub split: Split,
    pub feature: Vec<f32>,
}

/// Writes a feature file incrementally, one row group at a time, so memory stays
/// bounded whatever the dataset size.
///
/// Rows go to a temporary file beside the target that is renamed into place by
/// [`FeatureWriter::finish`]: a crash or an error never leaves a half-written file
/// under the real name, and never damages a file already there.
pub struct FeatureWriter {
    target: PathBuf,
    temporary: PathBuf,
    writer: Option<ArrowWriter<AtomicFile>>,
    schema: SchemaRef,
    feature_dim: usize,
    pending: Vec<FeatureRow>,
    rows_per_group: usize,
    rows_written: usize,
}

/// Rows per row group: ~10 MB of B7 features, small enough to stream, large
/// enough that per-group overhead vanishes.
const DEFAULT_ROWS_PER_GROUP: usize = 1024;

impl FeatureWriter {
    pub fn create(path: impl AsRef<Path>, meta: &FeatureMeta) -> Result<Self> {
        let target = path.as_ref().to_path_buf();
        let file = AtomicFile::create(&target).map_err(|source| FeatureFileError::Io {
            path: target.clone(),
            source,
        })?;
        let temporary = file.temporary().to_path_buf();

        let key_values = meta.to_key_values();
        // In both places: the Parquet footer for every reader, the embedded Arrow
        // schema because pyarrow shows only that one when it is present.
        let schema_metadata: std::collections::HashMap<String, String> = key_values
            .iter()
            .map(|kv| (kv.key.clone(), kv.value.clone().unwrap_or_default()))
            .collect();
        let schema: SchemaRef =
            Arc::new(feature_schema(meta.feature_dim).with_metadata(schema_metadata));
        let feature_values = ColumnPath::new(vec![FEATURE.into(), "list".into(), "item".into()]);
        // Floats do not repeat, so dictionary pages only cost time; byte-stream-split
        // lets the compressor find the slowly varying exponent bytes.
        let properties = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_column_dictionary_enabled(feature_values.clone(), false)
            .set_column_encoding(feature_values, Encoding::BYTE_STREAM_SPLIT)
            .set_key_value_metadata(Some(key_values))
            .build();
        let writer =
            ArrowWriter::try_new(file, schema.clone(), Some(properties)).map_err(|source| {
                FeatureFileError::Parquet {
                    path: temporary.clone(),
                    source,
                }
            })?;
        Ok(FeatureWriter {
            target,
            temporary,
            writer: Some(writer),
            schema,
            feature_dim: meta.feature_dim,
            pending: Vec::new(),
            rows_per_group: DEFAULT_ROWS_PER_GROUP,
            rows_written: 0,
        })
    }

    pub fn with_rows_per_group(mut self, rows: usize) -> Self {
        self.rows_per_group = rows.max(1);
        self
    }

    /// Rejects rows of the wrong width or with NaN/Inf: a file this writer
    /// produces always passes the reader's checks.
    pub fn write_row(&mut self, row: FeatureRow) -> Result<()> {
        let row_number = self.rows_written + self.pending.len();
        if row.feature.len() != self.feature_dim {
            return Err(FeatureFileError::RowLength {
                path: self.target.clone(),
                row: row_number,
                expected: self.feature_dim,
                found: row.feature.len(),
            });
        }
        if let Some((index, value)) = row.feature.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(FeatureFileError::NonFinite {
                path: self.target.clone(),
                row: row_number,
                key: row.key,
                index,
                value: *value,
            });
        }
        self.pending.push(row);
        if self.pending.len() >= self.rows_per_group {
            self.flush_group()?;
        }
        Ok(())
    }

    pub fn write_rows(&mut self, rows: impl IntoIterator<Item = FeatureRow>) -> Result<()> {
        rows.into_iter().try_for_each(|row| self.write_row(row))
    }

    pub fn rows_written(&self) -> usize {
        self.rows_written + self.pending.len()
    }

    fn flush_group(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let batch = self
            .pending_batch()
            .map_err(|source| FeatureFileError::Arrow {
                path: self.temporary.clone(),
                source,
            })?;
        let parquet_error = |source| FeatureFileError::Parquet {
            path: self.temporary.clone(),
            source,
        };
        if let Some(writer) = self.writer.as_mut() {
            writer.write(&batch).map_err(parquet_error)?;
            writer.flush().map_err(parquet_error)?;
        }
        self.rows_written += self.pending.len();
        self.pending.clear();
        Ok(())
    }

    fn pending_batch(&self) -> std::result::Result<RecordBatch, arrow_schema::ArrowError> {
        let rows = &self.pending;
        let mut keys = StringBuilder::new();
        let mut paths = StringBuilder::new();
        let mut labels = Int32Builder::with_capacity(rows.len());
        let mut label_names = StringBuilder::new();
        let mut splits = StringBuilder::new();
        let mut values = Float32Builder::with_capacity(rows.len() * self.feature_dim);
        for row in rows {
            keys.append_value(&row.key);
            paths.append_value(&row.path);
            labels.append_value(row.label);
            label_names.append_value(&row.label_name);
            splits.append_value(row.split.as_str());
            values.append_slice(&row.feature);
        }
        let features = FixedSizeListArray::try_new(
            feature_item_field(),
            self.feature_dim as i32,
            Arc::new(values.finish()),
            None,
        )?;
        let columns: Vec<ArrayRef> = vec![
            Arc::new(keys.finish()),
            Arc::new(paths.finish()),
            Arc::new(labels.finish()),
            Arc::new(label_names.finish()),
            Arc::new(splits.finish()),
            Arc::new(features),
        ];
        RecordBatch::try_new(self.schema.clone(), columns)
    }

    /// Writes the footer, syncs, and atomically renames the file into place.
    pub fn finish(mut self) -> Result<usize> {
        self.flush_group()?;
        let temporary = self.temporary.clone();
        let io_error = |path: &Path| {
            let path = path.to_path_buf();
            move |source| FeatureFileError::Io { path, source }
        };
        if let Some(writer) = self.writer.take() {
            let file = writer
                .into_inner()
                .map_err(|source| FeatureFileError::Parquet {
                    path: temporary.clone(),
                    source,
                })?;
            file.commit().map_err(io_error(&self.target))?;
        }
        Ok(self.rows_written)
    }
}
