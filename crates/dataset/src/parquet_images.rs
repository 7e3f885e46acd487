//! Images stored in Parquet cells (a struct column of `bytes` and `path`, as
//! Hugging Face `datasets` writes its `Image` feature), read in place.
//!
//! A cell cannot be read on its own: Parquet compresses a column a page at a time,
//! and `datasets` writes an image column's row group (100 rows) as one page. So a
//! row group's image column is decoded once and kept in a small cache shared by
//! every reader thread, bounded by memory, least recently used first out; the
//! pipeline reads images in path order (file, then row), so each row group is
//! decoded about once per run.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef};
use arrow_schema::DataType;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};
use parquet::arrow::ProjectionMask;

/// Decoded row groups kept at most (bytes of their image columns); the most
/// recently used one is always kept.
const CACHE_BUDGET_BYTES: usize = 512 << 20;

/// The field of an image struct that holds the encoded image.
pub const BYTES_FIELD: &str = "bytes";
/// The field that names the image's file: its original name when the bytes are
/// there (as the hub serves them), the file to read when they are not (as
/// `to_parquet` writes a dataset of local files).
pub const PATH_FIELD: &str = "path";

/// A Parquet file's footer, parsed once.
pub fn load_metadata(path: &Path) -> Result<ArrowReaderMetadata, String> {
    let file = File::open(path).map_err(|e| format!("cannot read: {e}"))?;
    ArrowReaderMetadata::load(&file, ArrowReaderOptions::new())
        .map_err(|e| format!("not a readable Parquet file: {e}"))
}

/// Whether a column's type is an image struct: a `bytes` field of binary data.
pub fn is_image_struct(data_type: &DataType) -> bool {
    match data_type {
        DataType::Struct(fields) => fields.iter().any(|f| {
            f.name() == BYTES_FIELD
                && matches!(
                    f.data_type(),
                    DataType::Binary | DataType::LargeBinary | DataType::BinaryView
                )
        }),
        _ => false,
    }
}

/// Leaf columns (Parquet's numbering) of the top-level columns `roots`, and of the
/// image struct's `fields` (`bytes`, `path`) for `image`.
pub fn leaves(
    metadata: &ArrowReaderMetadata,
    image: &str,
    fields: &[&str],
    roots: &[&str],
) -> Vec<usize> {
    metadata
        .parquet_schema()
        .columns()
        .iter()
        .enumerate()
        .filter(|(_, column)| {
            let parts = column.path().parts();
            (parts.len() == 2 && parts[0] == image && fields.contains(&parts[1].as_str()))
                || roots.iter().any(|root| parts[0] == *root)
        })
        .map(|(i, _)| i)
        .collect()
}

/// The encoded image in row `row` of an image struct column as read: `None`
/// when the struct or its bytes are null.
pub fn image_cell(column: &ArrayRef, row: usize) -> Result<Option<&[u8]>, String> {
    let structs = column.as_struct_opt().ok_or_else(|| {
        format!(
            "the image column holds {}, not a struct",
            column.data_type()
        )
    })?;
    let bytes = structs
        .column_by_name(BYTES_FIELD)
        .ok_or_else(|| "the image struct has no bytes field".to_string())?;
    if structs.is_null(row) {
        return Ok(None);
    }
    Ok(binary_value(bytes.as_ref(), row))
}

/// The `path` field of row `row` of an image struct column, when there is one.
pub fn image_path_cell(column: &ArrayRef, row: usize) -> Option<&str> {
    let structs = column.as_struct_opt()?;
    let paths = structs.column_by_name(PATH_FIELD)?;
    if structs.is_null(row) || paths.is_null(row) {
        return None;
    }
    match paths.data_type() {
        DataType::Utf8 => Some(paths.as_string::<i32>().value(row)),
        DataType::LargeUtf8 => Some(paths.as_string::<i64>().value(row)),
        DataType::Utf8View => Some(paths.as_string_view().value(row)),
        _ => None,
    }
}

