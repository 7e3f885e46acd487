//! Every bad input stops training with an error that says what is wrong.

mod common;

use std::path::{Path, PathBuf};

use contract::{FeatureFileError, FeatureRow, Split};
use feature_matrix::FeatureMatrixError;
use head::{HeadError, TrainOptions};

fn row(i: usize, label: i32, name: &str, split: Split, dim: usize) -> FeatureRow {
    FeatureRow {
        key: format!("key-{i}"),
        path: format!("{i}.jpg"),
        label,
        label_name: name.into(),
        split,
        feature: (0..dim)
            .map(|j| ((i * 31 + j * 7) % 11) as f32 * 0.1)
            .collect(),
    }
}

/// Four rows per (split, class) for the given splits.
fn rows(splits: &[Split], dim: usize) -> Vec<FeatureRow> {
    let mut out = Vec::new();
    for &split in splits {
        for (label, name) in ["ants", "bees"].iter().enumerate() {
            for _ in 0..4 {
                out.push(row(out.len(), label as i32, name, split, dim));
            }
        }
    }
    out
}

fn write(dir: &Path, name: &str, variant: &str, dim: usize, rows: Vec<FeatureRow>) -> PathBuf {
    common::write(
        &dir.join(name),
        &common::meta(variant, dim, &["ants", "bees"]),
        rows,
    )
}

fn train_error(inputs: &[PathBuf]) -> HeadError {
    let options = TrainOptions {
        epochs: 1,
        ..Default::default()
    };
    let error = head::train(inputs, &options).expect_err("training should fail");
    eprintln!("{error}");
    error
}

#[test]
fn missing_train_split() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "f.parquet",
        "b0",
        4,
        rows(&[Split::Val, Split::Test], 4),
    );
    assert!(
        matches!(train_error(&[path]), HeadError::Features(FeatureMatrixError::MissingSplit { split, .. }) if split == "train")
    );
}

#[test]
fn nothing_to_evaluate_on() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "f.parquet", "b0", 4, rows(&[Split::Train], 4));
    assert!(
        matches!(train_error(&[path]), HeadError::Features(FeatureMatrixError::MissingSplit { split, .. }) if split == "val")
    );
}

#[test]
fn split_with_one_class() {
    let dir = tempfile::tempdir().unwrap();
    let mut all = rows(&[Split::Train, Split::Val], 4);
    all.extend((0..4).map(|i| row(100 + i, 1, "bees", Split::Test, 4)));
    let path = write(dir.path(), "f.parquet", "b0", 4, all);
    let error = train_error(&[path]);
    assert!(
        matches!(&error, HeadError::Features(FeatureMatrixError::OneClassSplit { split, class }) if split == "test" && class == "bees"),
        "{error}"
    );
    assert!(error.to_string().contains("only class \"bees\""));
}

#[test]
fn nan_feature() {
    let Some(python) = testkit::python() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nan.parquet");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/write_nan_features.py");
    testkit::run_python(&python, &script, &[path.to_str().unwrap()]);
    let error = train_error(&[path]);
    assert!(
        matches!(
            error,
            HeadError::Features(FeatureMatrixError::FeatureFile(
                FeatureFileError::NonFinite {
                    row: 2,
                    index: 1,
                    ..
                }
            ))
        ),
        "{error}"
    );
}

#[test]
fn inputs_of_different_dimensions() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(
        dir.path(),
        "a.parquet",
        "b0",
        4,
        rows(&[Split::Train, Split::Val, Split::Test], 4),
    );
    let b = write(dir.path(), "b.parquet", "b0", 5, rows(&[Split::Train], 5));
    let error = train_error(&[a, b.clone()]);
    assert!(
        matches!(&error, HeadError::Features(FeatureMatrixError::MixedInputs { path, .. }) if *path == b),
        "{error}"
    );
    assert!(error.to_string().contains("dim 5"));
}

#[test]
fn inputs_of_different_variants() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(
        dir.path(),
        "a.parquet",
        "b0",
        4,
        rows(&[Split::Train, Split::Val, Split::Test], 4),
    );
    let b = write(dir.path(), "b.parquet", "b7", 4, rows(&[Split::Train], 4));
    let error = train_error(&[a, b]);
    assert!(
        matches!(
            error,
            HeadError::Features(FeatureMatrixError::MixedInputs { .. })
        ),
        "{error}"
    );
    assert!(error.to_string().contains("variant b7"));
}

#[test]
fn empty_file() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(
        dir.path(),
        "a.parquet",
        "b0",
        4,
        rows(&[Split::Train, Split::Val, Split::Test], 4),
    );
    let empty = write(dir.path(), "empty.parquet", "b0", 4, Vec::new());
    assert!(
        matches!(train_error(&[a, empty.clone()]), HeadError::Features(FeatureMatrixError::EmptyInput { path }) if path == empty)
    );
}

#[test]
fn label_outside_the_declared_classes() {
    let dir = tempfile::tempdir().unwrap();
    let mut all = rows(&[Split::Train, Split::Val, Split::Test], 4);
    all.push(row(500, 2, "wasps", Split::Test, 4));
    let path = write(dir.path(), "f.parquet", "b0", 4, all);
    let error = train_error(&[path]);
    assert!(
        matches!(&error, HeadError::Features(FeatureMatrixError::UnknownLabel { label: 2, name, .. }) if name == "wasps"),
        "{error}"
    );
}

#[test]
fn test_class_never_seen_in_training() {
    let dir = tempfile::tempdir().unwrap();
    let classes = ["ants", "bees", "wasps"];
    let mut all = Vec::new();
    for (split, labels) in [
        (Split::Train, 0..2),
        (Split::Val, 0..2),
        (Split::Test, 0..3),
    ] {
        for label in labels {
            for _ in 0..3 {
                all.push(row(all.len(), label, classes[label as usize], split, 4));
            }
        }
    }
    let path = common::write(
        &dir.path().join("f.parquet"),
        &common::meta("b0", 4, &classes),
        all,
    );
    let error = train_error(&[path]);
    assert!(
        matches!(&error, HeadError::Features(FeatureMatrixError::ClassUnseenInTraining { class, split, .. }) if class == "wasps" && split == "test"),
        "{error}"
    );
}
