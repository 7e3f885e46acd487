//! Regenerates `tests/fixtures/` (committed): tiny real feature files for three
//! variants, the extract run record beside them, and real head-train runs on them.
//!
//! ```sh
//! cargo build --release -p head
//! cargo test --release -p report --test make_fixtures -- --ignored
//! ```
//!
//! The features are synthetic (two Gaussian classes, separation growing B0 < B1 <
//! B2, so accuracy differs per variant) at a small width to keep the files small;
//! the metadata is what extract writes. `run.json`'s timings are set here, in the
//! proportions of an extract run on CPU; everything under `runs/` is head-train's
//! own output.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use contract::{
    FeatureMeta, FeatureRow, FeatureWriter, Interpolation, Preprocessing, ResizeMode, Split,
    WeightsIdentity,
};

struct Variant {
    name: &'static str,
    dim: usize,
    input_size: u32,
    resize_size: u32,
    separation: f32,
    weights_source: &'static str,
    weights_blake3: &'static str,
    /// Recorded as `effprobe.extra.*` for some variants only, so both the
    /// metadata path and the fallback table are exercised.
    extra: Option<(u64, u64)>,
    backbone_seconds: f64,
}

const VARIANTS: [Variant; 3] = [
    Variant {
        name: "b0",
        dim: 24,
        input_size: 224,
        resize_size: 256,
        separation: 0.3,
        weights_source: "timm/tf_efficientnet_b0.ns_jft_in1k",
        weights_blake3: "5e0c1a7f3b2d4e6f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7",
        extra: Some((21_355_344, 4_007_548)),
        backbone_seconds: 4.125,
    },
    Variant {
        name: "b1",
        dim: 24,
        input_size: 240,
        resize_size: 272,
        separation: 0.45,
        weights_source: "timm/tf_efficientnet_b1.ns_jft_in1k",
        weights_blake3: "b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2",
        extra: Some((31_519_111, 6_513_184)),
        backbone_seconds: 6.5,
    },
    Variant {
        name: "b2",
        dim: 32,
        input_size: 260,
        resize_size: 292,
        separation: 0.7,
        weights_source: "timm/tf_efficientnet_b2.ns_jft_in1k",
        weights_blake3: "2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f80912",
        extra: None,
        backbone_seconds: 9.875,
    },
];

const CLASSES: [&str; 2] = ["ants", "bees"];
/// Per class: train, val, test.
const SPLIT_ROWS: [(Split, usize); 3] = [(Split::Train, 40), (Split::Val, 10), (Split::Test, 10)];

/// A small deterministic generator (SplitMix64) so the fixtures never change by accident.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn uniform(&mut self) -> f32 {
        ((self.next() >> 40) as f32 + 0.5) / (1u64 << 24) as f32
    }

    /// Box–Muller.
    fn normal(&mut self) -> f32 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f32::consts::TAU * v).cos()
    }
}

fn write_features(dir: &Path, variant: &Variant, seed: u64) -> usize {
    let preprocessing = Preprocessing {
        input_size: variant.input_size,
        input_width: None,
        resize_mode: ResizeMode::Crop,
        resize_size: variant.resize_size,
        resize_width: None,
        crop_fraction: variant.input_size as f64 / variant.resize_size as f64,
        interpolation: Interpolation::Bicubic,
        antialias: true,
        mean: [0.485, 0.456, 0.406],
        std: [0.229, 0.224, 0.225],
    };
    let mut meta = FeatureMeta::new(
        variant.name,
        variant.dim,
        "conv_head -> bn2 -> act -> global avg pool",
        preprocessing,
        WeightsIdentity {
            source: variant.weights_source.into(),
            blake3: variant.weights_blake3.into(),
        },
        CLASSES.iter().map(|c| c.to_string()).collect(),
    );
    meta.created_at = "2026-11-28T12:00:00Z".into();
    meta.tool_version = "effprobe 0.1.0".into();
    if let Some((bytes, parameters)) = variant.extra {
        meta.extra = BTreeMap::from([
            ("weights_bytes".to_string(), bytes.to_string()),
            ("backbone_parameters".to_string(), parameters.to_string()),
        ]);
    }
    let mut rng = SplitMix(seed);
    let direction: Vec<f32> = (0..variant.dim).map(|_| rng.normal()).collect();
    let norm = direction.iter().map(|d| d * d).sum::<f32>().sqrt();
    let mut writer = FeatureWriter::create(dir.join(format!("{}.parquet", variant.name)), &meta)
        .expect("create feature file");
    let mut image = 0usize;
    for (split, per_class) in SPLIT_ROWS {
        for (label, class) in CLASSES.iter().enumerate() {
            for n in 0..per_class {
                let sign = if label == 1 { 1.0 } else { -1.0 };
                let feature = direction
                    .iter()
                    .map(|d| {
                        // Post-activation pooled features are mostly positive: shift by 1.
                        1.0 + sign * variant.separation * d / norm * 2.0 + 0.6 * rng.normal()
                    })
                    .collect();
                writer
                    .write_row(FeatureRow {
                        key: format!("{:064x}", (image as u64 + 1) * 0x9E37_79B9),
                        path: format!("{split}/{class}/{class}_{n:03}.jpg"),
                        label: label as i32,
                        label_name: class.to_string(),
                        split,
                        feature,
                    })
                    .expect("write row");
                image += 1;
            }
        }
    }
    writer.finish().expect("finish feature file")
}

