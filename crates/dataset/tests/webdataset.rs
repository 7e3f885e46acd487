//! WebDataset tar shards written by Python's tarfile the way webdataset writes
//! them: labels from cls and json members or a manifest, splits from shard names
//! or the content hash, truncated shards, and the same images read in place.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::{reason_of, scan_default, write_jpegs};
use contract::Split;
use dataset::{scan, ImageSource, Layout, ScanOptions, ScanReport, SplitsFrom};

/// cats/ and dogs/ of 12 JPEGs each, as loose files.
fn loose(root: &Path) {
    write_jpegs(&root.join("cats"), 12, 0);
    write_jpegs(&root.join("dogs"), 12, 500);
}

/// Writes the loose dataset as shards; `None` when Python is missing (skipped).
fn shards(source: &Path, out: &Path, extra: &[&str]) -> Option<Vec<String>> {
    let python = testkit::python()?;
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/write_shards.py");
    let mut args = vec![source.to_str().unwrap(), out.to_str().unwrap()];
    args.extend_from_slice(extra);
    let listing = testkit::run_python(&python, &script, &args);
    Some(listing.lines().map(str::to_string).collect())
}

/// key → (label, class, split) of every image.
fn by_key(report: &ScanReport) -> BTreeMap<String, (i32, String, Split)> {
    report
        .images
        .iter()
        .map(|i| (i.key.clone(), (i.label, i.class.clone(), i.split)))
        .collect()
}

#[test]
fn json_labelled_shards_hold_exactly_the_loose_dataset() {
    let dir = tempfile::tempdir().unwrap();
    let (source, out) = (dir.path().join("loose"), dir.path().join("shards"));
    loose(&source);
    if shards(&source, &out, &["--per-shard", "7", "--label", "json"]).is_none() {
        return;
    }
    let files = scan_default(&source).unwrap();
    for data in [
        out.clone(),
        PathBuf::from(format!("{}/shard-{{00000..00003}}.tar", out.display())),
    ] {
        let tars = scan_default(&data).unwrap();
        assert_eq!(tars.layout, Layout::Webdataset, "{}", data.display());
        assert_eq!(tars.splits_from, SplitsFrom::Hash);
        assert_eq!(tars.classes, files.classes);
        assert_eq!(by_key(&tars), by_key(&files), "{}", data.display());
        assert!(tars.problems.is_empty(), "{:?}", tars.problems);
        assert_eq!(tars.images[0].path, "shard-00000.tar/000000.jpg");
        // Read in place: the bytes are the file's.
        for image in &tars.images {
            assert!(matches!(image.source, ImageSource::TarMember { .. }));
            let bytes = image.source.read().unwrap();
            assert_eq!(blake3::hash(&bytes).to_hex().as_str(), image.key);
        }
    }
    let one = scan_default(&out.join("shard-00001.tar")).unwrap();
    assert_eq!(one.images.len(), 7);
    assert!(one
        .images
        .iter()
        .all(|i| i.path.starts_with("shard-00001.tar/")));
}

#[test]
fn cls_labels_are_integer_classes() {
    let dir = tempfile::tempdir().unwrap();
    let (source, out) = (dir.path().join("loose"), dir.path().join("shards"));
    loose(&source);
    let Some(listing) = shards(&source, &out, &["--per-shard", "10", "--label", "cls"]) else {
        return;
    };
    let report = scan_default(&out).unwrap();
    assert_eq!(report.classes, ["0", "1"]);
    assert_eq!(report.images.len(), 24);
    for line in listing {
        let fields: Vec<&str> = line.split(' ').collect();
        let (key, shard, class) = (fields[0], fields[1], fields[2]);
        let image = report
            .images
            .iter()
            .find(|i| i.path == format!("{shard}/{key}.jpg"))
            .unwrap();
        assert_eq!(image.label, if class == "cats" { 0 } else { 1 });
    }
    // Same keys and labels as the loose files, so the same hash splits.
    let files = scan_default(&source).unwrap();
    let splits = |r: &ScanReport| -> BTreeMap<String, (i32, Split)> {
        r.images
            .iter()
            .map(|i| (i.key.clone(), (i.label, i.split)))
            .collect()
    };
    assert_eq!(splits(&report), splits(&files));
}

#[test]
fn a_truncated_shard_keeps_every_sample_before_the_cut() {
    let dir = tempfile::tempdir().unwrap();
    let (source, out) = (dir.path().join("loose"), dir.path().join("shards"));
    loose(&source);
    // Shard 1 holds samples 10..19, two members each: member 6 is 000013.jpg.
    if shards(&source, &out, &["--per-shard", "10", "--truncate", "1:6"]).is_none() {
        return;
    }
    let report = scan_default(&out).unwrap();
    let reason = reason_of(&report, "shard-00001.tar/000013.jpg");
    assert!(
        reason.contains("truncated shard") && reason.contains("the samples before it are kept"),
        "{reason}"
    );
    let in_shard_1: Vec<&str> = report
        .images
        .iter()
        .filter(|i| i.path.starts_with("shard-00001.tar/"))
        .map(|i| i.path.as_str())
        .collect();
    assert_eq!(
        in_shard_1,
        [
            "shard-00001.tar/000010.jpg",
            "shard-00001.tar/000011.jpg",
            "shard-00001.tar/000012.jpg"
        ]
    );
    assert_eq!(report.images.len(), 10 + 3 + 4);
}

