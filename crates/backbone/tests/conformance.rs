//! Our EfficientNets against PyPI torchvision / timm on random, BN-calibrated
//! weights: max |ours - ref| / max |ref| <= 1e-4 on the pooled features, fp32 CPU,
//! at the variant's own input size and at an odd, non-square one.
//!
//! CI runs B0 (torchvision), B2 (timm) and B3 (timm tf_). The whole 8 x 3 grid is
//! `full_grid` (ignored; run by `tools/conformance_grid.sh`).

use std::path::Path;
use std::time::Instant;

use backbone::efficientnet::{EfficientNetWeights, Padding, Variant, WeightsOptions};
use backbone::{FeatureNet, Placement};
use tch::Tensor;

const TOLERANCE: f64 = 1e-4;

struct CaseResult {
    /// One per input size: `(height, width, max relative error)`.
    errors: Vec<(i64, i64, f64)>,
    python_seconds: f64,
    rust_seconds: f64,
}

fn reference_script() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/efficientnet_reference.py")
}

/// Builds the reference in Python, loads its weights here, compares features.
fn run_case(python: &Path, family: &str, variant: Variant) -> CaseResult {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().to_str().expect("utf-8 temp path");
    let started = Instant::now();
    let stdout = testkit::run_python(
        python,
        &reference_script(),
        &[
            "case",
            "--family",
            family,
            "--variant",
            variant.name(),
            "--out",
            out,
        ],
    );
    let python_seconds = started.elapsed().as_secs_f64();
    let report: serde_json::Value = serde_json::from_str(stdout.trim()).expect("case JSON");

    let started = Instant::now();
    let options = WeightsOptions {
        variant: Some(variant),
        // timm's own (non-tf) weights carry no padding metadata, as on the Hub.
        padding: (family == "timm").then_some(Padding::Symmetric),
        ..WeightsOptions::default()
    };
    let weights = EfficientNetWeights::open(&dir.path().join("weights.safetensors"), &options)
        .unwrap_or_else(|e| panic!("{family} {variant}: {e}"));
    let backbone = weights.build(Placement::cpu(), None).expect("builds");
    let expected_padding = if family == "timm_tf" {
        Padding::Same
    } else {
        Padding::Symmetric
    };
    assert_eq!(backbone.padding, expected_padding);
    assert_eq!(
        backbone.feature_dim() as i64,
        report["feature_dim"].as_i64().expect("feature_dim")
    );
    let cases = Tensor::read_safetensors(dir.path().join("cases.safetensors")).expect("cases");
    let tensor = |name: &str| {
        cases
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| t.shallow_clone())
            .unwrap_or_else(|| panic!("cases.safetensors lacks {name}"))
    };
    let mut errors = Vec::new();
    for index in 0..2 {
        let input = tensor(&format!("input_{index}"));
        let reference = tensor(&format!("features_{index}"));
        let ours = backbone.features(&input).expect("forward");
        assert_eq!(ours.size(), reference.size());
        let scale = reference.abs().max().double_value(&[]);
        let error = (&ours - &reference).abs().max().double_value(&[]) / scale;
        let size = input.size();
        errors.push((size[2], size[3], error));
    }
    CaseResult {
        errors,
        python_seconds,
        rust_seconds: started.elapsed().as_secs_f64(),
    }
}

fn assert_conforms(family: &str, variant: Variant) {
    let Some(python) = testkit::python() else {
        return;
    };
    let result = run_case(&python, family, variant);
    for (height, width, error) in result.errors {
        assert!(
            error <= TOLERANCE,
            "{family} {variant} at {height}x{width}: max relative error {error:.3e} > {TOLERANCE:e}"
        );
    }
}

#[test]
fn torchvision_b0_matches_reference() {
    assert_conforms("torchvision", Variant::B0);
}

#[test]
fn timm_b2_matches_reference() {
    assert_conforms("timm", Variant::B2);
}

#[test]
fn timm_tf_b3_matches_reference() {
    assert_conforms("timm_tf", Variant::B3);
}

/// Every variant in every family; prints a Markdown table. Slow on CPU (B7 at 600 px).
#[test]
#[ignore = "the full grid takes minutes: tools/conformance_grid.sh runs it"]
fn full_grid() {
    let Some(python) = testkit::python() else {
        return;
    };
    let families = std::env::var("EFFPROBE_GRID_FAMILIES")
        .unwrap_or_else(|_| "torchvision,timm,timm_tf".to_string());
    let variants: Vec<Variant> = match std::env::var("EFFPROBE_GRID_VARIANTS") {
        Ok(list) => list
            .split(',')
            .map(|v| v.parse().expect("variant name"))
            .collect(),
        Err(_) => Variant::EFFICIENTNET.to_vec(),
    };
    println!("| family | variant | own size | max rel err | odd size | max rel err | python s | rust s |");
    println!("|---|---|---|---|---|---|---|---|");
    let mut failures = Vec::new();
    for family in families.split(',') {
        for &variant in &variants {
            let result = run_case(&python, family, variant);
            let cells: Vec<String> = result
                .errors
                .iter()
                .map(|(h, w, e)| format!("{h}x{w} | {e:.2e}"))
                .collect();
            println!(
                "| {family} | {variant} | {} | {:.1} | {:.1} |",
                cells.join(" | "),
                result.python_seconds,
                result.rust_seconds
            );
            for (height, width, error) in result.errors {
                if error > TOLERANCE {
                    failures.push(format!("{family} {variant} {height}x{width}: {error:.3e}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "over tolerance: {failures:?}");
}
