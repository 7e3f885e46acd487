//! Our decode + resize + crop (or pad) against PIL + torchvision, and against
//! timm's own evaluation transform for every crop_mode, on every hymenoptera
//! photo and on every awkward image kind of `tests/python/odd_images.py`:
//! identical bytes, image by image.

use std::io::Write;
use std::path::{Path, PathBuf};

use backbone::recipe::{timm_recipe, torchvision_recipe};
use contract::{Interpolation, Preprocessing, ResizeMode};
use dataset::{scan, ScanOptions};
use extract::preprocess::{decode_rgb, resize_for_input, DecodeLimits};
use serde_json::{json, Value};

const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];

/// One recipe and the transform it must reproduce.
struct Case {
    name: String,
    recipe: Preprocessing,
    reference: Value,
}

/// A recipe checked against torchvision's Resize + CenterCrop (or Resize to a
/// square for stretch), built from the recipe's own numbers.
fn torchvision_case(recipe: Preprocessing) -> Case {
    Case {
        name: format!("{recipe:?}"),
        reference: json!({ "torchvision": recipe }),
        recipe,
    }
}

/// timm's `transforms_imagenet_eval` for these cfg values, and our recipe from
/// the same values through `Preprocessing::from_timm`.
fn timm_case(size: (u32, u32), crop_pct: f64, crop_mode: &str, interpolation: &str) -> Case {
    let recipe = Preprocessing::from_timm(
        size,
        crop_pct,
        crop_mode,
        interpolation,
        IMAGENET_MEAN,
        IMAGENET_STD,
    )
    .unwrap();
    Case {
        name: format!(
            "timm {crop_mode} {}x{} crop_pct {crop_pct} {interpolation}",
            size.0, size.1
        ),
        reference: json!({ "timm": {
            "img_size": [size.0, size.1],
            "crop_pct": crop_pct,
            "crop_mode": crop_mode,
            "interpolation": interpolation,
        }}),
        recipe,
    }
}

/// A folder of images and their paths in it.
struct Images {
    label: &'static str,
    root: PathBuf,
    paths: Vec<String>,
}

fn hymenoptera() -> Option<Images> {
    let root = testkit::shared_dataset("hymenoptera")?;
    let report = scan(&root, &ScanOptions::default()).unwrap();
    let paths = report.images.iter().map(|i| i.path.to_string()).collect();
    Some(Images {
        label: "hymenoptera",
        root,
        paths,
    })
}

/// Grayscale, palette, alpha, CMYK, 16-bit, EXIF-rotated, GIF, ... (64×48 and
/// 48×64), written by PIL into `dir`.
fn odd_images(python: &Path, dir: &Path) -> Images {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/odd_images.py");
    let manifest: Value = serde_json::from_str(&testkit::run_python(
        python,
        &script,
        &[dir.to_str().unwrap()],
    ))
    .unwrap();
    let paths: Vec<String> = manifest
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["name"].as_str().unwrap().to_string())
        .collect();
    assert!(paths.len() >= 12);
    Images {
        label: "odd images",
        root: dir.to_path_buf(),
        paths,
    }
}

/// Decodes each image once, resizes it for every case, and has the reference
/// script compare; returns its statistics per case.
fn compare(python: &Path, images: &Images, cases: &[Case]) -> Vec<Value> {
    let dir = tempfile::tempdir().unwrap();
    let mut outputs: Vec<_> = (0..cases.len())
        .map(|c| {
            let path = dir.path().join(format!("ours-{c}.bin"));
            (std::fs::File::create(&path).unwrap(), path)
        })
        .collect();
    for path in &images.paths {
        let bytes = std::fs::read(images.root.join(path)).unwrap();
        let rgb = decode_rgb(&bytes, DecodeLimits::default()).unwrap();
        for (case, (file, _)) in cases.iter().zip(&mut outputs) {
            let input = resize_for_input(&rgb, &case.recipe)
                .unwrap_or_else(|e| panic!("{path}, {}: {e}", case.name));
            assert_eq!(input.len(), case.recipe.input_bytes(), "{}", case.name);
            file.write_all(&input).unwrap();
        }
    }
    let job = json!({
        "root": images.root,
        "paths": images.paths,
        "cases": cases.iter().zip(&outputs).map(|(case, (_, path))| json!({
            "name": case.name,
            "height": case.recipe.input_height(),
            "width": case.recipe.input_width(),
            "ours": path,
            "reference": case.reference,
        })).collect::<Vec<_>>(),
    });
    drop(outputs);
    let job_path = dir.path().join("job.json");
    std::fs::write(&job_path, job.to_string()).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/reference_preprocess.py");
    let stats: Vec<Value> = serde_json::from_str(&testkit::run_python(
        python,
        &script,
        &[job_path.to_str().unwrap()],
    ))
    .unwrap();
    assert_eq!(stats.len(), cases.len());
    for stat in &stats {
        eprintln!("{}: {stat}", images.label);
        assert_eq!(stat["images"], images.paths.len());
    }
    stats
}