#[test]
fn splits_from_shard_names() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for (split, seed) in [("train", 0), ("val", 100), ("test", 200)] {
        write_jpegs(&root.join(split).join("cats"), 4, seed);
        write_jpegs(&root.join(split).join("dogs"), 4, seed + 50);
        if shards(
            &root.join(split),
            &root.join("shards"),
            &["--prefix", split, "--label", "json"],
        )
        .is_none()
        {
            return;
        }
    }
    let report = scan_default(&root.join("shards")).unwrap();
    assert_eq!(report.splits_from, SplitsFrom::ShardNames);
    let counts = report.counts();
    for split in Split::ALL {
        assert_eq!(counts[&split], [4, 4], "{split}");
    }
    // One shard without a split name among named ones: a question, not a guess.
    std::fs::copy(
        root.join("shards/val-00000.tar"),
        root.join("shards/extra-00000.tar"),
    )
    .unwrap();
    let message = scan_default(&root.join("shards")).unwrap_err().to_string();
    assert!(
        message.contains("some shards name a split") && message.contains("extra-00000.tar"),
        "{message}"
    );
}

#[test]
fn labels_from_a_manifest_keyed_by_sample_key() {
    let dir = tempfile::tempdir().unwrap();
    let (source, out) = (dir.path().join("loose"), dir.path().join("shards"));
    loose(&source);
    let Some(listing) = shards(&source, &out, &["--label", "none"]) else {
        return;
    };
    // Without labels every sample is a problem, and so the dataset has no image.
    let message = scan_default(&out).unwrap_err().to_string();
    assert!(
        message.contains("no usable images") && message.contains("no label"),
        "{message}"
    );

    let mut csv = String::from("path,label\n");
    for line in listing.iter().take(20) {
        let fields: Vec<&str> = line.split(' ').collect();
        csv.push_str(&format!("{}.jpg,{}\n", fields[0], fields[2]));
    }
    csv.push_str("999999,cats\n");
    let manifest = dir.path().join("labels.csv");
    std::fs::write(&manifest, csv).unwrap();
    let report = scan(
        &out,
        &ScanOptions {
            labels: Some(manifest),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(report.classes, ["cats", "dogs"]);
    assert_eq!(report.images.len(), 20);
    assert!(reason_of(&report, "999999").contains("no sample with this key"));
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.contains("4 sample(s) are not in the manifest")),
        "{:?}",
        report.notes
    );
}

#[test]
fn shards_without_images_and_compressed_shards_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("shards");
    std::fs::create_dir_all(&out).unwrap();
    // A tar of captions only.
    let mut builder = tar::Builder::new(std::fs::File::create(out.join("captions-0.tar")).unwrap());
    let mut header = tar::Header::new_gnu();
    header.set_size(5);
    header.set_cksum();
    builder
        .append_data(&mut header, "000001.txt", &b"hello"[..])
        .unwrap();
    builder.finish().unwrap();
    let message = scan_default(&out).unwrap_err().to_string();
    assert!(
        message.contains("no usable images")
            && message.contains("captions-0.tar: 1 member(s) but no image"),
        "{message}"
    );
    // Beside a good shard, a compressed one is a named problem.
    let source = dir.path().join("loose");
    loose(&source);
    if shards(&source, &out, &["--label", "json"]).is_none() {
        return;
    }
    std::fs::write(out.join("more.tar.gz"), [0x1f, 0x8b, 8, 0]).unwrap();
    let report = scan_default(&out).unwrap();
    assert_eq!(report.images.len(), 24);
    assert!(reason_of(&report, "more.tar.gz").contains("a compressed shard: decompress it"));
    assert!(reason_of(&report, "captions-0.tar").contains("no image"));
    // A folder of shards beside loose images: which one is meant?
    write_jpegs(&out.join("loose"), 1, 0);
    let message = scan_default(&out).unwrap_err().to_string();
    assert!(message.contains("holds both tar shards"), "{message}");
}

#[test]
fn a_pattern_naming_a_missing_shard_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let pattern = format!("{}/train-{{00000..00002}}.tar", dir.path().display());
    let error = scan_default(Path::new(&pattern)).unwrap_err();
    assert!(error.is_usage());
    assert!(
        error
            .to_string()
            .contains("train-00000.tar: no such file or folder"),
        "{error}"
    );
    let error = scan_default(Path::new(&format!(
        "{}/x-{{1..}}.tar",
        dir.path().display()
    )))
    .unwrap_err();
    assert!(error.is_usage(), "{error}");
}
