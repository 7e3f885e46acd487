//! Weights files that must be refused, each with a message naming the problem,
//! and the checks that decide family, padding and variant. The files are real
//! state dicts written by torchvision / timm (tests/python/efficientnet_reference.py).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use backbone::efficientnet::{EfficientNetWeights, Family, Padding, Variant, WeightsOptions};
use backbone::DeviceRequest;

struct Fixtures {
    _dir: tempfile::TempDir,
    torchvision_b0: PathBuf,
    timm_b0: PathBuf,
    timm_tf_b3: PathBuf,
    renamed_b0: PathBuf,
    pickle: PathBuf,
}

const RENAMED_FROM: &str = "features.2.0.block.1.0.weight";
const RENAMED_TO: &str = "features.2.0.block.1.0.kernel";

fn fixtures() -> Option<&'static Fixtures> {
    static FIXTURES: OnceLock<Option<Fixtures>> = OnceLock::new();
    FIXTURES
        .get_or_init(|| {
            let python = testkit::python()?;
            let script = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/python/efficientnet_reference.py");
            let dir = tempfile::tempdir().expect("temp dir");
            let path = |name: &str| dir.path().join(name);
            let weights = |family: &str, variant: &str, out: &Path, rename: Option<String>| {
                let out = out.to_str().expect("utf-8 path");
                let mut args = vec![
                    "weights",
                    "--family",
                    family,
                    "--variant",
                    variant,
                    "--out",
                    out,
                ];
                let rename = rename.unwrap_or_default();
                if !rename.is_empty() {
                    args.extend(["--rename", rename.as_str()]);
                }
                testkit::run_python(&python, &script, &args);
            };
            weights("torchvision", "b0", &path("tv_b0.safetensors"), None);
            weights("timm", "b0", &path("timm_b0.safetensors"), None);
            weights("timm_tf", "b3", &path("tf_b3.safetensors"), None);
            weights(
                "torchvision",
                "b0",
                &path("renamed.safetensors"),
                Some(format!("{RENAMED_FROM}={RENAMED_TO}")),
            );
            let pickle = path("model.pth");
            testkit::run_python(
                &python,
                &script,
                &["pickle", "--out", pickle.to_str().expect("utf-8 path")],
            );
            Some(Fixtures {
                torchvision_b0: path("tv_b0.safetensors"),
                timm_b0: path("timm_b0.safetensors"),
                timm_tf_b3: path("tf_b3.safetensors"),
                renamed_b0: path("renamed.safetensors"),
                pickle,
                _dir: dir,
            })
        })
        .as_ref()
}

fn load_error(path: &Path, options: WeightsOptions) -> String {
    match EfficientNetWeights::open(path, &options) {
        Ok(backbone) => panic!("{} loaded as {}", path.display(), backbone.variant),
        Err(error) => error.to_string(),
    }
}

fn assert_mentions(message: &str, needles: &[&str]) {
    for needle in needles {
        assert!(message.contains(needle), "{needle:?} not in:\n{message}");
    }
}

#[test]
fn truncated_file_is_refused() {
    let Some(f) = fixtures() else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let truncated = dir.path().join("truncated.safetensors");
    let bytes = std::fs::read(&f.torchvision_b0).expect("read");
    std::fs::write(&truncated, &bytes[..bytes.len() - 4096]).expect("write");
    let message = load_error(&truncated, WeightsOptions::default());
    assert_mentions(
        &message,
        &[
            "truncated.safetensors",
            "not a valid safetensors file",
            "truncated",
        ],
    );
}

#[test]
fn renamed_tensor_is_listed_as_missing_and_unexpected() {
    let Some(f) = fixtures() else { return };
    let options = WeightsOptions {
        variant: Some(Variant::B0),
        ..WeightsOptions::default()
    };
    let message = load_error(&f.renamed_b0, options);
    assert_mentions(
        &message,
        &[
            "not a complete EfficientNet-b0 (torchvision names)",
            "2 problem(s)",
            &format!("missing {RENAMED_FROM} [96, 1, 3, 3]"),
            &format!("unexpected {RENAMED_TO} [96, 1, 3, 3]"),
        ],
    );
    // Without a variant, the closest one is named.
    let message = load_error(&f.renamed_b0, WeightsOptions::default());
    assert_mentions(
        &message,
        &["EfficientNet-b0", "matches no variant", RENAMED_TO],
    );
}

