//! The cut point and the rebuilt top are right: before any training, the
//! trainable top over the activation at the cut gives the full backbone's pooled
//! features (fp32, CPU, max |top - full| / max |full| <= 1e-4), for a B variant
//! with random BN-calibrated torchvision weights (made by PyPI torchvision) and
//! for the pretrained EfficientNet-Lite0. Also: the float16 activations extract
//! caches are the fp32 ones rounded, and a backbone with the top's tensors swapped
//! in (what predict and export run) equals the top over those rounded activations.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use backbone::efficientnet::{EfficientNetWeights, Variant, WeightsOptions};
use backbone::{FeatureNet, Placement};
use contract::tune_file::TuneFile;
use tch::{Device, Kind, Tensor};

const TOLERANCE: f64 = 1e-4;

fn relative_error(ours: &Tensor, reference: &Tensor) -> f64 {
    let difference = (ours - reference).abs().max().double_value(&[]);
    difference / reference.abs().max().double_value(&[])
}

fn images(size: i64, seed: i64) -> Tensor {
    tch::manual_seed(seed);
    Tensor::randn([3, 3, size, size], (Kind::Float, Device::Cpu))
}

/// Checks every top size in `tops` (`None`: the last stage) at `size` pixels.
fn check_parity(backbone: &EfficientNetWeights, size: u32, tops: &[Option<usize>]) {
    let input = images(i64::from(size), 5);
    let network = backbone.build(Placement::cpu(), None).expect("network");
    let full = network.features(&input).expect("full forward");
    for &top_blocks in tops {
        let cut = backbone.cut_point(top_blocks, size).expect("cut");
        let activation = network.activation(&input, &cut).expect("activation");
        let shape: Vec<i64> = cut.shape.iter().map(|&d| d as i64).collect();
        assert_eq!(
            &activation.size()[1..],
            shape.as_slice(),
            "{top_blocks:?}: cut shape"
        );
        let top = backbone.top(cut, 1, 0, Device::Cpu).expect("top");
        let ours = tch::no_grad(|| top.features(&activation, false)).expect("top forward");
        let error = relative_error(&ours, &full);
        assert!(
            error <= TOLERANCE,
            "{} top {top_blocks:?} (cut before block {} of {}): relative error {error:.2e}",
            backbone.variant,
            cut.first_block,
            cut.total_blocks
        );
        eprintln!("{} top {:?}: {error:.2e}", backbone.variant, top_blocks);
    }
}

/// The float16 path: extract's cached activation, the top over it, and the
/// backbone with the top swapped in (rounding at the cut) agree.
fn check_cached_path(backbone: EfficientNetWeights, size: u32) {
    let input = images(i64::from(size), 6);
    let cut = backbone.cut_point(None, size).expect("cut");
    let mut network = backbone.build(Placement::cpu(), None).expect("network");
    let exact = network.activation(&input, &cut).expect("activation");
    network.set_activation_cut(Some(cut));
    let (_, cached) = network.features_and_activation(&input).expect("forward");
    let cached = cached.expect("activation requested").to_kind(Kind::Float);
    let rounding = relative_error(&cached, &exact);
    assert!(
        rounding <= 1e-3,
        "float16 cache: relative error {rounding:.2e}"
    );

    let top = backbone.top(cut, 1, 0, Device::Cpu).expect("top");
    let over_cache = tch::no_grad(|| top.features(&cached, false)).expect("top forward");
    let tensors: BTreeMap<String, (Vec<usize>, Vec<f32>)> = top
        .named_tensors()
        .into_iter()
        .map(|(name, t)| {
            let shape = t.size().iter().map(|&d| d as usize).collect();
            let values = Vec::<f32>::try_from(&t.detach().flatten(0, -1)).expect("values");
            (name, (shape, values))
        })
        .collect();
    let tune = TuneFile {
        variant: backbone.variant.name().to_string(),
        family: backbone.family.map_or("timm", |f| f.name()).to_string(),
        weights: backbone.identity.clone(),
        cut,
        batch_norm_updated: false,
        tensors,
    };
    let tuned = backbone
        .build(Placement::cpu(), Some((&tune, "0123456789abcdef")))
        .expect("apply tune");
    let tuned = tuned.features(&input).expect("tuned forward");
    let error = relative_error(&tuned, &over_cache);
    assert!(
        error <= 1e-5,
        "tuned network vs top over the cache: {error:.2e}"
    );
}

