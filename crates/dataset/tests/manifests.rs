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
    std::fs::write(&manifest, "filename,class\nb.jpg,cat\nc.jpg,dog\n").unwrap();
    let error = scan_with(dir.path(), &manifest).unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("labels.csv: none of its 2 paths exists under")
            && message.contains("\"b.jpg\"")
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
    std::fs::write(&manifest, "picture,target\na.jpg,cat\n").unwrap();
    let message = scan_with(dir.path(), &manifest).unwrap_err().to_string();
    assert!(
        message.contains("no path column (expected one of path, file_name, filename, file, image, image_id, id, img, filepath); its columns are picture, target: name it with --path-column NAME"),
        "{message}"
    );
    std::fs::write(&manifest, "path,label,class\na.jpg,cat,cat\n").unwrap();
    let message = scan_with(dir.path(), &manifest).unwrap_err().to_string();
    assert!(
        message.contains(
            "2 columns could hold the label: label, class; say which with --label-column NAME"
        ),
        "{message}"
    );
    let missing = scan_with(dir.path(), &dir.path().join("nope.csv")).unwrap_err();
    assert!(missing.is_usage(), "{missing}");
}

fn scan_columns(
    root: &Path,
    manifest: &Path,
    columns: dataset::ColumnNames,
) -> Result<ScanReport, dataset::DatasetError> {
    scan(
        root,
        &ScanOptions {
            labels: Some(manifest.to_path_buf()),
            columns,
            ..Default::default()
        },
    )
}

/// The most common competition layout: `train/<id>.jpg` and `labels.csv` with
/// `id,breed`, the ids without their extension.
#[test]
fn a_competition_layout_with_ids_without_extension() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let breeds = ["beagle", "boxer", "pug"];
    let mut csv = String::from("id,breed\n");
    for i in 0..24u32 {
        let id = format!("{:08x}", i * 7919 + 11);
        write_jpeg(&root.join(format!("train/{id}.jpg")), i);
        csv.push_str(&format!("{id},{}\n", breeds[i as usize % 3]));
    }
    // An id given with another extension than its file's.
    write_jpeg(&root.join("train/otherext.jpg"), 100);
    csv.push_str("otherext.png,pug\n");
    // One id matching two images, in two folders.
    write_jpeg(&root.join("train/twice.jpg"), 101);
    write_jpeg(&root.join("extra/twice.jpg"), 102);
    csv.push_str("twice,boxer\n");
    // 30 rows for images that are not there (a partial download).
    for i in 0..30 {
        csv.push_str(&format!("gone{i:02},beagle\n"));
    }
    let manifest = root.join("labels.csv");
    std::fs::write(&manifest, &csv).unwrap();
    let report = scan_with(root, &manifest).unwrap();

    assert_eq!(report.layout, Layout::Manifest);
    assert_eq!(report.splits_from, SplitsFrom::Hash);
    assert_eq!(report.classes, breeds);
    assert_eq!(report.images.len(), 25);
    assert_eq!(report.class_sizes(), [8, 8, 9]);
    let first = &report
        .images
        .iter()
        .find(|i| i.path == format!("train/{:08x}.jpg", 11))
        .expect("train/0000000b.jpg");
    assert_eq!(first.class, "beagle");
    assert!(report
        .images
        .iter()
        .any(|i| i.path == "train/otherext.jpg" && i.class == "pug"));
    // Three classes: stratified, each in val and test.
    let counts = report.counts();
    for split in [Split::Val, Split::Test] {
        assert!(
            counts[&split].iter().all(|&n| n >= 1),
            "{split}: {counts:?}"
        );
    }
    // Every missing row is a problem with its line; the notes count them once.
    assert_eq!(report.problems.len(), 31, "{:?}", report.problems);
    let gone = reason_of(&report, "gone07");
    assert!(
        gone.contains("labels.csv line 35: no such file under")
            && gone.contains("nor an image whose name without extension is \"gone07\""),
        "{gone}"
    );
    let twice = reason_of(&report, "twice");
    assert!(
        twice.contains("labels.csv line 27: \"twice\" could be any of 2 images: extra/twice.jpg, train/twice.jpg; write the path with its extension"),
        "{twice}"
    );
    let notes = report.notes.join("\n");
    assert!(
        notes.contains("labels from") && notes.contains("(columns: id the image, breed the label)"),
        "{notes}"
    );
    assert!(
        notes.contains("25 row(s) name an image by its name without extension (or with another)"),
        "{notes}"
    );
    assert!(
        notes.contains("30 row(s) name a file that is not under")
            && notes.contains("(the first: labels.csv line 28: \"gone00\""),
        "{notes}"
    );
    // The terminal gets 20 problems and a count, not every line.
    let text = report.render();
    assert!(text.contains("problems    31 left out:"), "{text}");
    assert!(
        text.contains(
            "  ... and 11 more: every one is in `extract scan --json` and in extract's rejects.csv"
        ),
        "{text}"
    );
    assert_eq!(text.matches("no such file under").count(), 20, "{text}");
    assert_eq!(report.to_json()["problems"].as_array().unwrap().len(), 31);
}

