use contract::{Interpolation, Preprocessing, ResizeMode};
use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use image::RgbImage;

#[derive(Debug, thiserror::Error)]
pub enum ResizeError {
    #[error("recipe resizes the shorter side to {resize_size} px, smaller than the {input_size} px crop")]
    CropLargerThanResize { resize_size: u32, input_size: u32 },
    #[error("image is empty ({width}×{height})")]
    EmptyImage { width: u32, height: u32 },
    #[error("resize failed: {0}")]
    Resize(String),
}

/// torchvision's `Resize(int)`: the shorter side becomes `size`, the longer one
/// keeps the aspect ratio, truncated (`int(size * long / short)`).
pub fn resized_shorter_side(width: u32, height: u32, size: u32) -> (u32, u32) {
    let scale =
        |long: u32, short: u32| (u64::from(size) * u64::from(long) / u64::from(short)) as u32;
    if width <= height {
        (size, scale(height, width))
    } else {
        (scale(width, height), size)
    }
}

/// torchvision's `CenterCrop` offset: `int(round((full - crop) / 2))`, where
/// Python rounds halves to even.
pub fn center_crop_offset(full: u32, crop: u32) -> u32 {
    let excess = full.saturating_sub(crop);
    let half = excess / 2;
    if excess % 2 == 1 && half % 2 == 1 {
        half + 1
    } else {
        half
    }
}

/// PIL resamples with filters widened by the scale factor when downscaling
/// (antialiasing); fast_image_resize's convolution does the same.
fn algorithm(recipe: &Preprocessing) -> ResizeAlg {
    let filter = match recipe.interpolation {
        Interpolation::Nearest => return ResizeAlg::Nearest,
        Interpolation::Bilinear => FilterType::Bilinear,
        Interpolation::Bicubic => FilterType::CatmullRom,
    };
    if recipe.antialias {
        ResizeAlg::Convolution(filter)
    } else {
        ResizeAlg::Interpolation(filter)
    }
}

/// Resizes (and crops) an RGB image to the recipe's square input, returned as
/// `input_size × input_size × 3` bytes, row-major, channels last.
pub fn resize_for_input(
    rgb: &RgbImage,
    recipe: &Preprocessing,
    resizer: &mut Resizer,
) -> Result<Vec<u8>, ResizeError> {
    let (width, height) = rgb.dimensions();
    if width == 0 || height == 0 {
        return Err(ResizeError::EmptyImage { width, height });
    }
    let size = recipe.input_size;
    let (target_w, target_h) = match recipe.resize_mode {
        ResizeMode::Stretch => (size, size),
        ResizeMode::Crop => {
            if recipe.resize_size < size {
                return Err(ResizeError::CropLargerThanResize {
                    resize_size: recipe.resize_size,
                    input_size: size,
                });
            }
            resized_shorter_side(width, height, recipe.resize_size)
        }
    };
    let source = ImageRef::new(width, height, rgb.as_raw(), PixelType::U8x3)
        .map_err(|e| ResizeError::Resize(e.to_string()))?;
    let mut resized = Image::new(target_w, target_h, PixelType::U8x3);
    let options = ResizeOptions::new().resize_alg(algorithm(recipe));
    resizer
        .resize(&source, &mut resized, &options)
        .map_err(|e| ResizeError::Resize(e.to_string()))?;
    if (target_w, target_h) == (size, size) {
        return Ok(resized.into_vec());
    }
    let left = center_crop_offset(target_w, size) as usize;
    let top = center_crop_offset(target_h, size) as usize;
    let row_bytes = target_w as usize * 3;
    let crop_bytes = size as usize * 3;
    let buffer = resized.buffer();
    let mut cropped = Vec::with_capacity(crop_bytes * size as usize);
    for row in top..top + size as usize {
        let start = row * row_bytes + left * 3;
        cropped.extend_from_slice(&buffer[start..start + crop_bytes]);
    }
    Ok(cropped)
}
