//! Hugging Face datasets on disk: Parquet files written by the `datasets` library
//! as the hub serves them (an `image` struct column, `ClassLabel` names in the
//! schema metadata, `data/SPLIT-0000K-of-0000N.parquet`), read in place with the
//! same content keys, labels and splits as the same images as loose files.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::{reason_of, write_jpegs};
use contract::Split;
use dataset::{scan, ColumnNames, ImageSource, Layout, ScanOptions, ScanReport, SplitsFrom};

/// `train/` and `test/` of three classes, as loose files.
fn loose(root: &Path) {
    for (c, class) in ["cat", "dog", "fox"].iter().enumerate() {
        write_jpegs(&root.join("train").join(class), 6, c as u32 * 40);
        write_jpegs(&root.join("test").join(class), 2, c as u32 * 40 + 20);
    }
}

/// Writes `source`'s split folders as Hugging Face Parquet under `out`; `None`
/// when Python is missing (the test then skips, visibly).
fn write_hf(source: &Path, out: &Path, flags: &[&str]) -> Option<String> {
    let python = testkit::python()?;
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/write_hf_parquet.py");
    let mut args = vec![source.to_str().unwrap(), out.to_str().unwrap()];
    args.extend_from_slice(flags);
    Some(testkit::run_python(&python, &script, &args))
}

fn scan_with(data: &Path, columns: ColumnNames) -> Result<ScanReport, dataset::DatasetError> {
    scan(
        data,
        &ScanOptions {
            columns,
            ..Default::default()
        },
    )
}

/// key → (class, split).
fn by_key(report: &ScanReport) -> BTreeMap<String, (String, Split)> {
    report
        .images
        .iter()
        .map(|i| (i.key.clone(), (i.class.clone(), i.split)))
        .collect()
}

#[test]
fn hub_parquet_gives_the_keys_labels_and_splits_of_the_loose_files() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("loose");
    loose(&source);
    let hub = dir.path().join("hub");
    let flags = [
        "--shards",
        "2",
        "--row-group-rows",
        "4",
        "--unlabelled",
        "2",
        "--garbage",
    ];
    if write_hf(&source, &hub, &flags).is_none() {
        return;
    }
    let files = scan_with(&source, ColumnNames::default()).unwrap();
    let report = scan_with(&hub, ColumnNames::default()).unwrap();
    assert_eq!(report.layout, Layout::HfParquet);
    assert_eq!(report.splits_from, SplitsFrom::ShardNames);
    assert_eq!(report.classes, ["cat", "dog", "fox"]);
    assert_eq!(by_key(&report), by_key(&files));
    assert!(report
        .layout_description()
        .contains("splits from the file names"));
    let notes = report.notes.join("\n");
    assert!(
        notes.contains("4 Parquet file(s)")
            && notes.contains("columns: image the image, label the label (ClassLabel names)")
            && notes.contains("2 row(s) have no label: left out"),
        "{notes}"
    );
    // Rows that cannot be used name their file and row: the train split's first
    // shard holds 9 images, then 2 unlabelled rows and a garbage one (row
    // numbers padded to sort in order).
    let shard = "data/train-00000-of-00002.parquet";
    assert!(reason_of(&report, &format!("{shard}/09")).starts_with("row 9: no label (-1"));
    let garbage = reason_of(&report, &format!("{shard}/11"));
    assert!(garbage.starts_with("row 11: not an image"), "{garbage}");
    assert_eq!(report.problems.len(), 3, "{:?}", report.problems);
    // Each image is read where it is, and its bytes are the ones hashed.
    for image in &report.images {
        assert!(
            matches!(image.source, ImageSource::ParquetImage { .. }),
            "{:?}",
            image.source
        );
        let bytes = image.source.read().unwrap();
        assert_eq!(
            blake3::hash(&bytes).to_hex().as_str(),
            image.key,
            "{}",
            image.path
        );
    }
    // Row groups of 4 rows, 8 in all (12 + 9 train rows, 3 + 3 test): each
    // decoded once for all its images. (No other test in this binary reads
    // images.)
    assert_eq!(dataset::parquet_images::row_groups_decoded(), 8);
}