#[test]
fn b3_file_given_as_b5_is_caught() {
    let Some(f) = fixtures() else { return };
    let options = WeightsOptions {
        variant: Some(Variant::B5),
        ..WeightsOptions::default()
    };
    let message = load_error(&f.timm_tf_b3, options);
    assert_mentions(&message, &["EfficientNet-b3", "not b5", "--variant b3"]);
}

#[test]
fn pickle_checkpoint_is_refused() {
    let Some(f) = fixtures() else { return };
    let message = load_error(&f.pickle, WeightsOptions::default());
    assert_mentions(
        &message,
        &["model.pth", "not safetensors", "torch.save", "pickle"],
    );
}

#[test]
fn timm_file_without_padding_metadata_needs_the_flag() {
    let Some(f) = fixtures() else { return };
    let message = load_error(&f.timm_b0, WeightsOptions::default());
    assert_mentions(&message, &["--padding same", "--padding symmetric", "tf_"]);
    let options = WeightsOptions {
        padding: Some(Padding::Symmetric),
        ..WeightsOptions::default()
    };
    let backbone = EfficientNetWeights::open(&f.timm_b0, &options).expect("loads with the flag");
    assert_eq!(backbone.variant, Variant::B0);
    assert_eq!(backbone.bn_eps, 1e-5);
}

#[test]
fn padding_flag_contradicting_metadata_is_refused() {
    let Some(f) = fixtures() else { return };
    let options = WeightsOptions {
        padding: Some(Padding::Symmetric),
        ..WeightsOptions::default()
    };
    let message = load_error(&f.timm_tf_b3, options);
    assert_mentions(
        &message,
        &["--padding symmetric", "contradicts", "padding same"],
    );
}

#[test]
fn torchvision_file_with_same_padding_is_refused() {
    let Some(f) = fixtures() else { return };
    let options = WeightsOptions {
        padding: Some(Padding::Same),
        ..WeightsOptions::default()
    };
    let message = load_error(&f.torchvision_b0, options);
    assert_mentions(&message, &["torchvision", "symmetric padding"]);
}

#[test]
fn variant_family_padding_and_identity_come_from_the_file() {
    let Some(f) = fixtures() else { return };
    let backbone =
        EfficientNetWeights::open(&f.timm_tf_b3, &WeightsOptions::default()).expect("loads");
    assert_eq!(backbone.variant, Variant::B3);
    assert_eq!(backbone.family, Some(Family::Timm));
    assert_eq!(backbone.padding, Padding::Same);
    assert_eq!(backbone.bn_eps, 1e-3);
    assert_eq!(backbone.feature_dim(), 1536);
    let bytes = std::fs::read(&f.timm_tf_b3).expect("read");
    assert_eq!(
        backbone.identity.blake3,
        blake3::hash(&bytes).to_hex().to_string()
    );
    assert_eq!(backbone.identity.source, f.timm_tf_b3.display().to_string());

    let named = WeightsOptions {
        source: Some("timm/tf_efficientnet_b3.ns_jft_in1k".into()),
        ..WeightsOptions::default()
    };
    let backbone = EfficientNetWeights::open(&f.timm_tf_b3, &named).expect("loads");
    assert_eq!(
        backbone.identity.source,
        "timm/tf_efficientnet_b3.ns_jft_in1k"
    );

    let backbone =
        EfficientNetWeights::open(&f.torchvision_b0, &WeightsOptions::default()).expect("loads");
    assert_eq!(
        (backbone.variant, backbone.padding),
        (Variant::B0, Padding::Symmetric)
    );
    assert_eq!(backbone.family, Some(Family::Torchvision));
    // torchvision's own count: `efficientnet_b0` parameters less `classifier.*`.
    assert_eq!(backbone.parameter_count(), 4_007_548);
}

#[test]
fn explicit_cuda_without_a_gpu_is_an_error() {
    if tch::Cuda::is_available() {
        testkit::skip_here("this machine has a GPU");
        return;
    }
    let error = DeviceRequest::Cuda(0)
        .resolve()
        .expect_err("no silent CPU fallback");
    assert!(error.to_string().contains("cuda:0"), "{error}");
    assert_eq!(DeviceRequest::Auto.resolve().ok(), Some(tch::Device::Cpu));
    assert_eq!(
        "cuda:1".parse::<DeviceRequest>().ok(),
        Some(DeviceRequest::Cuda(1))
    );
    assert!("gpu".parse::<DeviceRequest>().is_err());
}