fn run_record(images: usize) -> serde_json::Value {
    let variants: Vec<serde_json::Value> = VARIANTS
        .iter()
        .map(|v| {
            serde_json::json!({
                "variant": v.name,
                "output": format!("features/{}.parquet", v.name),
                "rows": images,
                "feature_dim": v.dim,
                "input_size": v.input_size,
                "cached_hits": 0,
                "computed": images,
                "backbone_seconds": v.backbone_seconds,
                "images_per_second": images as f64 / v.backbone_seconds,
                "batch_size": 32,
                "device": "cpu",
                "precision": "fp32",
                "weights_source": v.weights_source,
                "weights_blake3": v.weights_blake3,
                "cache_dir": "features/.cache",
            })
        })
        .collect();
    serde_json::json!({
        "tool_version": "effprobe 0.1.0",
        "started_at": "2026-11-28T12:00:00Z",
        "dataset": "data/sample",
        "output_dir": "features",
        "shard": null,
        "files_scanned": images,
        "images": images,
        "duplicates": 0,
        "decoded": images,
        "rejected": 0,
        "rejects_file": "features/rejects.csv",
        "decode_seconds": 3.25,
        "wall_seconds": 22.5,
        "variants": variants,
    })
}

fn head_train() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| testkit::workspace_root().join("target"));
    let binary = target.join("release/head-train");
    assert!(
        binary.is_file(),
        "{} missing: cargo build --release -p head",
        binary.display()
    );
    binary
}

#[test]
#[ignore = "regenerates the committed fixtures; run by hand"]
fn make_fixtures() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let _ = std::fs::remove_dir_all(&fixtures);
    let features = fixtures.join("features");
    std::fs::create_dir_all(&features).unwrap();
    let mut images = 0;
    for (i, variant) in VARIANTS.iter().enumerate() {
        images = write_features(&features, variant, 100 + i as u64);
    }
    std::fs::write(
        features.join("run.json"),
        serde_json::to_string_pretty(&run_record(images)).unwrap(),
    )
    .unwrap();

    // The seed's Adam, 10 epochs, with a larger step: 80 train rows make few batches.
    const ADAM: &[&str] = &["--lr", "0.01", "--head-batch-size", "16"];
    let head_train = head_train();
    let runs: [(&str, &str, &[&str]); 5] = [
        ("b0", "b0", ADAM),
        ("b1", "b1", ADAM),
        ("b2", "b2", ADAM),
        ("b0-lbfgs", "b0", &["--optimizer", "lbfgs", "--l2", "1e-2"]),
        ("b2-lbfgs", "b2", &["--optimizer", "lbfgs", "--l2", "1e-2"]),
    ];
    for (run, variant, options) in runs {
        let status = Command::new(&head_train)
            .current_dir(&fixtures)
            .arg(format!("features/{variant}.parquet"))
            .args(["--out", &format!("runs/{run}"), "--threads", "1"])
            .args(options)
            .status()
            .expect("start head-train");
        assert!(status.success(), "head-train for {run} failed");
    }
}
