//! `--labels`: CSV and Parquet manifests as Keras dataframes and Hugging Face
//! `metadata.csv` files have them, every bad row a listed problem with its line.

mod common;

use std::path::{Path, PathBuf};

use common::{reason_of, write_jpeg};
use contract::Split;
use dataset::{scan, Layout, ScanOptions, ScanReport, SplitsFrom};

const BAD_ROWS: &str = "\
path,label,split
imgs/0.jpg,cat,train
imgs/1.jpg,dog,train
./imgs/2.jpg,cat,val
imgs/3.jpg,dog,Validation
imgs/4.jpg,cat,test
imgs/5.jpg,dog,TEST
imgs/missing.jpg,cat,train
imgs/0.jpg,dog,train
../outside.jpg,cat,train
/etc/hostname,cat,train
imgs/6.jpg,,train
imgs/7.jpg,cat,holdout
imgs/8.jpg,dog,eval
imgs/9.jpg,cat
imgs/10.jpg,dog,train
";

/// imgs/0..=10.jpg plus one file no manifest lists.
fn images(root: &Path) {
    for i in 0..=10 {
        write_jpeg(&root.join(format!("imgs/{i}.jpg")), i);
    }
    write_jpeg(&root.join("imgs/unlisted.jpg"), 99);
}

fn scan_with(root: &Path, manifest: &Path) -> Result<ScanReport, dataset::DatasetError> {
    scan(
        root,
        &ScanOptions {
            labels: Some(manifest.to_path_buf()),
            ..Default::default()
        },
    )
}

fn check_bad_rows(report: &ScanReport, name: &str, word: &str, line: impl Fn(usize) -> usize) {
    assert_eq!(report.layout, Layout::Manifest);
    assert_eq!(report.splits_from, SplitsFrom::ManifestColumn);
    assert_eq!(report.classes, ["cat", "dog"]);
    let splits: Vec<(String, Split)> = report
        .images
        .iter()
        .map(|i| (i.path.clone(), i.split))
        .collect();
    assert_eq!(
        splits,
        [
            ("imgs/0.jpg".to_string(), Split::Train),
            ("imgs/1.jpg".into(), Split::Train),
            ("imgs/10.jpg".into(), Split::Train),
            ("imgs/2.jpg".into(), Split::Val),
            ("imgs/3.jpg".into(), Split::Val),
            ("imgs/4.jpg".into(), Split::Test),
            ("imgs/5.jpg".into(), Split::Test),
        ]
    );
    let at = |csv_line: usize| format!("{name} {word} {}", line(csv_line));
    for (path, csv_line, reason) in [
        ("imgs/missing.jpg", 8, "no such file under"),
        ("imgs/0.jpg", 9, "listed again (first on"),
        ("../outside.jpg", 10, "leaves the dataset root"),
        ("/etc/hostname", 11, "leaves the dataset root"),
        ("imgs/6.jpg", 12, "empty label"),
        ("imgs/7.jpg", 13, "unknown split \"holdout\""),
        ("imgs/8.jpg", 14, "split \"eval\" could be val or test"),
    ] {
        let found = reason_of(report, path);
        assert!(
            found.contains(&at(csv_line)) && found.contains(reason),
            "{path}: {found:?} should name {} and say {reason:?}",
            at(csv_line)
        );
    }
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.contains("1 file(s) under") && n.contains("not in the manifest: ignored")),
        "{:?}",
        report.notes
    );
}

#[test]
fn a_csv_manifest_with_every_kind_of_bad_row() {
    let dir = tempfile::tempdir().unwrap();
    images(dir.path());
    let manifest = dir.path().join("labels.csv");
    std::fs::write(&manifest, BAD_ROWS).unwrap();
    let report = scan_with(dir.path(), &manifest).unwrap();
    check_bad_rows(&report, "labels.csv", "line", |line| line);
    let short = reason_of(&report, "labels.csv line 15");
    assert!(short.contains("2 field(s), the header has 3"), "{short}");
}

fn parquet_of(csv: &Path, parquet: &Path, flags: &[&str]) -> Option<()> {
    let python = testkit::python()?;
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/csv_to_parquet.py");
    let mut args = vec![csv.to_str().unwrap(), parquet.to_str().unwrap()];
    args.extend_from_slice(flags);
    testkit::run_python(&python, &script, &args);
    Some(())
}

