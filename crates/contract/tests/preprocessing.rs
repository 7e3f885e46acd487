//! The preprocessing recipe: timm's cfg values in, the sizes timm computes out,
//! square recipes serialised exactly as before non-square ones existed, and the
//! new fields round-tripping through feature files and head files.

mod common;

use contract::head_file::HeadFile;
use contract::{
    FeatureReader, FeatureWriter, Interpolation, Preprocessing, PreprocessingError, ResizeMode,
};

const MEAN: [f32; 3] = [0.485, 0.456, 0.406];
const STD: [f32; 3] = [0.229, 0.224, 0.225];

/// `serde_json::to_string(&common::preprocessing())` as written before
/// `input_width` and `resize_width` existed (captured from that code): cache
/// keys hash this string and every existing feature and head file holds it.
const SQUARE_CROP_JSON: &str = r#"{"input_size":224,"resize_mode":"crop","resize_size":256,"crop_fraction":0.875,"interpolation":"bicubic","antialias":true,"mean":[0.485,0.456,0.406],"std":[0.229,0.224,0.225]}"#;

/// The Keras-style stretch recipe in the same older format.
const STRETCH_JSON: &str = r#"{"input_size":224,"resize_mode":"stretch","resize_size":256,"crop_fraction":1.0,"interpolation":"bicubic","antialias":true,"mean":[0.5,0.5,0.5],"std":[0.229,0.224,0.225]}"#;

fn timm(size: (u32, u32), crop_pct: f64, mode: &str) -> Preprocessing {
    Preprocessing::from_timm(size, crop_pct, mode, "bicubic", MEAN, STD).unwrap()
}

#[test]
fn a_square_recipe_serialises_exactly_as_before() {
    let recipe = common::preprocessing();
    assert_eq!(serde_json::to_string(&recipe).unwrap(), SQUARE_CROP_JSON);
    let read: Preprocessing = serde_json::from_str(SQUARE_CROP_JSON).unwrap();
    assert_eq!(read, recipe);
    assert_eq!((read.input_width, read.resize_width), (None, None));

    // timm's square center recipe is the same recipe, byte for byte.
    let from_timm = timm((224, 224), 0.875, "center");
    assert_eq!(from_timm, recipe);
    assert_eq!(serde_json::to_string(&from_timm).unwrap(), SQUARE_CROP_JSON);

    let stretch: Preprocessing = serde_json::from_str(STRETCH_JSON).unwrap();
    assert_eq!(stretch.resize_mode, ResizeMode::Stretch);
    assert_eq!(serde_json::to_string(&stretch).unwrap(), STRETCH_JSON);
}

#[test]
fn timm_sizes_are_floor_of_side_over_crop_pct_per_side() {
    // Values from Python: math.floor(side / crop_pct).
    for (side, crop_pct, expected) in [
        (224, 0.875, 256),
        (240, 0.8, 300),
        (224, 0.95, 235),
        (288, 0.95, 303),
        (300, 0.904, 331),
        (518, 1.0, 518),
    ] {
        let recipe = timm((side, side), crop_pct, "center");
        assert_eq!(recipe.resize_size, expected, "{side} / {crop_pct}");
        assert_eq!(recipe.resize_width(), expected);
        assert!(recipe.is_square());
    }
    let tall = timm((320, 256), 0.9, "squash");
    assert_eq!((tall.resize_height(), tall.resize_width()), (355, 284));
    assert_eq!((tall.input_height(), tall.input_width()), (320, 256));
}