/// Row `row` of a binary column: `None` when it is null.
fn binary_value(array: &dyn Array, row: usize) -> Option<&[u8]> {
    if array.is_null(row) {
        return None;
    }
    match array.data_type() {
        DataType::Binary => Some(array.as_binary::<i32>().value(row)),
        DataType::LargeBinary => Some(array.as_binary::<i64>().value(row)),
        DataType::BinaryView => Some(array.as_binary_view().value(row)),
        _ => None,
    }
}

static DECODED: AtomicU64 = AtomicU64::new(0);

#[derive(Clone, Debug, Hash, PartialEq, Eq)]
struct GroupKey {
    file: PathBuf,
    column: String,
    row_group: usize,
}

struct GroupSlot {
    bytes: OnceLock<Result<ArrayRef, String>>,
    last_used: AtomicU64,
}

#[derive(Default)]
struct Cache {
    metadata: HashMap<PathBuf, ArrowReaderMetadata>,
    groups: HashMap<GroupKey, Arc<GroupSlot>>,
    clock: u64,
}

fn cache() -> &'static Mutex<Cache> {
    static CACHE: OnceLock<Mutex<Cache>> = OnceLock::new();
    CACHE.get_or_init(Mutex::default)
}

fn lock() -> std::sync::MutexGuard<'static, Cache> {
    // A reader that panicked left nothing half-written: the maps stay usable.
    cache()
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The image column (its struct, `bytes` alone) of one row group, decoded.
fn decode_group(
    file: &Path,
    metadata: &ArrowReaderMetadata,
    column: &str,
    row_group: usize,
) -> Result<ArrayRef, String> {
    let leaves = leaves(metadata, column, &[BYTES_FIELD], &[]);
    if leaves.is_empty() {
        return Err(format!("no image column {column:?} with a bytes field"));
    }
    let groups = metadata.metadata().num_row_groups();
    if row_group >= groups {
        return Err(format!("row group {row_group} of {groups}"));
    }
    let rows = metadata.metadata().row_group(row_group).num_rows().max(1) as usize;
    let reader = File::open(file).map_err(|e| e.to_string())?;
    let mask = ProjectionMask::leaves(metadata.parquet_schema(), leaves);
    DECODED.fetch_add(1, Ordering::Relaxed);
    let batches = ParquetRecordBatchReaderBuilder::new_with_metadata(reader, metadata.clone())
        .with_row_groups(vec![row_group])
        .with_projection(mask)
        .with_batch_size(rows)
        .build()
        .map_err(|e| e.to_string())?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    match batches.as_slice() {
        [batch] => Ok(batch.column(0).clone()),
        other => Err(format!(
            "expected one batch for the row group, read {}",
            other.len()
        )),
    }
}

/// The image at `row` of `row_group` in `column` of `file`.
pub fn read_image(
    file: &Path,
    column: &str,
    row_group: usize,
    row: usize,
) -> std::io::Result<Vec<u8>> {
    let key = GroupKey {
        file: file.to_path_buf(),
        column: column.to_string(),
        row_group,
    };
    let (metadata, slot) = {
        let mut cache = lock();
        cache.clock += 1;
        let now = cache.clock;
        let metadata = match cache.metadata.get(file) {
            Some(metadata) => metadata.clone(),
            None => {
                let metadata = load_metadata(file).map_err(std::io::Error::other)?;
                cache.metadata.insert(file.to_path_buf(), metadata.clone());
                metadata
            }
        };
        let slot = cache
            .groups
            .entry(key.clone())
            .or_insert_with(|| {
                Arc::new(GroupSlot {
                    bytes: OnceLock::new(),
                    last_used: AtomicU64::new(now),
                })
            })
            .clone();
        slot.last_used.store(now, Ordering::Relaxed);
        (metadata, slot)
    };
    // Outside the lock: other row groups decode meanwhile; readers of this one wait.
    let decoded = slot
        .bytes
        .get_or_init(|| decode_group(file, &metadata, column, row_group));
    let result = match decoded {
        Ok(array) if row < array.len() => match image_cell(array, row) {
            Ok(Some(bytes)) => Ok(bytes.to_vec()),
            Ok(None) => Err(std::io::Error::other(format!(
                "row {row} of row group {row_group} holds no image bytes"
            ))),
            Err(reason) => Err(std::io::Error::other(reason)),
        },
        Ok(array) => Err(std::io::Error::other(format!(
            "row {row} of a row group of {}",
            array.len()
        ))),
        Err(reason) => Err(std::io::Error::other(reason.clone())),
    };
    evict(&key);
    result
}

