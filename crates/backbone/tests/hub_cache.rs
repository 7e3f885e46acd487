//! Weights by name from a Hugging Face cache laid out by the test.

use backbone::hub_cache::{looks_like_hub_name, resolve, HubError};
use contract::{Interpolation, ResizeMode};

#[test]
fn resolves_a_timm_snapshot_and_its_preprocessing() {
    let Some(python) = testkit::python() else {
        return;
    };
    let cache = tempfile::tempdir().unwrap();
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/hub_cache_layout.py");
    let name = "timm/tf_efficientnet_b3.ns_jft_in1k";
    testkit::run_python(&python, &script, &[cache.path().to_str().unwrap(), name]);

    let model = resolve(name, cache.path()).unwrap();
    assert!(model.weights.ends_with("model.safetensors"));
    assert!(std::fs::metadata(&model.weights).unwrap().len() > 1_000_000);
    let config = model.config.expect("timm writes config.json");
    assert_eq!(config.architecture, "tf_efficientnet_b3");
    assert!(config.uses_tf_same_padding());
    let recipe = config.recipe(&model.weights).unwrap();
    // timm's pretrained_cfg for these weights: 300 px, crop_pct 0.904, bicubic, ImageNet mean/std.
    assert_eq!(recipe.input_size, 300);
    assert_eq!(recipe.resize_size, 331); // floor(300 / 0.904)
    assert_eq!(recipe.resize_mode, ResizeMode::Crop);
    assert_eq!(recipe.interpolation, Interpolation::Bicubic);
    assert_eq!(recipe.mean, [0.485, 0.456, 0.406]);
}

#[test]
fn a_missing_model_says_how_to_fetch_it() {
    let cache = tempfile::tempdir().unwrap();
    let error = resolve("timm/efficientnet_b7.ra_in1k", cache.path()).unwrap_err();
    assert!(matches!(error, HubError::NotCached { .. }));
    let message = error.to_string();
    assert!(
        message.contains("huggingface-cli download timm/efficientnet_b7.ra_in1k"),
        "{message}"
    );
    assert!(
        message.contains(&cache.path().display().to_string()),
        "{message}"
    );
}

#[test]
fn a_snapshot_without_safetensors_is_refused() {
    let cache = tempfile::tempdir().unwrap();
    let snapshot = cache
        .path()
        .join("models--timm--efficientnet_b0.ra_in1k/snapshots/abc");
    std::fs::create_dir_all(&snapshot).unwrap();
    std::fs::write(snapshot.join("pytorch_model.bin"), b"pickle").unwrap();
    let message = resolve("timm/efficientnet_b0.ra_in1k", cache.path())
        .unwrap_err()
        .to_string();
    assert!(message.contains("no model.safetensors"), "{message}");
}

#[test]
fn cache_location_follows_huggingface_hub_rules() {
    // One test owns these variables: tests in a binary share the environment.
    let saved: Vec<_> = ["HF_HUB_CACHE", "HF_HOME", "XDG_CACHE_HOME"]
        .iter()
        .map(|k| (*k, std::env::var_os(k)))
        .collect();
    std::env::set_var("HF_HUB_CACHE", "/tmp/a");
    std::env::set_var("HF_HOME", "/tmp/b");
    assert_eq!(
        backbone::hub_cache::default_cache_dir(),
        std::path::PathBuf::from("/tmp/a")
    );
    std::env::remove_var("HF_HUB_CACHE");
    assert_eq!(
        backbone::hub_cache::default_cache_dir(),
        std::path::PathBuf::from("/tmp/b/hub")
    );
    std::env::remove_var("HF_HOME");
    std::env::set_var("XDG_CACHE_HOME", "/tmp/c");
    assert_eq!(
        backbone::hub_cache::default_cache_dir(),
        std::path::PathBuf::from("/tmp/c/huggingface/hub")
    );
    for (key, value) in saved {
        match value {
            Some(v) => std::env::set_var(key, v),
            None => std::env::remove_var(key),
        }
    }
}

#[test]
fn names_and_paths_are_told_apart() {
    assert!(looks_like_hub_name("timm/tf_efficientnet_b3.ns_jft_in1k"));
    assert!(!looks_like_hub_name("weights/b3.safetensors"));
    assert!(!looks_like_hub_name("data/weights/lite0/model"));
    assert!(!looks_like_hub_name("../b3"));
}
