use contract::{Interpolation, Preprocessing, ResizeMode};

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum RecipeError {
    #[error("crop fraction {0} is outside (0, 1]")]
    CropFraction(f64),
    #[error("resize size {resize_size} is smaller than the crop size {crop_size}")]
    ResizeSmallerThanCrop { resize_size: u32, crop_size: u32 },
    #[error("input size must be at least 1")]
    EmptyInput,
}

/// timm's evaluation transform: `Resize(floor(input / crop_pct))` on the shorter
/// side, then `CenterCrop(input)`.
pub fn timm_recipe(
    input_size: u32,
    crop_pct: f64,
    interpolation: Interpolation,
    mean: [f32; 3],
    std: [f32; 3],
) -> Result<Preprocessing, RecipeError> {
    if input_size == 0 {
        return Err(RecipeError::EmptyInput);
    }
    if !(crop_pct > 0.0 && crop_pct <= 1.0) {
        return Err(RecipeError::CropFraction(crop_pct));
    }
    let resize_size = (f64::from(input_size) / crop_pct).floor() as u32;
    Ok(Preprocessing {
        input_size,
        input_width: None,
        resize_mode: ResizeMode::Crop,
        resize_size,
        resize_width: None,
        crop_fraction: crop_pct,
        interpolation,
        antialias: true,
        mean,
        std,
    })
}

/// torchvision's `ImageClassification` preset: an explicit resize size for the
/// shorter side and a crop size, per weights.
pub fn torchvision_recipe(
    resize_size: u32,
    crop_size: u32,
    interpolation: Interpolation,
    mean: [f32; 3],
    std: [f32; 3],
) -> Result<Preprocessing, RecipeError> {
    if crop_size == 0 {
        return Err(RecipeError::EmptyInput);
    }
    if resize_size < crop_size {
        return Err(RecipeError::ResizeSmallerThanCrop {
            resize_size,
            crop_size,
        });
    }
    Ok(Preprocessing {
        input_size: crop_size,
        input_width: None,
        resize_mode: ResizeMode::Crop,
        resize_size,
        resize_width: None,
        crop_fraction: f64::from(crop_size) / f64::from(resize_size),
        interpolation,
        antialias: true,
        mean,
        std,
    })
}