#[test]
fn a_non_square_recipe_carries_its_width_and_round_trips() {
    let recipe = timm((256, 320), 0.9, "center");
    assert_eq!(recipe.resize_mode, ResizeMode::Crop);
    assert_eq!((recipe.input_height(), recipe.input_width()), (256, 320));
    assert_eq!((recipe.resize_height(), recipe.resize_width()), (284, 355));
    assert_eq!(recipe.input_bytes(), 256 * 320 * 3);
    assert_eq!(recipe.input_size_label(), "256x320");
    assert!(!recipe.is_square());
    let json = serde_json::to_string(&recipe).unwrap();
    assert_eq!(
        json,
        r#"{"input_size":256,"input_width":320,"resize_mode":"crop","resize_size":284,"resize_width":355,"crop_fraction":0.9,"interpolation":"bicubic","antialias":true,"mean":[0.485,0.456,0.406],"std":[0.229,0.224,0.225]}"#
    );
    assert_eq!(
        serde_json::from_str::<Preprocessing>(&json).unwrap(),
        recipe
    );

    for (mode, expected) in [
        ("squash", ResizeMode::Squash),
        ("border", ResizeMode::Border),
    ] {
        let recipe = timm((224, 224), 1.0, mode);
        assert_eq!(recipe.resize_mode, expected);
        let json = serde_json::to_string(&recipe).unwrap();
        assert!(
            json.contains(&format!(r#""resize_mode":"{mode}""#)),
            "{json}"
        );
        assert_eq!(
            serde_json::from_str::<Preprocessing>(&json).unwrap(),
            recipe
        );
    }
}

#[test]
fn feature_and_head_files_keep_a_non_square_recipe() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("convnext.parquet");
    let mut meta = common::meta(4);
    meta.preprocessing = timm((320, 256), 0.95, "border");
    let mut writer = FeatureWriter::create(&path, &meta).unwrap();
    writer.write_rows(common::rows(3, 4)).unwrap();
    writer.finish().unwrap();
    let reader = FeatureReader::open(&path).unwrap();
    assert_eq!(reader.meta(), &meta);
    let input_size = meta
        .to_key_values()
        .into_iter()
        .find(|kv| kv.key == "effprobe.input_size")
        .and_then(|kv| kv.value);
    assert_eq!(input_size.as_deref(), Some("320x256"));

    let head = HeadFile {
        classes: vec!["ants".into(), "bees".into()],
        feature_dim: 4,
        weight: vec![0.5, -0.25, 0.125, 1.0],
        bias: vec![0.1],
        standardization: None,
        variant: "convnext_tiny".into(),
        feature_layer: "pool".into(),
        preprocessing: meta.preprocessing.clone(),
        weights: meta.weights.clone(),
        weights_location: None,
        threshold: 0.5,
        tune: None,
    };
    let bytes = head.to_bytes();
    let read = HeadFile::from_bytes("head.safetensors".as_ref(), &bytes).unwrap();
    assert_eq!(read.preprocessing, meta.preprocessing);
}

#[test]
fn bad_timm_values_are_refused_naming_the_value() {
    let err = |size, crop_pct, mode, interpolation| {
        Preprocessing::from_timm(size, crop_pct, mode, interpolation, MEAN, STD).unwrap_err()
    };
    for crop_pct in [0.0, -0.5, 1.01, f64::NAN] {
        let error = err((224, 224), crop_pct, "center", "bicubic");
        assert!(
            matches!(error, PreprocessingError::CropFraction(_)),
            "{crop_pct}: {error}"
        );
    }
    let error = err((224, 224), 0.9, "crop", "bicubic");
    assert_eq!(error, PreprocessingError::UnknownCropMode("crop".into()));
    assert!(error.to_string().contains("\"crop\""), "{error}");
    let error = err((224, 224), 0.9, "center", "lanczos");
    assert!(error.to_string().contains("\"lanczos\""), "{error}");
    assert_eq!(
        err((0, 224), 0.9, "center", "bicubic"),
        PreprocessingError::EmptyInput {
            height: 0,
            width: 224
        }
    );
    assert!(matches!(
        Preprocessing::from_timm((224, 224), 0.9, "center", "bicubic", MEAN, [0.2, 0.0, 0.2]),
        Err(PreprocessingError::Std(_))
    ));
    assert_eq!("bilinear".parse(), Ok(Interpolation::Bilinear));
}

#[test]
fn validate_refuses_a_resize_target_smaller_than_the_input() {
    let mut recipe = timm((256, 320), 1.0, "squash");
    assert_eq!(recipe.validate(), Ok(()));
    recipe.resize_width = Some(300);
    assert_eq!(
        recipe.validate(),
        Err(PreprocessingError::ResizeSmallerThanInput {
            resize_height: 256,
            resize_width: 300,
            input_height: 256,
            input_width: 320
        })
    );
    // Stretch has no resize target of its own.
    recipe.resize_mode = ResizeMode::Stretch;
    assert_eq!(recipe.validate(), Ok(()));
}
