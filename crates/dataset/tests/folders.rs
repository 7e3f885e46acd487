//! Scanning real folders: layouts, labels, odd files, duplicates, symlink loops.

use std::path::Path;

use contract::Split;
use dataset::{scan, Layout, ScanOptions};

fn write_jpeg(path: &Path, seed: u8) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let image =
        image::RgbImage::from_fn(32, 24, |x, y| image::Rgb([x as u8 * 8, y as u8 * 10, seed]));
    image
        .save_with_format(path, image::ImageFormat::Jpeg)
        .unwrap();
}

fn write_png(path: &Path, seed: u8) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    image::GrayImage::from_fn(16, 16, |x, _| image::Luma([x as u8 ^ seed]))
        .save(path)
        .unwrap();
}

#[test]
fn hymenoptera_counts_match_its_folders() {
    let Some(root) = testkit::shared_dataset("hymenoptera") else {
        return;
    };
    let report = scan(
        &root,
        &ScanOptions {
            full_decode: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(report.layout, Layout::Splits);
    assert_eq!(report.classes, ["ants", "bees"]);
    let counts = report.counts();
    assert_eq!(counts[&Split::Train], [124, 121]);
    assert_eq!(counts[&Split::Val], [70, 83]);
    assert!(!counts.contains_key(&Split::Test));
    // The GIF placeholder is a real, decodable GIF: it is an image like the others.
    let gif = report
        .images
        .iter()
        .find(|i| i.path == "train/ants/imageNotFound.gif")
        .unwrap();
    assert_eq!(
        (gif.format.as_str(), gif.width, gif.height),
        ("gif", 300, 300)
    );
    assert!(report.problems.is_empty(), "{:?}", report.problems);
}

#[test]
fn flat_layout_with_odd_files() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for i in 0..6u8 {
        write_jpeg(&root.join(format!("cats/{i}.jpg")), i);
        write_png(&root.join(format!("dogs/nested/{i}.png")), i);
        write_jpeg(&root.join(format!("birds/{i}.JPEG")), 100 + i);
    }
    std::fs::write(root.join("cats/notes.txt"), "not an image").unwrap();
    std::fs::write(root.join("cats/empty.jpg"), b"").unwrap();
    std::fs::write(root.join("cats/random.jpg"), [7u8; 300]).unwrap();
    std::fs::write(root.join("dogs/.hidden.jpg"), b"skipped").unwrap();
    std::fs::create_dir_all(root.join(".cache")).unwrap();
    std::fs::write(root.join(".cache/x.jpg"), b"skipped").unwrap();
    std::fs::copy(root.join("cats/0.jpg"), root.join("cats/copy-of-0.jpg")).unwrap();
    std::fs::copy(
        root.join("cats/1.jpg"),
        root.join("dogs/looks-like-a-cat.jpg"),
    )
    .unwrap();
    std::os::unix::fs::symlink(root.join("dogs"), root.join("dogs/nested/loop")).unwrap();

    let report = scan(root, &ScanOptions::default()).unwrap();
    assert_eq!(report.layout, Layout::Flat);
    assert_eq!(report.classes, ["birds", "cats", "dogs"]);
    assert_eq!(
        report.images.len(),
        18,
        "6 per class, duplicates counted once"
    );
    let reasons: Vec<(String, String)> = report
        .problems
        .iter()
        .map(|p| (p.path.clone(), p.reason.clone()))
        .collect();
    let reason_of = |path: &str| {
        reasons
            .iter()
            .find(|(p, _)| p == path)
            .map(|(_, r)| r.clone())
            .unwrap_or_else(|| panic!("{path} not reported: {reasons:?}"))
    };
    assert!(reason_of("cats/notes.txt").contains("not an image"));
    assert!(reason_of("cats/empty.jpg").contains("empty file"));
    assert!(reason_of("cats/random.jpg").contains("not an image"));
    assert!(reason_of("dogs/nested/loop").contains("symlink loop"));
    assert!(
        reason_of("dogs/looks-like-a-cat.jpg").contains("labelled \"dogs\" instead of \"cats\"")
    );
    assert!(!reasons
        .iter()
        .any(|(p, _)| p.contains("hidden") || p.contains(".cache")));
    assert_eq!(report.duplicates.len(), 2);
    assert!(report
        .duplicates
        .contains(&("cats/copy-of-0.jpg".to_string(), "cats/0.jpg".to_string())));
    let labels: Vec<(String, i32)> = report
        .images
        .iter()
        .map(|i| (i.class.clone(), i.label))
        .collect();
    assert!(labels.contains(&("birds".into(), 0)) && labels.contains(&("dogs".into(), 2)));
}

#[test]
fn renaming_and_moving_files_keeps_every_split() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..60u8 {
        write_jpeg(&dir.path().join(format!("a/{i}.jpg")), i);
        write_jpeg(&dir.path().join(format!("b/{i}.jpg")), 128 + i);
    }
    let before = scan(dir.path(), &ScanOptions::default()).unwrap();
    for i in 0..60u8 {
        let from = dir.path().join(format!("a/{i}.jpg"));
        std::fs::create_dir_all(dir.path().join("a/sub")).unwrap();
        std::fs::rename(
            from,
            dir.path().join(format!("a/sub/renamed-{}.jpg", 59 - i)),
        )
        .unwrap();
    }
    let after = scan(dir.path(), &ScanOptions::default()).unwrap();
    let by_key = |r: &dataset::ScanReport| {
        r.images
            .iter()
            .map(|i| (i.key.clone(), i.split))
            .collect::<std::collections::BTreeMap<_, _>>()
    };
    assert_eq!(by_key(&before), by_key(&after));
}

#[test]
fn given_layout_accepts_validation_and_test_folders() {
    let dir = tempfile::tempdir().unwrap();
    write_jpeg(&dir.path().join("train/x/1.jpg"), 1);
    write_jpeg(&dir.path().join("validation/x/2.jpg"), 2);
    write_jpeg(&dir.path().join("test/y/3.jpg"), 3);
    let report = scan(dir.path(), &ScanOptions::default()).unwrap();
    assert_eq!(report.classes, ["x", "y"]);
    let splits: Vec<(String, Split, i32)> = report
        .images
        .iter()
        .map(|i| (i.path.clone(), i.split, i.label))
        .collect();
    assert!(splits.contains(&("validation/x/2.jpg".into(), Split::Val, 0)));
    assert!(splits.contains(&("test/y/3.jpg".into(), Split::Test, 1)));
}

#[test]
fn unusable_roots_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    assert!(scan(&missing, &ScanOptions::default())
        .unwrap_err()
        .to_string()
        .contains("nope"));
    std::fs::create_dir_all(dir.path().join("train/a")).unwrap();
    std::fs::create_dir_all(dir.path().join("cats")).unwrap();
    let message = scan(dir.path(), &ScanOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("mixes split folders (train/) with other folders (cats/)"),
        "{message}"
    );
    let empty = tempfile::tempdir().unwrap();
    assert!(scan(empty.path(), &ScanOptions::default())
        .unwrap_err()
        .to_string()
        .contains("no class folders"));
}
