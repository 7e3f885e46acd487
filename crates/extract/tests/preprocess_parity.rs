//! Our decode + resize + crop against PIL + torchvision on every hymenoptera photo.

use std::io::Write;

use backbone::recipe::{timm_recipe, torchvision_recipe};
use contract::{Interpolation, Preprocessing, ResizeMode};
use dataset::{scan, ScanOptions};
use extract::preprocess::{decode_rgb, resize_for_input, DecodeLimits};

const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];

fn compare_with_pil(recipe: &Preprocessing) -> serde_json::Value {
    let python = testkit::python().expect("checked by caller");
    let root = testkit::shared_dataset("hymenoptera").expect("checked by caller");
    let report = scan(&root, &ScanOptions::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let listing = dir.path().join("paths.txt");
    let ours = dir.path().join("ours.bin");
    let mut paths = std::fs::File::create(&listing).unwrap();
    let mut crops = std::fs::File::create(&ours).unwrap();
    let mut resizer = fast_image_resize::Resizer::new();
    for image in &report.images {
        let bytes = std::fs::read(root.join(&image.path)).unwrap();
        let rgb = decode_rgb(&bytes, DecodeLimits::default()).unwrap();
        let crop = resize_for_input(&rgb, recipe, &mut resizer).unwrap();
        assert_eq!(
            crop.len(),
            (recipe.input_size * recipe.input_size * 3) as usize
        );
        crops.write_all(&crop).unwrap();
        writeln!(paths, "{}", image.path).unwrap();
    }
    drop((paths, crops));
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/python/reference_preprocess.py");
    let recipe_json = serde_json::to_string(recipe).unwrap();
    let args = [
        root.to_str().unwrap(),
        listing.to_str().unwrap(),
        recipe_json.as_str(),
        ours.to_str().unwrap(),
    ];
    let stats: serde_json::Value =
        serde_json::from_str(&testkit::run_python(&python, &script, &args)).unwrap();
    eprintln!("{recipe:?}\n  -> {stats}");
    assert_eq!(stats["images"], report.images.len());
    stats
}

/// The JPEG decoders differ by up to 3 levels (libjpeg-turbo vs zune-jpeg IDCT)
/// and the two-pass resamplers round their intermediate rows differently, so
/// bytes are not identical; the differences must stay rounding-sized.
fn assert_close_to_pil(stats: &serde_json::Value) {
    assert!(
        stats["mean_abs"].as_f64().unwrap() < 0.3,
        "mean difference too large: {stats}"
    );
    assert!(
        stats["fraction_over_2"].as_f64().unwrap() < 0.002,
        "too many pixels off by more than 2: {stats}"
    );
}

fn resources_present() -> bool {
    testkit::python().is_some() && testkit::shared_dataset("hymenoptera").is_some()
}

#[test]
fn timm_bicubic_crop_matches_pil() {
    if !resources_present() {
        return;
    }
    let recipe = timm_recipe(
        224,
        0.875,
        Interpolation::Bicubic,
        IMAGENET_MEAN,
        IMAGENET_STD,
    )
    .unwrap();
    assert_close_to_pil(&compare_with_pil(&recipe));
}

#[test]
fn torchvision_bilinear_crop_at_an_odd_size_matches_pil() {
    if !resources_present() {
        return;
    }
    let recipe = torchvision_recipe(
        255,
        241,
        Interpolation::Bilinear,
        IMAGENET_MEAN,
        IMAGENET_STD,
    )
    .unwrap();
    assert_close_to_pil(&compare_with_pil(&recipe));
}

#[test]
fn keras_style_stretch_matches_pil() {
    if !resources_present() {
        return;
    }
    for interpolation in [Interpolation::Bilinear, Interpolation::Bicubic] {
        let recipe = Preprocessing {
            input_size: 260,
            resize_mode: ResizeMode::Stretch,
            resize_size: 260,
            crop_fraction: 1.0,
            interpolation,
            antialias: true,
            mean: IMAGENET_MEAN,
            std: IMAGENET_STD,
        };
        assert_close_to_pil(&compare_with_pil(&recipe));
    }
}
