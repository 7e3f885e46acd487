//! Whether bytes are an image we can use, decided by their content (not the
//! file name), and the content key every stage uses: the blake3 of the bytes.

use std::io::Cursor;

/// What a readable image is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inspection {
    pub key: String,
    pub format: String,
    pub width: u32,
    pub height: u32,
    pub bytes: u64,
}

/// The content key of an image: blake3 hex of its bytes.
pub fn content_key(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}

/// Hashes the bytes and checks that they are an image of a format we can decode
/// (headers only, or every pixel with `full_decode`). The error is the reason,
/// as a person reads it.
pub fn inspect_bytes(bytes: &[u8], full_decode: bool) -> Result<Inspection, String> {
    if bytes.is_empty() {
        return Err("empty file (0 bytes)".into());
    }
    let key = content_key(bytes);
    let reader = image::ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| format!("cannot read: {e}"))?;
    let format = reader
        .format()
        .ok_or_else(|| "not an image (content matches no known image format)".to_string())?;
    let format_name = format!("{format:?}").to_lowercase();
    if !format.reading_enabled() {
        return Err(format!("unsupported image format: {format_name}"));
    }
    let (width, height) = if full_decode {
        let decoded = reader
            .decode()
            .map_err(|e| format!("cannot decode {format_name}: {e}"))?;
        (decoded.width(), decoded.height())
    } else {
        reader
            .into_dimensions()
            .map_err(|e| format!("corrupt {format_name} header: {e}"))?
    };
    Ok(Inspection {
        key,
        format: format_name,
        width,
        height,
        bytes: bytes.len() as u64,
    })
}

/// Whether a file name's extension says image (used only to decide what a loose
/// file beside the class folders probably is; content decides everywhere else).
pub fn has_image_extension(name: &str) -> bool {
    let lower = name.to_lowercase();
    [
        ".jpg", ".jpeg", ".png", ".gif", ".bmp", ".tif", ".tiff", ".webp",
    ]
    .iter()
    .any(|ext| lower.ends_with(ext))
}
