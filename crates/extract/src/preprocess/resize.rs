//! One decoded image to the recipe's `height × width × 3` input, the way timm's
//! evaluation transform (`transforms_imagenet_eval`) and torchvision do it on a
//! PIL image: resize to the mode's target, then center-crop (and, for `border`,
//! pad) to the input size. Only the cropped part of the resize is computed.

use contract::{Interpolation, Preprocessing, PreprocessingError, ResizeMode};
use image::RgbImage;

use super::resample::{resize_region, Filter, Pixels, Region};

#[derive(Debug, thiserror::Error)]
pub enum ResizeError {
    #[error("recipe: {0}")]
    Recipe(#[from] PreprocessingError),
    #[error("image is empty ({width}×{height})")]
    EmptyImage { width: u32, height: u32 },
    #[error(
        "image is {width}×{height}: fitted inside {target_width}×{target_height} \
         (crop_mode border) one side would be 0 px"
    )]
    TooThin {
        width: u32,
        height: u32,
        target_width: u32,
        target_height: u32,
    },
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

/// timm's `ResizeKeepRatio` at evaluation: both sides divided by one ratio, the
/// smaller of `height / target_height` and `width / target_width` (the image
/// covers the target) or with `longest` the larger (it fits inside), each side
/// then rounded half to even as Python's `round` does. Returns (width, height).
fn resized_keep_ratio(
    width: u32,
    height: u32,
    target_width: u32,
    target_height: u32,
    longest: bool,
) -> (u32, u32) {
    let ratio_height = f64::from(height) / f64::from(target_height);
    let ratio_width = f64::from(width) / f64::from(target_width);
    let ratio = if longest {
        ratio_height.max(ratio_width)
    } else {
        ratio_height.min(ratio_width)
    };
    let side = |length: u32| (f64::from(length) / ratio).round_ties_even() as u32;
    (side(width), side(height))
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

/// timm's `border` fill: `round(255 * mean)` per channel. The mean is stored as
/// f32; widened to f64 it rounds like timm's doubles unless `255 * mean` lies
/// within f32 precision of a half, which no published mean does.
fn border_fill(mean: [f32; 3]) -> [u8; 3] {
    mean.map(|m| (255.0 * f64::from(m)).round_ties_even().clamp(0.0, 255.0) as u8)
}

/// The size the image is resized to before the crop, as (width, height).
fn resize_target(
    width: u32,
    height: u32,
    recipe: &Preprocessing,
) -> Result<(u32, u32), ResizeError> {
    let (resize_width, resize_height) = (recipe.resize_width(), recipe.resize_height());
    Ok(match recipe.resize_mode {
        ResizeMode::Stretch => (recipe.input_width(), recipe.input_height()),
        ResizeMode::Squash => (resize_width, resize_height),
        // timm's own branch: a square target is torchvision's shorter-side resize.
        ResizeMode::Crop if resize_width == resize_height => {
            resized_shorter_side(width, height, resize_height)
        }
        ResizeMode::Crop => resized_keep_ratio(width, height, resize_width, resize_height, false),
        ResizeMode::Border => {
            let target = resized_keep_ratio(width, height, resize_width, resize_height, true);
            if target.0 == 0 || target.1 == 0 {
                return Err(ResizeError::TooThin {
                    width,
                    height,
                    target_width: resize_width,
                    target_height: resize_height,
                });
            }
            target
        }
    })
}

fn filter(recipe: &Preprocessing) -> Filter {
    match recipe.interpolation {
        Interpolation::Nearest => Filter::Nearest,
        Interpolation::Bilinear => Filter::Bilinear,
        Interpolation::Bicubic => Filter::Bicubic,
    }
}

/// Where one axis of the resized image lands in the output: `length` pixels from
/// `source` onwards go to `destination` onwards.
struct Span {
    source: usize,
    destination: usize,
    length: usize,
}

/// torchvision's `center_crop` and timm's `center_crop_or_pad` along one axis: a
/// longer side is cropped at the rounded center; a shorter one is padded,
/// `(out - full) // 2` before it and the rest after.
fn span(full: u32, out: u32) -> Span {
    if full >= out {
        Span {
            source: center_crop_offset(full, out) as usize,
            destination: 0,
            length: out as usize,
        }
    } else {
        Span {
            source: 0,
            destination: ((out - full) / 2) as usize,
            length: full as usize,
        }
    }
}

/// Resizes (and crops or pads) an RGB image to the recipe's input, returned as
/// `input_height × input_width × 3` bytes, row-major, channels last. The bytes are
/// Pillow's (see `resample`).
pub fn resize_for_input(rgb: &RgbImage, recipe: &Preprocessing) -> Result<Vec<u8>, ResizeError> {
    recipe.validate()?;
    let (width, height) = rgb.dimensions();
    if width == 0 || height == 0 {
        return Err(ResizeError::EmptyImage { width, height });
    }
    let (target_width, target_height) = resize_target(width, height, recipe)?;
    let (out_width, out_height) = (recipe.input_width(), recipe.input_height());
    // torchvision's CenterCrop pads with 0 (never needed after `crop` or
    // `squash`, whose targets cover the input); timm's border pads with the mean.
    let fill = match recipe.resize_mode {
        ResizeMode::Border => border_fill(recipe.mean),
        _ => [0; 3],
    };
    let (columns, rows) = (
        span(target_width, out_width),
        span(target_height, out_height),
    );
    let mut out = fill.repeat(out_width as usize * out_height as usize);
    let out_row_bytes = out_width as usize * 3;
    resize_region(
        Pixels {
            bytes: rgb.as_raw(),
            width: width as usize,
            height: height as usize,
        },
        (target_width as usize, target_height as usize),
        filter(recipe),
        recipe.antialias,
        Region {
            columns: columns.source..columns.source + columns.length,
            rows: rows.source..rows.source + rows.length,
            out_offset: rows.destination * out_row_bytes + columns.destination * 3,
            out: &mut out,
            out_row_bytes,
        },
    );
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keep_ratio_rounds_halves_to_even_like_python() {
        // 100×50 into 225×225: the covering ratio is 50/225, the width 450.
        assert_eq!(resized_keep_ratio(100, 50, 225, 225, false), (450, 225));
        // Fitting inside: ratio 100/225, height 50 × 2.25 = 112.5, which Python rounds to 112.
        assert_eq!(resized_keep_ratio(100, 50, 225, 225, true), (225, 112));
        // 3 × 1.5 = 4.5 rounds to 4, 5 × 1.5 = 7.5 to 8.
        assert_eq!(resized_keep_ratio(2, 3, 3, 9, true), (3, 4));
        assert_eq!(resized_keep_ratio(2, 5, 3, 9, true), (3, 8));
    }

    #[test]
    fn border_fill_is_rounded_mean() {
        assert_eq!(border_fill([0.485, 0.456, 0.406]), [124, 116, 104]);
        assert_eq!(border_fill([0.5, 0.0, 1.0]), [128, 0, 255]);
    }

    #[test]
    fn a_short_axis_is_padded_floor_half_before_and_a_long_one_cropped_at_the_center() {
        // 2 into 5: padded 1 before (and 2 after); 5 into 2: cropped from
        // round(3 / 2) = 2 (half to even).
        let padded = span(2, 5);
        assert_eq!(
            (padded.source, padded.destination, padded.length),
            (0, 1, 2)
        );
        let cropped = span(5, 2);
        assert_eq!(
            (cropped.source, cropped.destination, cropped.length),
            (2, 0, 2)
        );
        let odd = span(8, 5);
        assert_eq!((odd.source, odd.destination, odd.length), (2, 0, 5));
    }
}
