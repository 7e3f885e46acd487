//! The real pretrained EfficientNet-Lite0 end to end: the network against the
//! package it ships for, and the whole product path (decode, resize, backbone)
//! against the Python reference pipeline on every hymenoptera photo.

use std::path::{Path, PathBuf};
use std::process::Command;

use backbone::efficientnet::{EfficientNetWeights, WeightsOptions};
use backbone::{FeatureNet, Placement};
use contract::{FeatureDataset, Interpolation, ResizeMode};

fn lite_weights(n: u32) -> Option<PathBuf> {
    let path = testkit::workspace_root().join(format!("data/weights/lite{n}.safetensors"));
    if path.exists() {
        Some(path)
    } else {
        testkit::skip_or_fail(&format!(
            "{} missing: run scripts/setup (data/weights/make-lite)",
            path.display()
        ))
    }
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/lite_reference.py")
}

/// Lite0, Lite1 and Lite2: every shipped weights file, on seeded input tensors.
#[test]
fn lite_matches_efficientnet_lite_pytorch_on_the_same_tensors() {
    let Some(python) = testkit::python() else {
        return;
    };
    for n in 0..3 {
        let Some(weights) = lite_weights(n) else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let reference = dir.path().join("reference.safetensors");
        testkit::run_python(
            &python,
            &script(),
            &["tensors", &n.to_string(), reference.to_str().unwrap()],
        );
        let tensors = tch::Tensor::read_safetensors(&reference).unwrap();
        let get = |name: &str| {
            tensors
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, t)| t.shallow_clone())
                .unwrap()
        };

        let backbone = EfficientNetWeights::open(&weights, &WeightsOptions::default()).unwrap();
        assert_eq!(backbone.variant.name(), format!("lite{n}"));
        assert_eq!(backbone.bn_eps, 1e-3);
        let network = backbone.build(Placement::cpu(), None).unwrap();
        let ours = network.features(&get("inputs")).unwrap();
        let expected = get("features");
        assert_eq!(ours.size(), expected.size());
        let error = (&ours - &expected).abs().max().double_value(&[])
            / expected.abs().max().double_value(&[]);
        eprintln!("lite{n} vs efficientnet_lite_pytorch: max relative error {error:.2e}");
        assert!(
            error <= 1e-4,
            "lite{n}: max |ours - ref| / max |ref| = {error:.3e}"
        );
    }
}

#[test]
fn lite0_features_of_real_photos_match_the_python_pipeline() {
    let (Some(python), Some(weights)) = (testkit::python(), lite_weights(0)) else {
        return;
    };
    let Some(root) = testkit::shared_dataset("hymenoptera") else {
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let status = Command::new(env!("CARGO_BIN_EXE_extract"))
        .args([
            "--variant",
            "lite0",
            "--device",
            "cpu",
            "--quiet",
            "--weights",
        ])
        .arg(&weights)
        .arg("--data")
        .arg(&root)
        .arg("--out")
        .arg(out.path())
        .status()
        .unwrap();
    assert!(status.success());
    let ours = out.path().join("lite0.parquet");

    // The recipe travelled from the weights' metadata into the feature file.
    let meta = FeatureDataset::open(&ours).unwrap().meta().clone();
    let recipe = &meta.preprocessing;
    assert_eq!(
        (recipe.input_size, recipe.resize_size, recipe.resize_mode),
        (224, 256, ResizeMode::Crop)
    );
    assert_eq!(recipe.interpolation, Interpolation::Bilinear);
    assert_eq!(recipe.mean, [127.0 / 255.0; 3]);
    assert_eq!(meta.feature_dim, 1280);

    let reference = out.path().join("reference.parquet");
    testkit::run_python(
        &python,
        &script(),
        &[
            "dataset",
            "0",
            root.to_str().unwrap(),
            reference.to_str().unwrap(),
        ],
    );
    let stats: serde_json::Value = serde_json::from_str(&testkit::run_python(
        &python,
        &script(),
        &[
            "compare",
            ours.to_str().unwrap(),
            reference.to_str().unwrap(),
        ],
    ))
    .unwrap();
    eprintln!("lite0 end-to-end parity on hymenoptera: {stats}");
    assert_eq!(stats["images"], 398);
    assert!(stats["cosine_mean"].as_f64().unwrap() >= 0.999, "{stats}");
    assert!(stats["cosine_min"].as_f64().unwrap() >= 0.995, "{stats}");
    let (ours_probe, reference_probe) = (
        stats["probe_ours"].as_f64().unwrap(),
        stats["probe_reference"].as_f64().unwrap(),
    );
    assert!((ours_probe - reference_probe).abs() <= 0.01, "{stats}");
    assert!(
        ours_probe >= 0.9,
        "a linear probe on Lite0 features should separate ants from bees: {stats}"
    );
}

#[test]
fn lite_weights_name_their_family_and_refuse_other_variants() {
    let Some(weights) = lite_weights(1) else {
        return;
    };
    let backbone = EfficientNetWeights::open(&weights, &WeightsOptions::default()).unwrap();
    assert_eq!(backbone.variant.name(), "lite1");
    assert_eq!(
        backbone.family,
        Some(backbone::efficientnet::Family::EfficientnetLite)
    );
    assert_eq!(backbone.padding, backbone::efficientnet::Padding::Same);
    let lite0 =
        EfficientNetWeights::open(&lite_weights(0).unwrap(), &WeightsOptions::default()).unwrap();
    // The package's parameters less its classifier `_fc` (1280 x 1000 + 1000).
    assert_eq!(lite0.parameter_count(), 3_371_008);

    for (requested, expected) in [
        ("b1", "publishes no EfficientNet-b1"),
        ("lite2", "not lite2: pass --variant lite1"),
    ] {
        let options = WeightsOptions {
            variant: Some(requested.parse().unwrap()),
            ..WeightsOptions::default()
        };
        let error = EfficientNetWeights::open(&weights, &options)
            .expect_err("wrong variant refused")
            .to_string();
        assert!(
            error.contains(expected) && error.contains("lite1.safetensors"),
            "{error}"
        );
    }
}