#[test]
fn a_parquet_manifest_written_by_pyarrow_with_every_kind_of_bad_row() {
    let dir = tempfile::tempdir().unwrap();
    images(dir.path());
    let csv = dir.path().join("labels.csv");
    std::fs::write(&csv, BAD_ROWS).unwrap();
    let manifest = dir.path().join("labels.parquet");
    if parquet_of(&csv, &manifest, &["--nulls"]).is_none() {
        return;
    }
    std::fs::remove_file(&csv).unwrap();
    let report = scan_with(dir.path(), &manifest).unwrap();
    // Rows count from the first data row: CSV line N is Parquet row N - 1.
    check_bad_rows(&report, "labels.parquet", "row", |line| line - 1);
    // The short CSV line has a null split in Parquet.
    assert!(reason_of(&report, "imgs/9.jpg").contains("labels.parquet row 14: empty split"));
}

#[test]
fn integer_labels_keep_their_values() {
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("file_name,label\n");
    for i in 0..30u32 {
        write_jpeg(&dir.path().join(format!("train/{i:03}.jpg")), i);
        // 0, 1, 2, 10: text order would put 10 before 2.
        csv.push_str(&format!(
            "train/{i:03}.jpg,{}\n",
            [0, 1, 2, 10][i as usize % 4]
        ));
    }
    // Hugging Face imagefolder: metadata.csv beside the images.
    let manifest = dir.path().join("metadata.csv");
    std::fs::write(&manifest, &csv).unwrap();
    for path in [manifest.clone(), dir.path().join("metadata.parquet")] {
        if path.extension().unwrap() == "parquet"
            && parquet_of(&manifest, &path, &["--int-labels"]).is_none()
        {
            return;
        }
        let report = scan_with(dir.path(), &path).unwrap();
        assert_eq!(report.classes, ["0", "1", "2", "10"], "{}", path.display());
        assert_eq!(report.splits_from, SplitsFrom::Hash);
        assert!(report
            .images
            .iter()
            .all(|i| i.class == report.classes[i.label as usize]));
        // The manifest beside the images is not an unlisted file.
        let unlisted_note = report
            .notes
            .iter()
            .find(|n| n.contains("not in the manifest"));
        let expected_unlisted = usize::from(path.extension().unwrap() == "parquet");
        match unlisted_note {
            None => assert_eq!(expected_unlisted, 0),
            Some(note) => assert!(
                note.starts_with(&format!("{expected_unlisted} file")),
                "{note}"
            ),
        }
    }
}

#[test]
fn a_manifest_that_names_no_existing_file_is_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    write_jpeg(&dir.path().join("photos/a.jpg"), 1);
    let manifest = dir.path().join("labels.csv");
    std::fs::write(&manifest, "filename,class\na.jpg,cat\nb.jpg,dog\n").unwrap();
    let error = scan_with(dir.path(), &manifest).unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("labels.csv: none of its 2 paths exists under")
            && message.contains("\"a.jpg\"")
            && message.contains("relative to --data"),
        "{message}"
    );
    assert!(!error.is_usage());
}

#[test]
fn manifest_columns_are_checked_by_name() {
    let dir = tempfile::tempdir().unwrap();
    write_jpeg(&dir.path().join("a.jpg"), 1);
    let manifest = dir.path().join("labels.csv");
    std::fs::write(&manifest, "image,target\na.jpg,cat\n").unwrap();
    let message = scan_with(dir.path(), &manifest).unwrap_err().to_string();
    assert!(
        message.contains("no path column (expected one of path, file_name, filename); its columns are image, target"),
        "{message}"
    );
    std::fs::write(&manifest, "path,label,class\na.jpg,cat,cat\n").unwrap();
    let message = scan_with(dir.path(), &manifest).unwrap_err().to_string();
    assert!(
        message.contains("several label columns (label, class)"),
        "{message}"
    );
    let missing = scan_with(dir.path(), &dir.path().join("nope.csv")).unwrap_err();
    assert!(missing.is_usage(), "{missing}");
}