#[test]
fn a_pattern_or_one_file_of_the_hub_layout() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("loose");
    loose(&source);
    let hub = dir.path().join("hub");
    if write_hf(&source, &hub, &["--shards", "2"]).is_none() {
        return;
    }
    let pattern = hub.join("data/test-*.parquet");
    let report = scan_with(&pattern, ColumnNames::default()).unwrap();
    assert_eq!(report.images.len(), 6);
    assert!(report.images.iter().all(|i| i.split == Split::Test));
    assert!(report.images[0]
        .path
        .starts_with("test-00000-of-00002.parquet/"));
    let one = hub.join("data/train-00001-of-00002.parquet");
    let report = scan_with(&one, ColumnNames::default()).unwrap();
    assert_eq!(report.images.len(), 9);
    // One file naming only train: every image is train, and the scan says so.
    assert!(report.images.iter().all(|i| i.split == Split::Train));
    assert!(report
        .split_notes()
        .iter()
        .any(|n| n.contains("only a train split")));
    let missing = scan_with(&hub.join("data/val-*.parquet"), ColumnNames::default()).unwrap_err();
    assert!(missing.is_usage(), "{missing}");
    assert!(missing.to_string().contains("matches none"), "{missing}");
}

#[test]
fn other_column_names_string_labels_and_a_question() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("loose");
    loose(&source);
    let hub = dir.path().join("hub");
    let flags = [
        "--image-column",
        "img",
        "--label-column",
        "breed",
        "--string-labels",
    ];
    if write_hf(&source, &hub, &flags).is_none() {
        return;
    }
    let files = scan_with(&source, ColumnNames::default()).unwrap();
    let report = scan_with(&hub, ColumnNames::default()).unwrap();
    assert_eq!(by_key(&report), by_key(&files));
    assert!(report
        .notes
        .iter()
        .any(|n| n == "columns: img the image, breed the label"));

    // A ClassLabel column under a name nobody guesses is found by its type.
    let coded = dir.path().join("coded");
    if write_hf(&source, &coded, &["--label-column", "dx"]).is_none() {
        return;
    }
    let report = scan_with(&coded, ColumnNames::default()).unwrap();
    assert_eq!(by_key(&report), by_key(&files));

    // Naming a column that holds no images is an error that says what it holds.
    let wrong = ColumnNames {
        path: Some("dx".into()),
        ..Default::default()
    };
    let error = scan_with(&coded, wrong).unwrap_err().to_string();
    assert!(
        error.contains("column \"dx\" holds Int64, not images"),
        "{error}"
    );
    // Two label columns: a question.
    let python = testkit::python().unwrap();
    let two = dir.path().join("two.parquet");
    let script = "import pyarrow.parquet as pq, pyarrow as pa, sys\n\
         t = pq.read_table(sys.argv[1])\n\
         t = t.append_column('category', pa.array(['x'] * t.num_rows))\n\
         pq.write_table(t.replace_schema_metadata(t.schema.metadata), sys.argv[2])\n";
    let status = std::process::Command::new(&python)
        .args(["-c", script])
        .arg(coded.join("data/train-00000-of-00001.parquet"))
        .arg(&two)
        .status()
        .unwrap();
    assert!(status.success());
    let error = scan_with(&two, ColumnNames::default())
        .unwrap_err()
        .to_string();
    assert!(
        error.contains(
            "2 columns could hold the label: dx, category; say which with --label-column NAME"
        ),
        "{error}"
    );
    let stated = ColumnNames {
        label: Some("dx".into()),
        ..Default::default()
    };
    assert_eq!(scan_with(&two, stated).unwrap().images.len(), 18);
}

#[test]
fn rows_that_name_their_files_instead_of_holding_them() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("loose");
    loose(&source);
    let local = dir.path().join("local");
    if write_hf(&source, &local, &["--paths-only"]).is_none() {
        return;
    }
    let files = scan_with(&source, ColumnNames::default()).unwrap();
    let report = scan_with(&local, ColumnNames::default()).unwrap();
    assert_eq!(by_key(&report), by_key(&files));
    assert!(report
        .images
        .iter()
        .all(|i| matches!(i.source, ImageSource::File(_))));
}
