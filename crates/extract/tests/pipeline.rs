//! The extract pipeline's bookkeeping, with a small deterministic backbone so
//! each property is checked exactly: cache hits, renames, additions, deletions,
//! rejects, strictness, locking, sharding, and one decode for many backbones.
//! (The real EfficientNet backbones go through the same code in extract_cli.rs.)

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use backbone::recipe::torchvision_recipe;
use contract::{FeatureDataset, Interpolation, Preprocessing, WeightsIdentity};
use dataset::{scan, ScanOptions};
use extract::pipeline::{extract, Backbone, BackboneError, ExtractOptions, ProgressMode, Shard};

/// Features = per-channel mean and variance of the input plus a pixel checksum:
/// a pure function of the preprocessed input, as a real backbone is.
struct PixelStats {
    variant: String,
    recipe: Preprocessing,
    weights: WeightsIdentity,
    forwarded: Arc<AtomicUsize>,
}

impl PixelStats {
    fn boxed(variant: &str, size: u32, forwarded: &Arc<AtomicUsize>) -> Box<dyn Backbone> {
        Box::new(PixelStats {
            variant: variant.into(),
            recipe: torchvision_recipe(
                size + size / 7,
                size,
                Interpolation::Bilinear,
                [0.5; 3],
                [0.25; 3],
            )
            .unwrap(),
            weights: WeightsIdentity {
                source: "test pixel statistics".into(),
                blake3: "0".repeat(64),
            },
            forwarded: forwarded.clone(),
        })
    }
}

impl Backbone for PixelStats {
    fn variant(&self) -> &str {
        &self.variant
    }
    fn feature_dim(&self) -> usize {
        7
    }
    fn feature_layer(&self) -> String {
        "pixel statistics".into()
    }
    fn recipe(&self) -> &Preprocessing {
        &self.recipe
    }
    fn weights(&self) -> &WeightsIdentity {
        &self.weights
    }
    fn batch_size(&self) -> usize {
        4
    }
    fn device(&self) -> String {
        "cpu".into()
    }
    fn precision(&self) -> String {
        "fp32".into()
    }
    fn forward(&mut self, images: &[&[u8]]) -> Result<Vec<f32>, BackboneError> {
        self.forwarded.fetch_add(images.len(), Ordering::SeqCst);
        let side = self.recipe.input_size as usize;
        let mut out = Vec::new();
        for image in images {
            assert_eq!(image.len(), side * side * 3);
            for channel in 0..3 {
                let values: Vec<f32> = image
                    .iter()
                    .skip(channel)
                    .step_by(3)
                    .map(|&v| f32::from(v))
                    .collect();
                let mean = values.iter().sum::<f32>() / values.len() as f32;
                out.push(mean);
                out.push(
                    values.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / values.len() as f32,
                );
            }
            out.push(
                image
                    .iter()
                    .enumerate()
                    .map(|(i, &v)| (i % 251) as f32 * f32::from(v))
                    .sum::<f32>()
                    % 10007.0,
            );
        }
        Ok(out)
    }
}

fn options(out: &Path) -> ExtractOptions {
    ExtractOptions {
        progress: ProgressMode::Quiet,
        chunk_rows: 8,
        ..ExtractOptions::new(out)
    }
}

fn features_by_key(path: &Path) -> BTreeMap<String, (String, Vec<u32>)> {
    let all = FeatureDataset::open(path).unwrap().read_all().unwrap();
    (0..all.len())
        .map(|i| {
            (
                all.keys[i].clone(),
                (
                    all.paths[i].clone(),
                    all.feature(i).iter().map(|v| v.to_bits()).collect(),
                ),
            )
        })
        .collect()
}

