//! Image folders as people have them: split folders named every usual way, the
//! Kaggle cats-vs-dogs download, and the layouts that must stop with a question
//! instead of a guess.

mod common;

use common::{counts, reason_of, scan_default, write_jpeg, write_jpegs};
use contract::Split;
use dataset::{scan, Layout, LayoutChoice, ScanOptions, SplitsFrom};

fn split_of(report: &dataset::ScanReport, path: &str) -> Split {
    report
        .images
        .iter()
        .find(|i| i.path == path)
        .unwrap_or_else(|| panic!("{path} not among the images"))
        .split
}

#[test]
fn split_folders_under_every_usual_name() {
    for (train, val, test) in [
        ("train", "val", "test"),
        ("training", "validation", "testing"),
        ("trn", "dev", "test"),
        ("TRAIN", "Validation_Set", "TEST"),
        ("Training-Set", "valid", "test set"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for (split, seed) in [(train, 0), (val, 100), (test, 200)] {
            write_jpegs(&root.join(split).join("cats"), 3, seed);
            write_jpegs(&root.join(split).join("dogs"), 2, seed + 50);
        }
        let report = scan_default(root).unwrap();
        assert_eq!(report.layout, Layout::Splits, "{train}/{val}/{test}");
        assert_eq!(report.splits_from, SplitsFrom::Folders);
        assert_eq!(report.classes, ["cats", "dogs"]);
        let c = report.counts();
        for split in Split::ALL {
            assert_eq!(c[&split], [3, 2], "{train}/{val}/{test}: {split}");
        }
        assert_eq!(
            split_of(&report, &format!("{val}/cats/0000.jpg")),
            Split::Val
        );
        if val != "val" {
            assert!(
                report
                    .notes
                    .iter()
                    .any(|n| n.contains(&format!("{val}/ is the val split"))),
                "{:?}",
                report.notes
            );
        }
    }
}

#[test]
fn flat_class_folders_are_split_by_content_hash() {
    let dir = tempfile::tempdir().unwrap();
    write_jpegs(&dir.path().join("cats"), 30, 0);
    write_jpegs(&dir.path().join("dogs"), 30, 1000);
    let report = scan_default(dir.path()).unwrap();
    assert_eq!(report.layout, Layout::Flat);
    assert_eq!(report.splits_from, SplitsFrom::Hash);
    let c = report.counts();
    assert_eq!(c[&Split::Val], [3, 3]);
    assert_eq!(c[&Split::Test], [3, 3]);
    assert_eq!(c[&Split::Train], [24, 24]);
}

/// The regression: `training_set/` + `test_set/` was read as two classes.
#[test]
fn kaggle_cats_vs_dogs_scans_as_cats_and_dogs() {
    for nested in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let place = |split: &str| {
            if nested {
                root.join(split).join(split)
            } else {
                root.join(split)
            }
        };
        write_jpegs(&place("training_set").join("cats"), 8, 0);
        write_jpegs(&place("training_set").join("dogs"), 8, 100);
        write_jpegs(&place("test_set").join("cats"), 2, 200);
        write_jpegs(&place("test_set").join("dogs"), 2, 300);
        // The download carries macOS litter in the class folders.
        std::fs::write(place("test_set").join("cats/_DS_Store"), b"\0\0\0\x01Bud1").unwrap();

        let report = scan_default(root).unwrap();
        assert_eq!(report.classes, ["cats", "dogs"], "nested: {nested}");
        assert_eq!(report.layout, Layout::Splits);
        assert_eq!(
            counts(&report),
            [
                (Split::Train, "cats".into(), 8),
                (Split::Train, "dogs".into(), 8),
                (Split::Test, "cats".into(), 2),
                (Split::Test, "dogs".into(), 2),
            ]
        );
        let prefix = if nested {
            "test_set/test_set"
        } else {
            "test_set"
        };
        assert!(reason_of(&report, &format!("{prefix}/cats/_DS_Store")).contains("not an image"));
        let text = report.render();
        assert!(text.contains("labels   cats = 0, dogs = 1"), "{text}");
        assert!(
            text.contains("no val split: head-train selects on a hash-chosen 10% holdout of train"),
            "{text}"
        );
        if nested {
            assert!(
                text.contains("training_set/training_set/ is the train split"),
                "{text}"
            );
        } else {
            assert!(text.contains("training_set/ is the train split"), "{text}");
        }
    }
}

#[test]
fn a_lone_images_folder_is_a_question_not_one_class() {
    let dir = tempfile::tempdir().unwrap();
    write_jpegs(&dir.path().join("images"), 4, 0);
    let message = scan_default(dir.path()).unwrap_err().to_string();
    for expected in [
        "images/",
        "only one folder",
        "usually hold(s) a dataset",
        "--layout flat",
        "--data",
        "--labels",
    ] {
        assert!(
            message.contains(expected),
            "{expected:?} missing: {message}"
        );
    }
}