/// Decoding (libjpeg-turbo, as in PIL) and resampling (Pillow's fixed-point
/// passes, in Pillow's order) reproduce the reference to the bit: every image of
/// every case is identical.
fn assert_identical(images: &Images, stats: &[Value]) {
    for stat in stats {
        let differing: Vec<(&String, &Value)> = stat["worst_by_path"]
            .as_object()
            .expect("worst_by_path")
            .iter()
            .filter(|(_, worst)| worst.as_u64() != Some(0))
            .collect();
        assert!(
            differing.is_empty(),
            "{} ({}): images differ from the reference (largest difference each): {differing:?}",
            images.label,
            stat["name"]
        );
    }
}

/// Every case on hymenoptera (skipped visibly when absent) and on the odd images.
fn check(cases: &[Case]) {
    let Some(python) = testkit::python() else {
        return;
    };
    let odd_dir = tempfile::tempdir().unwrap();
    let mut sets = vec![odd_images(&python, odd_dir.path())];
    sets.extend(hymenoptera());
    for images in &sets {
        assert_identical(images, &compare(&python, images, cases));
    }
}

#[test]
fn timm_bicubic_crop_matches_pil() {
    let recipe = timm_recipe(
        224,
        0.875,
        Interpolation::Bicubic,
        IMAGENET_MEAN,
        IMAGENET_STD,
    )
    .unwrap();
    check(&[
        torchvision_case(recipe),
        timm_case((224, 224), 0.875, "center", "bicubic"),
    ]);
}

#[test]
fn torchvision_bilinear_crop_at_an_odd_size_matches_pil() {
    let recipe = torchvision_recipe(
        255,
        241,
        Interpolation::Bilinear,
        IMAGENET_MEAN,
        IMAGENET_STD,
    )
    .unwrap();
    check(&[torchvision_case(recipe)]);
}

#[test]
fn torchvision_nearest_crop_matches_pil() {
    let recipe = torchvision_recipe(
        256,
        224,
        Interpolation::Nearest,
        IMAGENET_MEAN,
        IMAGENET_STD,
    )
    .unwrap();
    check(&[torchvision_case(recipe)]);
}

#[test]
fn keras_style_stretch_matches_pil() {
    let cases: Vec<Case> = [Interpolation::Bilinear, Interpolation::Bicubic]
        .into_iter()
        .map(|interpolation| {
            torchvision_case(Preprocessing {
                input_size: 260,
                input_width: None,
                resize_mode: ResizeMode::Stretch,
                resize_size: 260,
                resize_width: None,
                crop_fraction: 1.0,
                interpolation,
                antialias: true,
                mean: IMAGENET_MEAN,
                std: IMAGENET_STD,
            })
        })
        .collect();
    check(&cases);
}

#[test]
fn timm_center_at_non_square_sizes_matches_timm() {
    let mut cases = Vec::new();
    for size in [(256, 320), (320, 256)] {
        for crop_pct in [0.9, 1.0] {
            cases.push(timm_case(size, crop_pct, "center", "bicubic"));
        }
    }
    cases.push(timm_case((240, 180), 0.95, "center", "bilinear"));
    check(&cases);
}

#[test]
fn timm_squash_matches_timm() {
    check(&[
        timm_case((224, 224), 0.875, "squash", "bicubic"),
        timm_case((256, 320), 0.9, "squash", "bicubic"),
        timm_case((320, 256), 1.0, "squash", "bilinear"),
    ]);
}

#[test]
fn timm_border_matches_timm() {
    check(&[
        timm_case((224, 224), 1.0, "border", "bicubic"),
        timm_case((224, 224), 0.875, "border", "bicubic"),
        timm_case((256, 320), 0.9, "border", "bicubic"),
        timm_case((320, 256), 1.0, "border", "bilinear"),
    ]);
}
