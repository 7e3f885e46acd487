//! `--label-from-name REGEX`: labels in file names, as Kaggle's dogs-vs-cats
//! ships them (`train/cat.0.jpg`, `train/dog.0.jpg`, an unlabelled `test1/`).

mod common;

use std::path::Path;

use common::{reason_of, write_jpeg};
use contract::Split;
use dataset::file_names::parse_pattern;
use dataset::{scan, Layout, LayoutChoice, ScanOptions, ScanReport, SplitsFrom};

fn scan_names(
    root: &Path,
    pattern: &str,
    layout: LayoutChoice,
) -> Result<ScanReport, dataset::DatasetError> {
    scan(
        root,
        &ScanOptions {
            label_from_name: Some(parse_pattern(pattern).unwrap()),
            layout,
            ..Default::default()
        },
    )
}

#[test]
fn dogs_vs_cats_as_kaggle_ships_it() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for i in 0..10u32 {
        write_jpeg(&root.join(format!("train/cat.{i}.jpg")), i);
        write_jpeg(&root.join(format!("train/dog.{i}.jpg")), 100 + i);
    }
    for i in 1..=4u32 {
        write_jpeg(&root.join(format!("test1/{i}.jpg")), 200 + i);
    }
    std::fs::write(root.join("sampleSubmission.csv"), "id,label\n1,0\n").unwrap();
    let report = scan_names(root, r"^(cat|dog)\.\d+\.jpg$", LayoutChoice::Auto).unwrap();
    assert_eq!(report.layout, Layout::FileNames);
    assert_eq!(report.classes, ["cat", "dog"]);
    assert_eq!(report.class_sizes(), [10, 10]);
    assert!(report
        .images
        .iter()
        .all(|i| i.path.starts_with("train/") && i.path.contains(&format!("{}.", i.class))));
    // Only train/ holds labelled images: split by content hash, balanced.
    assert_eq!(report.splits_from, SplitsFrom::Hash);
    let counts = report.counts();
    assert_eq!(counts[&Split::Val], [1, 1]);
    assert_eq!(counts[&Split::Test], [1, 1]);
    let notes = report.notes.join("\n");
    assert!(
        notes.contains(
            "labels from the file names: the first group of \"^(cat|dog)\\\\.\\\\d+\\\\.jpg$\""
        ),
        "{notes}"
    );
    assert!(
        notes.contains("4 image file(s) matched no label: left out (e.g. test1/1.jpg, test1/2.jpg, test1/3.jpg and 1 more)"),
        "{notes}"
    );
    assert!(
        notes.contains("ignored 1 other file(s): sampleSubmission.csv"),
        "{notes}"
    );
    assert!(
        notes.contains("every labelled image is in the train split folder"),
        "{notes}"
    );
    assert!(reason_of(&report, "test1/2.jpg").contains("does not match --label-from-name"));
    let text = report.render();
    assert!(text.contains("labels   cat = 0, dog = 1"), "{text}");
    assert!(
        text.contains("layout   labels from the file names, split by content hash"),
        "{text}"
    );
}

#[test]
fn split_folders_decide_when_labelled_images_sit_in_two() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for i in 0..4u32 {
        for (split, seed) in [("train", 0), ("validation", 50)] {
            write_jpeg(&root.join(format!("{split}/img_{i}_fox.png")), seed + i);
            write_jpeg(
                &root.join(format!("{split}/img_{i}_owl.png")),
                seed + 20 + i,
            );
        }
    }
    let report = scan_names(root, r"_([a-z]+)\.png$", LayoutChoice::Auto).unwrap();
    assert_eq!(report.splits_from, SplitsFrom::Folders);
    assert_eq!(report.classes, ["fox", "owl"]);
    let counts = report.counts();
    assert_eq!(counts[&Split::Train], [4, 4]);
    assert_eq!(counts[&Split::Val], [4, 4]);
    // --layout flat splits them all by content hash instead.
    let flat = scan_names(root, r"_([a-z]+)\.png$", LayoutChoice::Flat).unwrap();
    assert_eq!(flat.splits_from, SplitsFrom::Hash);
    // Some labelled images outside the split folders: a question.
    write_jpeg(&root.join("extra/img_9_fox.png"), 99);
    let error = scan_names(root, r"_([a-z]+)\.png$", LayoutChoice::Auto)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("some labelled images are in split folders")
            && error.contains("extra/img_9_fox.png")
            && error.contains("--layout flat"),
        "{error}"
    );
}

#[test]
fn label_from_name_goes_with_no_manifest() {
    let dir = tempfile::tempdir().unwrap();
    write_jpeg(&dir.path().join("a/cat.1.jpg"), 1);
    let manifest = dir.path().join("labels.csv");
    std::fs::write(&manifest, "path,label\na/cat.1.jpg,cat\n").unwrap();
    let error = scan(
        dir.path(),
        &ScanOptions {
            label_from_name: Some(parse_pattern(r"^(\w+)\.").unwrap()),
            labels: Some(manifest),
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(error.is_usage(), "{error}");
    assert!(
        error
            .to_string()
            .contains("--label-from-name cannot be used with --labels"),
        "{error}"
    );
}