#[test]
fn reruns_renames_additions_and_deletions_compute_only_what_is_new() {
    let data = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    testkit::write_cats_and_dogs(data.path(), 20);
    let counter = Arc::new(AtomicUsize::new(0));
    let run = |counter: &Arc<AtomicUsize>| {
        let report = scan(data.path(), &ScanOptions::default()).unwrap();
        let mut backbones = vec![PixelStats::boxed("px", 24, counter)];
        extract(&report, &mut backbones, &options(out.path())).unwrap()
    };

    let first = run(&counter);
    assert_eq!(counter.load(Ordering::SeqCst), 40);
    assert_eq!((first.images, first.decoded, first.rejected), (40, 40, 0));
    assert_eq!(
        (
            first.variants[0].computed,
            first.variants[0].cached_hits,
            first.variants[0].rows
        ),
        (40, 0, 40)
    );
    let output = out.path().join("px.parquet");
    let original = features_by_key(&output);
    assert_eq!(original.len(), 40);

    let again = run(&counter);
    assert_eq!(
        counter.load(Ordering::SeqCst),
        40,
        "a rerun must be a full cache hit"
    );
    assert_eq!(
        (
            again.decoded,
            again.variants[0].computed,
            again.variants[0].cached_hits
        ),
        (0, 0, 40)
    );
    assert_eq!(again.variants[0].backbone_seconds, 0.0);
    // The cost of extraction survives a run served from the cache.
    let timed = |path: &Path| {
        let meta = FeatureDataset::open(path).unwrap().meta().clone();
        (
            meta.extra["backbone_timed_images"].clone(),
            meta.extra["backbone_seconds_per_image"]
                .parse::<f64>()
                .unwrap(),
        )
    };
    let (images, per_image) = timed(&output);
    assert_eq!(images, "40");
    assert!(per_image > 0.0);
    assert_eq!(
        again.variants[0].backbone_seconds_per_image,
        Some(per_image)
    );

    // Rename every file of one class: no forward pass, same features, new paths.
    for i in 0..20 {
        std::fs::rename(
            data.path().join(format!("cats/{i}.jpg")),
            data.path().join(format!("cats/renamed_{i}.jpg")),
        )
        .unwrap();
    }
    run(&counter);
    assert_eq!(counter.load(Ordering::SeqCst), 40);
    let renamed = features_by_key(&output);
    assert_eq!(
        renamed.keys().collect::<Vec<_>>(),
        original.keys().collect::<Vec<_>>()
    );
    for (key, (path, bits)) in &renamed {
        assert_eq!(bits, &original[key].1);
        assert!(
            path.starts_with("dogs/") || path.starts_with("cats/renamed_"),
            "{path}"
        );
    }

    // Five new images: exactly five forward passes.
    for i in 0..5 {
        testkit::write_seeded_jpeg(&data.path().join(format!("dogs/new_{i}.jpg")), 5000 + i);
    }
    let added = run(&counter);
    assert_eq!(counter.load(Ordering::SeqCst), 45);
    assert_eq!(
        (added.variants[0].computed, added.variants[0].rows),
        (5, 45)
    );
    assert_eq!(timed(&output).0, "45");

    // Deleted images disappear from the output.
    std::fs::remove_file(data.path().join("dogs/3.jpg")).unwrap();
    let deleted = run(&counter);
    assert_eq!(
        (deleted.variants[0].computed, deleted.variants[0].rows),
        (0, 44)
    );
    assert!(features_by_key(&output)
        .values()
        .all(|(path, _)| path != "dogs/3.jpg"));
}

#[test]
fn another_recipe_never_reuses_stale_rows() {
    let data = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    testkit::write_cats_and_dogs(data.path(), 6);
    let report = scan(data.path(), &ScanOptions::default()).unwrap();
    let counter = Arc::new(AtomicUsize::new(0));
    extract(
        &report,
        &mut [PixelStats::boxed("px", 24, &counter)],
        &options(out.path()),
    )
    .unwrap();
    // Same variant name, other input size: a different cache entry.
    let record = extract(
        &report,
        &mut [PixelStats::boxed("px", 32, &counter)],
        &options(out.path()),
    )
    .unwrap();
    assert_eq!(
        (record.variants[0].computed, record.variants[0].cached_hits),
        (12, 0)
    );
    assert_eq!(counter.load(Ordering::SeqCst), 24);
}

#[test]
fn many_backbones_share_one_decode() {
    let data = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    testkit::write_cats_and_dogs(data.path(), 10);
    let report = scan(data.path(), &ScanOptions::default()).unwrap();
    let counter = Arc::new(AtomicUsize::new(0));
    let mut backbones = vec![
        PixelStats::boxed("small", 16, &counter),
        PixelStats::boxed("large", 40, &counter),
        // Shares small's recipe: one resize feeds both, each row to its own image.
        PixelStats::boxed("small_again", 16, &counter),
    ];
    let record = extract(&report, &mut backbones, &options(out.path())).unwrap();
    assert_eq!(
        record.decoded, 20,
        "each image is decoded once for all backbones"
    );
    assert_eq!(counter.load(Ordering::SeqCst), 60);
    assert_eq!(
        features_by_key(&out.path().join("small.parquet")),
        features_by_key(&out.path().join("small_again.parquet"))
    );
    assert!(out.path().join("small.parquet").exists() && out.path().join("large.parquet").exists());
    assert_eq!(
        FeatureDataset::open(out.path().join("large.parquet"))
            .unwrap()
            .meta()
            .preprocessing
            .input_size,
        40
    );
}

