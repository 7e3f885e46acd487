//! From image bytes to the backbone's input, exactly as the weights' source does it:
//! decode with EXIF orientation, convert to RGB, resize (shorter side then center
//! crop, or stretch) with Pillow's own resampling, to the bit. Normalising is
//! the backbone's (`backbone::Extractor::normalize`), on its device.
//!
//! Decoding happens once per image; resizing once per requested input size, so
//! several backbones share one decode.

mod decode;
mod jpeg;
mod resample;
mod resize;

pub use decode::{decode_rgb, DecodeError, DecodeLimits};
pub use resize::{center_crop_offset, resize_for_input, resized_shorter_side, ResizeError};
