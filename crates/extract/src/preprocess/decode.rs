use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageReader, RgbImage};

/// Refuse images whose pixel count exceeds this before decoding a single pixel
/// (decompression bombs: a 100-byte PNG header can claim 30000×30000).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecodeLimits {
    pub max_pixels: u64,
}

impl Default for DecodeLimits {
    /// PIL's own bomb threshold (2 × `Image.MAX_IMAGE_PIXELS`), about 179 megapixels.
    fn default() -> Self {
        DecodeLimits {
            max_pixels: 178_956_970,
        }
    }
}

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum DecodeError {
    #[error("empty file (0 bytes)")]
    Empty,
    #[error("not an image (content matches no known image format)")]
    NotAnImage,
    #[error("unsupported image format: {0}")]
    Unsupported(String),
    #[error(
        "{width}×{height} = {pixels} pixels exceeds the limit of {limit} (decompression bomb?)"
    )]
    TooLarge {
        width: u32,
        height: u32,
        pixels: u64,
        limit: u64,
    },
    #[error("cannot decode {format}: {reason}")]
    Corrupt { format: String, reason: String },
}

/// Decodes any supported image to 8-bit RGB with its EXIF orientation applied.
/// JPEGs are decoded by libjpeg-turbo, PIL's decoder, to the same bytes.
/// Grayscale, palette, alpha (dropped, as PIL's `convert("RGB")` does), CMYK and
/// 16-bit inputs all end as RGB8.
pub fn decode_rgb(bytes: &[u8], limits: DecodeLimits) -> Result<RgbImage, DecodeError> {
    if bytes.is_empty() {
        return Err(DecodeError::Empty);
    }
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|_| DecodeError::NotAnImage)?;
    let format = reader.format().ok_or(DecodeError::NotAnImage)?;
    let format_name = format!("{format:?}").to_lowercase();
    if !format.reading_enabled() {
        return Err(DecodeError::Unsupported(format_name));
    }
    if format == image::ImageFormat::Jpeg && !jpeg_is_complete(bytes) {
        return Err(DecodeError::Corrupt {
            format: format_name,
            reason: "truncated (no end-of-image marker after the last scan)".into(),
        });
    }
    let corrupt = |error: image::ImageError| DecodeError::Corrupt {
        format: format_name.clone(),
        reason: error.to_string(),
    };
    let mut decoder = reader.into_decoder().map_err(corrupt)?;
    let (width, height) = decoder.dimensions();
    let pixels = u64::from(width) * u64::from(height);
    if pixels > limits.max_pixels {
        return Err(DecodeError::TooLarge {
            width,
            height,
            pixels,
            limit: limits.max_pixels,
        });
    }
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    // JPEG: PIL's own decoder (libjpeg-turbo) for the bytes PIL gives; CMYK and
    // YCCK files, which it does not turn into RGB, go through the image crate.
    let turbo = if format == image::ImageFormat::Jpeg {
        super::jpeg::decode(bytes).map_err(|reason| DecodeError::Corrupt {
            format: format_name.clone(),
            reason,
        })?
    } else {
        None
    };
    let mut image = match turbo {
        Some(rgb) => DynamicImage::ImageRgb8(rgb),
        None => DynamicImage::from_decoder(decoder).map_err(corrupt)?,
    };
    image.apply_orientation(orientation);
    Ok(rgb8_like_pil(image))
}

/// 8-bit RGB as PIL's `convert("RGB")` makes it: 16-bit colour keeps each
/// sample's high byte (PIL's `RGB;16B` unpacker), where the image crate would
/// round to the nearest 8-bit level.
fn rgb8_like_pil(image: DynamicImage) -> RgbImage {
    match image {
        DynamicImage::ImageRgb16(_) | DynamicImage::ImageRgba16(_) => {
            let wide = image.into_rgb16();
            let (width, height) = wide.dimensions();
            let bytes = wide.as_raw().iter().map(|&v| (v >> 8) as u8).collect();
            RgbImage::from_raw(width, height, bytes).expect("one byte per 16-bit sample")
        }
        other => other.into_rgb8(),
    }
}

/// The JPEG decoder fills a truncated scan with grey, as libjpeg does; PIL (the
/// reference) refuses such files, and so do we. In entropy-coded data every 0xFF
/// is followed by 0x00 or a restart marker, so an end-of-image marker (FFD9)
/// after the last start-of-scan (FFDA) means the scan completed. Said the cheap
/// way round: some scan starts, and none starts after the last end-of-image
/// (found from the end, where it is in a complete file).
fn jpeg_is_complete(bytes: &[u8]) -> bool {
    let is = |marker: u8| move |w: &[u8]| w == [0xFF, marker];
    let Some(end) = bytes.windows(2).rposition(is(0xD9)) else {
        return false;
    };
    bytes.windows(2).any(is(0xDA)) && !bytes[end..].windows(2).any(is(0xDA))
}

#[cfg(test)]
mod tests {
    use super::jpeg_is_complete;

    #[test]
    fn a_scan_must_end_after_the_last_one_starts_even_behind_a_thumbnail() {
        // SOI, an APP1 holding a whole thumbnail (its own SOS ... EOI), then the
        // main image's SOS and entropy-coded data.
        let head = [
            0xFF, 0xD8, 0xFF, 0xE1, 0xFF, 0xD8, 0xFF, 0xDA, 1, 2, 0xFF, 0xD9, 0xFF, 0xDA, 3, 4,
        ];
        assert!(!jpeg_is_complete(&head), "main scan cut off");
        assert!(jpeg_is_complete(&[&head[..], &[5, 0xFF, 0xD9]].concat()));
        assert!(
            !jpeg_is_complete(&[0xFF, 0xD8, 0xFF, 0xD9]),
            "no scan at all"
        );
        assert!(!jpeg_is_complete(&[0xFF, 0xD8, 0xFF, 0xDA, 1]), "no end");
    }
}