#[test]
fn bad_files_are_rejected_one_by_one_and_good_ones_still_extracted() {
    let data = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    testkit::write_cats_and_dogs(data.path(), 4);
    std::fs::write(data.path().join("cats/empty.jpg"), b"").unwrap();
    std::fs::write(data.path().join("cats/random.jpg"), [0x55u8; 500]).unwrap();
    std::fs::write(data.path().join("dogs/notes.txt"), "hello").unwrap();
    // Large enough that the cut falls in the entropy-coded data, past the header.
    let mut jpeg = Vec::new();
    image::RgbImage::from_fn(320, 240, |x, y| {
        image::Rgb([(x ^ y) as u8, (x * 3) as u8, (y * 5) as u8])
    })
    .write_to(
        &mut std::io::Cursor::new(&mut jpeg),
        image::ImageFormat::Jpeg,
    )
    .unwrap();
    jpeg.truncate(jpeg.len() * 3 / 5);
    std::fs::write(data.path().join("cats/truncated.jpg"), jpeg).unwrap();

    let report = scan(data.path(), &ScanOptions::default()).unwrap();
    let counter = Arc::new(AtomicUsize::new(0));
    let record = extract(
        &report,
        &mut [PixelStats::boxed("px", 24, &counter)],
        &options(out.path()),
    )
    .unwrap();
    assert_eq!(record.variants[0].rows, 8);
    assert_eq!(record.rejected, 4);
    let rejects = std::fs::read_to_string(out.path().join("rejects.csv")).unwrap();
    assert!(rejects.starts_with("path,stage,reason,key\n"));
    for (path, stage, reason) in [
        ("cats/empty.jpg", "scan", "empty file"),
        ("cats/random.jpg", "scan", "not an image"),
        ("dogs/notes.txt", "scan", "not an image"),
        ("cats/truncated.jpg", "decode", "cannot decode jpeg"),
    ] {
        let line = rejects
            .lines()
            .find(|l| l.starts_with(path))
            .unwrap_or_else(|| panic!("{path} missing:\n{rejects}"));
        assert!(line.contains(stage) && line.contains(reason), "{line}");
    }

    let strict = ExtractOptions {
        strict: true,
        ..options(out.path())
    };
    let error = extract(
        &report,
        &mut [PixelStats::boxed("px", 24, &counter)],
        &strict,
    )
    .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("4 file(s) rejected and --strict is set"),
        "{error}"
    );
    assert_eq!(
        FeatureDataset::open(out.path().join("px.parquet"))
            .unwrap()
            .num_rows(),
        8,
        "nothing lost under --strict"
    );
}

#[test]
fn shards_partition_the_dataset_and_read_back_as_one() {
    let data = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    testkit::write_cats_and_dogs(data.path(), 15);
    let report = scan(data.path(), &ScanOptions::default()).unwrap();
    let counter = Arc::new(AtomicUsize::new(0));
    let mut total = 0;
    for index in 0..3 {
        let shard: Shard = format!("{index}/3").parse().unwrap();
        let record = extract(
            &report,
            &mut [PixelStats::boxed("px", 24, &counter)],
            &ExtractOptions {
                shard: Some(shard),
                ..options(out.path())
            },
        )
        .unwrap();
        total += record.images;
    }
    assert_eq!(total, 30);
    assert_eq!(counter.load(Ordering::SeqCst), 30);
    let dataset = FeatureDataset::open(out.path().join("px")).unwrap();
    assert_eq!(dataset.parts().len(), 3);
    assert_eq!(dataset.num_rows(), 30);
    assert!("3/3".parse::<Shard>().is_err() && "x".parse::<Shard>().is_err());
}

#[test]
fn a_second_process_on_the_same_output_is_told_it_is_already_running() {
    let data = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    testkit::write_cats_and_dogs(data.path(), 2);
    let report = scan(data.path(), &ScanOptions::default()).unwrap();
    // Hold the lock as a concurrent run would.
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(out.path().join(".lock-all"))
        .unwrap();
    lock.try_lock().unwrap();
    let counter = Arc::new(AtomicUsize::new(0));
    let error = extract(
        &report,
        &mut [PixelStats::boxed("px", 24, &counter)],
        &options(out.path()),
    )
    .unwrap_err();
    assert!(error.to_string().contains("already writing to"), "{error}");
    drop(lock);
    extract(
        &report,
        &mut [PixelStats::boxed("px", 24, &counter)],
        &options(out.path()),
    )
    .unwrap();
}
