//! From image bytes to the backbone's input, exactly as the weights' source does it:
//! decode with EXIF orientation, convert to RGB, resize (shorter side then center
//! crop, or stretch) with PIL-equivalent antialiased resampling, normalise.
//!
//! Decoding happens once per image; resizing once per requested input size, so
//! several backbones share one decode.

mod decode;
mod recipes;
mod resize;
mod tensor;

pub use decode::{decode_rgb, DecodeError, DecodeLimits};
pub use recipes::{timm_recipe, torchvision_recipe, RecipeError};
pub use resize::{center_crop_offset, resize_for_input, resized_shorter_side, ResizeError};
pub use tensor::normalized_chw;
