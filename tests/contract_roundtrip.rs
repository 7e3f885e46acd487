//! Every file one stage hands to another, written by its producer's code and read
//! by its consumer's, with no Python and no shared data: images made here, the
//! extract pipeline with a small deterministic backbone, head-train's trainer,
//! the report's and predict's readers.

use std::collections::BTreeMap;
use std::path::Path;

use backbone::recipe::torchvision_recipe;
use contract::metrics::HeadMetrics;
use contract::run_record::RunRecord;
use contract::{extra, Preprocessing, WeightsIdentity};
use extract::pipeline::{extract, Backbone, BackboneError, ExtractOptions, ProgressMode};

/// Per-channel means of a 16×16 input, scaled: a pure function of the pixels.
struct ChannelMeans {
    variant: &'static str,
    recipe: Preprocessing,
    weights: WeightsIdentity,
}

impl ChannelMeans {
    fn boxed(variant: &'static str) -> Box<dyn Backbone> {
        Box::new(ChannelMeans {
            variant,
            recipe: torchvision_recipe(
                18,
                16,
                contract::Interpolation::Bilinear,
                [0.5; 3],
                [0.25; 3],
            )
            .unwrap(),
            weights: WeightsIdentity {
                source: format!("channel means {variant}"),
                blake3: "1".repeat(64),
            },
        })
    }
}

impl Backbone for ChannelMeans {
    fn variant(&self) -> &str {
        self.variant
    }
    fn feature_dim(&self) -> usize {
        3
    }
    fn feature_layer(&self) -> String {
        "channel means".into()
    }
    fn recipe(&self) -> &Preprocessing {
        &self.recipe
    }
    fn weights(&self) -> &WeightsIdentity {
        &self.weights
    }
    fn batch_size(&self) -> usize {
        5
    }
    fn device(&self) -> String {
        "cpu".into()
    }
    fn precision(&self) -> String {
        "fp32".into()
    }
    fn forward(&mut self, images: &[&[u8]]) -> Result<Vec<f32>, BackboneError> {
        Ok(images
            .iter()
            .flat_map(|image| {
                (0..3).map(move |c| {
                    image
                        .iter()
                        .skip(c)
                        .step_by(3)
                        .map(|&v| f32::from(v))
                        .sum::<f32>()
                        / 25_600.0
                })
            })
            .collect())
    }
    fn extra(&self) -> BTreeMap<String, String> {
        BTreeMap::from([(extra::BACKBONE_PARAMETERS.to_string(), "42".to_string())])
    }
}

/// Two classes the channel means tell apart (reddish and bluish), 12 images each,
/// plus a non-image (a scan reject) and a truncated JPEG (a decode reject).
fn dataset(root: &Path) {
    for (class, tint) in [("blue", [40u8, 60, 200]), ("red", [200u8, 60, 40])] {
        std::fs::create_dir_all(root.join(class)).unwrap();
        for i in 0..12u32 {
            let image = image::RgbImage::from_fn(20 + i, 18, |x, y| {
                let wobble = ((x * 7 + y * 3 + i * 11) % 40) as u8;
                image::Rgb(tint.map(|t| t.saturating_add(wobble)))
            });
            image
                .save(root.join(class).join(format!("{i:02}.jpg")))
                .unwrap();
        }
    }
    std::fs::write(root.join("red/notes.txt"), "not an image").unwrap();
    // Large enough that half the file is past its headers: a decode failure.
    let noisy = image::RgbImage::from_fn(160, 120, |x, y| {
        image::Rgb([
            (x * y % 251) as u8,
            (x * 13 % 256) as u8,
            (y * 7 % 256) as u8,
        ])
    });
    let mut whole = Vec::new();
    noisy
        .write_to(
            &mut std::io::Cursor::new(&mut whole),
            image::ImageFormat::Jpeg,
        )
        .unwrap();
    std::fs::write(root.join("red/truncated.jpg"), &whole[..whole.len() / 2]).unwrap();
}