#[test]
fn class_folders_that_look_like_splits_or_containers_stop_the_scan() {
    let dir = tempfile::tempdir().unwrap();
    write_jpegs(&dir.path().join("training_images"), 3, 0);
    write_jpegs(&dir.path().join("test_images"), 3, 10);
    let message = scan_default(dir.path()).unwrap_err().to_string();
    assert!(
        message.contains("test_images/, training_images/"),
        "{message}"
    );
    assert!(message.contains("look(s) like a split"), "{message}");
    assert!(
        message.contains("2 class(es) (test_images = 0, training_images = 1)"),
        "{message}"
    );

    // Stated as flat, they are classes.
    let report = scan(
        dir.path(),
        &ScanOptions {
            layout: LayoutChoice::Flat,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(report.classes, ["test_images", "training_images"]);

    let data = tempfile::tempdir().unwrap();
    write_jpegs(&data.path().join("data"), 3, 0);
    write_jpegs(&data.path().join("cats"), 3, 10);
    let message = scan_default(data.path()).unwrap_err().to_string();
    assert!(
        message.contains("data/ usually hold(s) a dataset"),
        "{message}"
    );
}

#[test]
fn class_then_split_folders_are_not_read_as_classes() {
    let dir = tempfile::tempdir().unwrap();
    for class in ["cats", "dogs"] {
        write_jpegs(&dir.path().join(class).join("train"), 3, 0);
        write_jpegs(&dir.path().join(class).join("test"), 1, 40);
    }
    let message = scan_default(dir.path()).unwrap_err().to_string();
    assert!(message.contains("cats/test/, cats/train/"), "{message}");
    assert!(message.contains("CLASS/SPLIT"), "{message}");
}

#[test]
fn eval_could_be_val_or_test() {
    let dir = tempfile::tempdir().unwrap();
    write_jpegs(&dir.path().join("train/a"), 2, 0);
    write_jpegs(&dir.path().join("train/b"), 2, 10);
    write_jpegs(&dir.path().join("eval/a"), 2, 20);
    let message = scan_default(dir.path()).unwrap_err().to_string();
    assert!(
        message.contains("`eval` could be the val or the test split"),
        "{message}"
    );
    let explicit = scan(
        dir.path(),
        &ScanOptions {
            layout: LayoutChoice::Splits,
            ..Default::default()
        },
    )
    .unwrap_err()
    .to_string();
    assert!(explicit.contains("eval"), "{explicit}");
}

#[test]
fn split_and_class_folders_mixed_say_how_to_state_it() {
    let dir = tempfile::tempdir().unwrap();
    for (seed, class) in ["bus", "car", "train"].into_iter().enumerate() {
        write_jpegs(&dir.path().join(class), 3, seed as u32 * 10);
    }
    let message = scan_default(dir.path()).unwrap_err().to_string();
    assert!(
        message.contains("mixes split folders (train/) with other folders (bus/, car/)"),
        "{message}"
    );
    assert!(message.contains("--layout flat"), "{message}");
    let report = scan(
        dir.path(),
        &ScanOptions {
            layout: LayoutChoice::Flat,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(report.classes, ["bus", "car", "train"]);

    let splits = scan(
        dir.path(),
        &ScanOptions {
            layout: LayoutChoice::Splits,
            ..Default::default()
        },
    )
    .unwrap_err()
    .to_string();
    assert!(splits.contains("bus/, car/ do not"), "{splits}");
}

#[test]
fn loose_files_are_reported_not_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write_jpegs(&root.join("train/cats"), 3, 0);
    write_jpegs(&root.join("train/dogs"), 3, 10);
    write_jpegs(&root.join("val/cats"), 1, 20);
    write_jpegs(&root.join("val/dogs"), 1, 30);
    write_jpeg(&root.join("stray.jpg"), 40);
    write_jpeg(&root.join("train/unsorted.png"), 41);
    std::fs::write(root.join("README.md"), "# my photos\n").unwrap();
    let report = scan_default(root).unwrap();
    assert!(reason_of(&report, "stray.jpg")
        .contains("directly under the dataset root, in no class folder"));
    assert!(reason_of(&report, "train/unsorted.png").contains("directly under train/"));
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.contains("ignored 1 non-image file(s) under the dataset root: README.md")),
        "{:?}",
        report.notes
    );
    assert_eq!(report.images.len(), 8);
}

#[test]
fn a_single_class_is_an_error_that_names_it() {
    let dir = tempfile::tempdir().unwrap();
    write_jpegs(&dir.path().join("PetImages/Cat"), 2, 0);
    write_jpegs(&dir.path().join("PetImages/Dog"), 2, 10);
    let message = scan(
        dir.path(),
        &ScanOptions {
            layout: LayoutChoice::Flat,
            ..Default::default()
        },
    )
    .unwrap_err()
    .to_string();
    assert!(
        message.contains("only one class was found (PetImages)"),
        "{message}"
    );
    assert!(
        message.contains("PetImages/ holds the class folders, pass --data"),
        "{message}"
    );
}

#[test]
fn missing_or_wrong_data_paths_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let error = scan_default(&dir.path().join("nope")).unwrap_err();
    assert!(error.is_usage());
    assert!(
        error.to_string().contains("nope: no such file or folder"),
        "{error}"
    );
    let file = dir.path().join("notes.txt");
    std::fs::write(&file, "x").unwrap();
    let error = scan_default(&file).unwrap_err();
    assert!(!error.is_usage());
    assert!(
        error
            .to_string()
            .contains("expected a folder of images, a .tar shard"),
        "{error}"
    );
}