fn reference_weights(python: &Path, dir: &Path, variant: &str) -> PathBuf {
    let script =
        testkit::workspace_root().join("crates/backbone/tests/python/efficientnet_reference.py");
    let out = dir.to_str().expect("utf-8 temp path");
    testkit::run_python(
        python,
        &script,
        &[
            "case",
            "--family",
            "torchvision",
            "--variant",
            variant,
            "--out",
            out,
        ],
    );
    dir.join("weights.safetensors")
}

#[test]
fn a_b_variant_top_equals_the_full_backbone_at_every_cut() {
    let Some(python) = testkit::python() else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let weights = reference_weights(&python, dir.path(), "b0");
    let options = WeightsOptions {
        variant: Some(Variant::B0),
        ..WeightsOptions::default()
    };
    let backbone = EfficientNetWeights::open(&weights, &options).expect("B0 weights");
    // The last stage (one block), the last two stages (a stride-2 block inside),
    // and every block.
    check_parity(&backbone, 224, &[None, Some(5), Some(16)]);
    // An odd size: the cut's spatial arithmetic, not only 224's.
    check_parity(&backbone, 237, &[Some(5)]);
    check_cached_path(backbone, 224);
}

#[test]
fn pretrained_lite0_top_equals_the_full_backbone() {
    let weights = testkit::workspace_root().join("data/weights/lite0.safetensors");
    if !weights.exists() {
        let _: Option<()> =
            testkit::skip_or_fail(&format!("{} missing: run scripts/setup", weights.display()));
        return;
    }
    let backbone = EfficientNetWeights::open(&weights, &WeightsOptions::default()).expect("Lite0");
    // TensorFlow "same" padding: odd sizes pad asymmetrically at stride 2.
    check_parity(&backbone, 224, &[None, Some(5)]);
    check_parity(&backbone, 231, &[None]);
    check_cached_path(backbone, 224);
}

#[test]
fn a_cut_outside_the_network_is_refused_with_the_block_count() {
    let backbone = EfficientNetWeights::random(Variant::B0, 1);
    let error = backbone
        .cut_point(Some(17), 224)
        .expect_err("17 of 16 blocks");
    assert!(error.to_string().contains("has 16 blocks"), "{error}");
}

#[test]
fn the_last_stage_cut_has_the_documented_shapes() {
    use backbone::efficientnet::{cut_point, Padding};
    let b0 = cut_point(Variant::B0, None, 224, Padding::Symmetric).unwrap();
    assert_eq!(
        (b0.top_blocks, b0.first_block, b0.shape),
        (1, 15, [192, 7, 7])
    );
    let b7 = cut_point(Variant::B7, None, 600, Padding::Symmetric).unwrap();
    assert_eq!((b7.top_blocks, b7.shape), (4, [384, 19, 19]));
    assert_eq!(b7.bytes_per_image(), 277_248);
    assert!(
        b0.last_stage && b7.last_stage,
        "the last stage, whatever its length"
    );
    let b7_top1 = cut_point(Variant::B7, Some(1), 600, Padding::Symmetric).unwrap();
    assert!(!b7_top1.last_stage, "one of B7's four last-stage blocks");
    let lite0 = cut_point(Variant::Lite0, None, 224, Padding::Same).unwrap();
    assert_eq!((lite0.top_blocks, lite0.shape), (1, [192, 7, 7]));
}