#[test]
fn two_plausible_columns_are_a_question() {
    let dir = tempfile::tempdir().unwrap();
    write_jpeg(&dir.path().join("a.jpg"), 1);
    write_jpeg(&dir.path().join("b.jpg"), 2);
    let manifest = dir.path().join("labels.csv");
    std::fs::write(&manifest, "id,image,breed\n1,a.jpg,pug\n2,b.jpg,boxer\n").unwrap();
    let error = scan_with(dir.path(), &manifest).unwrap_err().to_string();
    assert!(
        error.contains("labels.csv: 2 columns could hold the path: id, image; say which with --path-column NAME"),
        "{error}"
    );
    let report = scan_columns(
        dir.path(),
        &manifest,
        dataset::ColumnNames {
            path: Some("image".into()),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(report.classes, ["boxer", "pug"]);
    // `labels` holding several labels per row is not a label column.
    std::fs::write(&manifest, "path,labels\na.jpg,cat dog\nb.jpg,dog\n").unwrap();
    let error = scan_with(dir.path(), &manifest).unwrap_err().to_string();
    assert!(
        error.contains("its \"labels\" column holds several labels on a row (line 2: \"cat dog\")")
            && error.contains("--label-column"),
        "{error}"
    );
    std::fs::write(&manifest, "path,labels\na.jpg,cat\nb.jpg,dog\n").unwrap();
    assert_eq!(
        scan_with(dir.path(), &manifest).unwrap().classes,
        ["cat", "dog"]
    );
}

#[test]
fn a_parquet_manifest_with_its_own_column_names() {
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("picture,kind,subset\n");
    for i in 0..12u32 {
        write_jpeg(&dir.path().join(format!("pics/{i}.jpg")), i);
        let subset = ["train", "train", "val", "test"][i as usize % 4];
        csv.push_str(&format!(
            "pics/{i}.jpg,{},{subset}\n",
            ["cat", "dog"][i as usize % 2]
        ));
    }
    let source = dir.path().join("source.csv");
    std::fs::write(&source, &csv).unwrap();
    let manifest = dir.path().join("meta/table.parquet");
    std::fs::create_dir_all(manifest.parent().unwrap()).unwrap();
    if parquet_of(&source, &manifest, &[]).is_none() {
        return;
    }
    std::fs::remove_file(&source).unwrap();
    let error = scan_with(dir.path(), &manifest).unwrap_err().to_string();
    assert!(
        error.contains("table.parquet: no path column")
            && error
                .contains("its columns are picture, kind, subset: name it with --path-column NAME"),
        "{error}"
    );
    let columns = dataset::ColumnNames {
        path: Some("picture".into()),
        label: Some("kind".into()),
        split: Some("subset".into()),
    };
    let report = scan_columns(dir.path(), &manifest, columns.clone()).unwrap();
    assert_eq!(report.splits_from, SplitsFrom::ManifestColumn);
    assert_eq!(report.classes, ["cat", "dog"]);
    let counts = report.counts();
    assert_eq!(counts[&Split::Train], [3, 3]);
    assert_eq!(counts[&Split::Val], [3, 0]);
    assert_eq!(counts[&Split::Test], [0, 3]);
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    // A stated column that is not there names the flag.
    let wrong = dataset::ColumnNames {
        label: Some("breed".into()),
        ..columns
    };
    let error = scan_columns(dir.path(), &manifest, wrong)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("no column named \"breed\" (--label-column breed); its columns are picture, kind, subset"),
        "{error}"
    );
}