#[test]
fn every_contract_file_round_trips_from_producer_to_consumer() {
    let dir = tempfile::tempdir().unwrap();
    let (data, features) = (dir.path().join("data"), dir.path().join("features"));
    dataset(&data);
    let scan = dataset::scan(&data, &dataset::ScanOptions::default()).unwrap();

    // extract → feature files, run.json, rejects.csv.
    let mut backbones = vec![ChannelMeans::boxed("b0"), ChannelMeans::boxed("b1")];
    let mut options = ExtractOptions::new(&features);
    options.progress = ProgressMode::Quiet;
    let written = extract(&scan, &mut backbones, &options).unwrap();
    let read = RunRecord::read(&features.join("run.json")).unwrap();
    assert_eq!(read.variants.len(), 2);
    assert_eq!(
        (read.images, read.decoded, read.rejected, read.files_scanned),
        (
            written.images,
            written.decoded,
            written.rejected,
            written.files_scanned
        )
    );
    assert_eq!(read.dataset_scan, written.dataset_scan);
    assert_eq!(read.variants[1].computed, 24);
    let report_sources = report::feature_sources(&features).unwrap();
    let record = report_sources.record.as_ref().unwrap();
    assert_eq!(record.variant("b1", &"1".repeat(64)).unwrap().rows, 24);
    let rejects = contract::rejects::read(&features.join("rejects.csv")).unwrap();
    let stages: Vec<(&str, &str)> = rejects
        .iter()
        .map(|r| (r.path.as_str(), r.stage.as_str()))
        .collect();
    assert_eq!(
        stages,
        [("red/notes.txt", "scan"), ("red/truncated.jpg", "decode")]
    );
    assert!(rejects[1].key.is_some() && rejects[0].key.is_none());

    // The feature file's extras, as the report reads them.
    let b0 = report_sources
        .index
        .datasets
        .iter()
        .find(|d| d.meta.variant == "b0")
        .unwrap();
    assert_eq!(b0.meta.backbone_parameters(), Some(42));
    assert!(b0.meta.backbone_seconds_per_image().is_some());

    // head-train → head.safetensors, metrics.json, history.csv.
    let head_options = head::TrainOptions {
        epochs: 3,
        batch_size: 4,
        lr: 0.05,
        ..Default::default()
    };
    let trained = head::train(&[features.join("b0.parquet")], &head_options).unwrap();
    let run_dir = dir.path().join("runs/b0");
    trained.write(&run_dir, &head_options).unwrap();

    // ...read by the report.
    let runs = report::inputs::find_runs(&dir.path().join("runs")).unwrap();
    let run = &runs[0];
    let produced = trained.run_metrics(&head_options);
    let mut consumed = run.metrics.clone();
    consumed.resources.peak_rss_bytes = produced.resources.peak_rss_bytes;
    assert_eq!(consumed.options, head_options);
    assert_eq!(consumed.features, produced.features);
    assert_eq!(consumed.roles, produced.roles);
    assert_eq!(consumed.candidates.len(), produced.candidates.len());
    for (a, b) in consumed.splits.iter().zip(&produced.splits) {
        assert_eq!((&a.split, &a.role, a.rows), (&b.split, &b.role, b.rows));
        assert!((a.log_loss - b.log_loss).abs() <= 1e-12 * b.log_loss.abs().max(1.0));
        assert_eq!(a.confusion_matrix, b.confusion_matrix);
    }
    assert_eq!(run.history.len(), trained.history.len());
    for (a, b) in run.history.iter().zip(&trained.history) {
        assert_eq!(a.step, b.step);
        assert!((a.train_loss - b.train_loss).abs() <= 1e-12);
    }
    assert_eq!(run.head.variant, "b0");
    assert_eq!(run.head.input_size, 16);

    // ...and the head file by predict.
    let head = extract::predict::read_head(&run_dir).unwrap();
    assert_eq!(head.file.classes, ["blue", "red"]);
    assert_eq!(head.file.weight, trained.head.weight);
    assert_eq!(head.file.weights.blake3, "1".repeat(64));
}

#[test]
fn a_newer_schema_is_refused_naming_the_file_and_both_versions() {
    let dir = tempfile::tempdir().unwrap();
    for (name, version, read) in [
        (
            "metrics.json",
            contract::metrics::METRICS_SCHEMA_VERSION,
            (|p: &Path| HeadMetrics::read(p).map(|_| ())) as fn(&Path) -> _,
        ),
        (
            "run.json",
            contract::run_record::RUN_RECORD_SCHEMA_VERSION,
            |p: &Path| RunRecord::read(p).map(|_| ()),
        ),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, r#"{"schema_version": 99}"#).unwrap();
        let message = read(&path).unwrap_err().to_string();
        assert!(
            message.contains(&path.display().to_string())
                && message.contains("schema_version 99")
                && message.contains(&format!("newer than the {version} this build reads")),
            "{message}"
        );
    }
    let history = dir.path().join("history.csv");
    std::fs::write(&history, "epoch,loss\n1,0.5\n").unwrap();
    let message = contract::history::read(&history).unwrap_err().to_string();
    assert!(
        message.contains("history.csv") && message.contains("expected"),
        "{message}"
    );
}
