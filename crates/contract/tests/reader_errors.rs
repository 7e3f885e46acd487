//! Every way a feature file can be wrong gets an error naming the file and the problem.

mod common;

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow_array::{
    ArrayRef, FixedSizeListArray, Float32Array, Int32Array, Int64Array, RecordBatch, StringArray,
};
use arrow_schema::{DataType, Field, Schema};
use contract::{FeatureDataset, FeatureReader, FeatureWriter};
use parquet::arrow::ArrowWriter;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;

struct Columns {
    drop: Option<&'static str>,
    label_as_int64: bool,
    width: i32,
    feature_value: f32,
}

impl Default for Columns {
    fn default() -> Self {
        Columns {
            drop: None,
            label_as_int64: false,
            width: 4,
            feature_value: 0.5,
        }
    }
}

/// Writes a Parquet file by hand, bypassing `FeatureWriter`'s own checks.
fn write_raw(path: &Path, columns: Columns, metadata: Vec<KeyValue>) {
    let rows = 3;
    let strings = |prefix: &str| -> ArrayRef {
        Arc::new(StringArray::from(
            (0..rows)
                .map(|i| format!("{prefix}{i}"))
                .collect::<Vec<_>>(),
        ))
    };
    let item = Arc::new(Field::new("item", DataType::Float32, false));
    let mut values = vec![0.25f32; rows * columns.width as usize];
    values[columns.width as usize + 1] = columns.feature_value;
    let features: ArrayRef = Arc::new(
        FixedSizeListArray::try_new(
            item.clone(),
            columns.width,
            Arc::new(Float32Array::from(values)),
            None,
        )
        .unwrap(),
    );
    let (label_type, labels): (DataType, ArrayRef) = if columns.label_as_int64 {
        (
            DataType::Int64,
            Arc::new(Int64Array::from(vec![0i64, 1, 0])),
        )
    } else {
        (DataType::Int32, Arc::new(Int32Array::from(vec![0, 1, 0])))
    };
    let all = vec![
        (Field::new("key", DataType::Utf8, false), strings("k")),
        (Field::new("path", DataType::Utf8, false), strings("p")),
        (Field::new("label", label_type, false), labels),
        (
            Field::new("label_name", DataType::Utf8, false),
            strings("ants"),
        ),
        (
            Field::new("split", DataType::Utf8, false),
            Arc::new(StringArray::from(vec!["train", "val", "test"])) as ArrayRef,
        ),
        (
            Field::new(
                "feature",
                DataType::FixedSizeList(item, columns.width),
                false,
            ),
            features,
        ),
    ];
    let (fields, arrays): (Vec<_>, Vec<_>) = all
        .into_iter()
        .filter(|(f, _)| Some(f.name().as_str()) != columns.drop)
        .unzip();
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).unwrap();
    let properties = WriterProperties::builder()
        .set_key_value_metadata(Some(metadata))
        .build();
    let mut writer = ArrowWriter::try_new(
        File::create(path).unwrap(),
        batch.schema(),
        Some(properties),
    )
    .unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
}

fn good_metadata() -> Vec<KeyValue> {
    common::meta(4).to_key_values()
}

fn with_value(key: &str, value: &str) -> Vec<KeyValue> {
    good_metadata()
        .into_iter()
        .map(|kv| {
            if kv.key == key {
                KeyValue::new(kv.key, value.to_string())
            } else {
                kv
            }
        })
        .collect()
}

fn read_error(path: &Path) -> String {
    let outcome = FeatureReader::open(path).and_then(|reader| reader.read_all());
    let message = outcome.expect_err("reading must fail").to_string();
    assert!(
        message.contains(&path.display().to_string()),
        "error must name the file: {message}"
    );
    message
}

#[test]
fn a_well_formed_hand_written_file_reads() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ok.parquet");
    write_raw(&path, Columns::default(), good_metadata());
    assert_eq!(
        FeatureReader::open(&path)
            .unwrap()
            .read_all()
            .unwrap()
            .len(),
        3
    );
}

#[test]
fn missing_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.parquet");
    write_raw(
        &path,
        Columns {
            drop: Some("split"),
            ..Default::default()
        },
        good_metadata(),
    );
    assert!(read_error(&path).contains("missing column `split`"));
}

#[test]
fn wrong_column_type() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.parquet");
    write_raw(
        &path,
        Columns {
            label_as_int64: true,
            ..Default::default()
        },
        good_metadata(),
    );
    let message = read_error(&path);
    assert!(
        message.contains("`label` has type Int64, expected Int32"),
        "{message}"
    );
}

#[test]
fn dimension_disagreeing_with_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.parquet");
    write_raw(
        &path,
        Columns {
            width: 3,
            ..Default::default()
        },
        good_metadata(),
    );
    let message = read_error(&path);
    assert!(
        message.contains("3 values but the metadata says feature_dim = 4"),
        "{message}"
    );
}

#[test]
fn unknown_format_version() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.parquet");
    write_raw(
        &path,
        Columns::default(),
        with_value("effprobe.format_version", "99"),
    );
    let message = read_error(&path);
    assert!(
        message.contains("format version 99 is not supported"),
        "{message}"
    );
}

#[test]
fn not_an_effprobe_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.parquet");
    write_raw(&path, Columns::default(), vec![]);
    assert!(read_error(&path).contains("`effprobe.format_version` is missing"));
}

#[test]
fn nan_and_inf_in_features() {
    for (value, shown) in [
        (f32::NAN, "NaN"),
        (f32::INFINITY, "inf"),
        (f32::NEG_INFINITY, "-inf"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.parquet");
        write_raw(
            &path,
            Columns {
                feature_value: value,
                ..Default::default()
            },
            good_metadata(),
        );
        let message = read_error(&path);
        assert!(
            message.contains(&format!(
                "row 1 (key k1) has a non-finite value ({shown}) at feature index 1"
            )),
            "{message}"
        );
    }
}

#[test]
fn corrupt_metadata_and_splits() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.parquet");
    write_raw(
        &path,
        Columns::default(),
        with_value("effprobe.preprocessing", "{not json"),
    );
    assert!(read_error(&path).contains("`effprobe.preprocessing` is invalid"));
}

#[test]
fn not_parquet_at_all() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.parquet");
    std::fs::write(&path, b"this is text").unwrap();
    assert!(read_error(&path).contains("not a readable Parquet file"));
    let missing = dir.path().join("absent.parquet");
    assert!(read_error(&missing).contains("No such file"));
}

#[test]
fn parts_of_different_backbones_do_not_mix() {
    let dir = tempfile::tempdir().unwrap();
    for (name, variant) in [("a.parquet", "b0"), ("b.parquet", "b3")] {
        let mut meta = common::meta(4);
        meta.variant = variant.into();
        let mut writer = FeatureWriter::create(dir.path().join(name), &meta).unwrap();
        writer.write_rows(common::rows(2, 4)).unwrap();
        writer.finish().unwrap();
    }
    let message = FeatureDataset::open(dir.path()).unwrap_err().to_string();
    assert!(
        message.contains("b.parquet") && message.contains("disagrees"),
        "{message}"
    );
    let empty = tempfile::tempdir().unwrap();
    let message = FeatureDataset::open(empty.path()).unwrap_err().to_string();
    assert!(message.contains("no `.parquet` part files"), "{message}");
}