/// Drops least recently used row groups until the cache fits its budget, never
/// the one just read.
fn evict(keep: &GroupKey) {
    evict_to(CACHE_BUDGET_BYTES, keep);
}

fn evict_to(budget: usize, keep: &GroupKey) {
    let mut cache = lock();
    let size = |slot: &GroupSlot| match slot.bytes.get() {
        Some(Ok(array)) => array.get_array_memory_size(),
        _ => 0,
    };
    let mut total: usize = cache.groups.values().map(|s| size(s)).sum();
    while total > budget {
        let oldest = cache
            .groups
            .iter()
            .filter(|(key, _)| *key != keep)
            .min_by_key(|(_, slot)| slot.last_used.load(Ordering::Relaxed))
            .map(|(key, _)| key.clone());
        let Some(oldest) = oldest else { break };
        if let Some(slot) = cache.groups.remove(&oldest) {
            total -= size(&slot);
        }
    }
}

/// How many row groups this process has decoded to read images (for tests).
pub fn row_groups_decoded() -> u64 {
    DECODED.load(Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{BinaryArray, RecordBatch, StringArray, StructArray};
    use arrow_schema::{Field, Schema};
    use parquet::arrow::ArrowWriter;
    use parquet::file::properties::WriterProperties;

    use super::*;

    /// Six rows of `image` structs in row groups of two.
    fn write_images(path: &Path) -> Vec<Vec<u8>> {
        let images: Vec<Vec<u8>> = (0..6u8).map(|i| vec![i; 10 + i as usize]).collect();
        let bytes = BinaryArray::from_iter_values(images.iter());
        let paths = StringArray::from_iter_values((0..6).map(|i| format!("{i}.jpg")));
        let image = StructArray::from(vec![
            (
                Arc::new(Field::new("bytes", DataType::Binary, true)),
                Arc::new(bytes) as ArrayRef,
            ),
            (
                Arc::new(Field::new("path", DataType::Utf8, true)),
                Arc::new(paths) as ArrayRef,
            ),
        ]);
        let schema = Arc::new(Schema::new(vec![Field::new(
            "image",
            image.data_type().clone(),
            true,
        )]));
        let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(image)]).unwrap();
        let properties = WriterProperties::builder()
            .set_max_row_group_row_count(Some(2))
            .build();
        let file = File::create(path).unwrap();
        let mut writer = ArrowWriter::try_new(file, schema, Some(properties)).unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();
        images
    }

    #[test]
    fn row_groups_are_decoded_once_and_evicted_least_recent_first() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("images.parquet");
        let images = write_images(&path);
        let before = row_groups_decoded();
        for (i, image) in images.iter().enumerate() {
            assert_eq!(&read_image(&path, "image", i / 2, i % 2).unwrap(), image);
        }
        assert_eq!(row_groups_decoded() - before, 3);
        let key = |row_group| GroupKey {
            file: path.clone(),
            column: "image".into(),
            row_group,
        };
        let cached = || {
            lock()
                .groups
                .keys()
                .filter(|k| k.file == path)
                .map(|k| k.row_group)
                .collect::<std::collections::BTreeSet<_>>()
        };
        assert_eq!(cached(), [0, 1, 2].into());
        // A budget of nothing keeps the one just read.
        evict_to(0, &key(1));
        assert_eq!(cached(), [1].into());
        assert_eq!(read_image(&path, "image", 0, 1).unwrap(), images[1]);
        assert_eq!(row_groups_decoded() - before, 4);
        let error = read_image(&path, "image", 3, 0).unwrap_err();
        assert!(error.to_string().contains("row group 3 of 3"), "{error}");
        let error = read_image(&path, "picture", 0, 0).unwrap_err();
        assert!(
            error.to_string().contains("no image column \"picture\""),
            "{error}"
        );
    }
}
