//! JPEG through libjpeg-turbo with its default decoding (accurate integer IDCT,
//! fancy upsampling): what PIL runs, so the RGB bytes are PIL's.

use std::cell::RefCell;

use image::RgbImage;
use turbojpeg::{Colorspace, Decompressor, Image, PixelFormat};

thread_local! {
    /// One decompressor per decoding thread: its state is reused image after image.
    static DECOMPRESSOR: RefCell<Option<Decompressor>> = const { RefCell::new(None) };
}

/// The RGB pixels of a JPEG, as stored (orientation is the caller's). `Ok(None)`
/// for CMYK and YCCK files, which libjpeg-turbo does not turn into RGB.
pub fn decode(bytes: &[u8]) -> Result<Option<RgbImage>, String> {
    DECOMPRESSOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        let decompressor = match slot.as_mut() {
            Some(decompressor) => decompressor,
            None => slot.insert(Decompressor::new().map_err(|e| e.to_string())?),
        };
        let header = decompressor.read_header(bytes).map_err(|e| e.to_string())?;
        if matches!(header.colorspace, Colorspace::CMYK | Colorspace::YCCK) {
            return Ok(None);
        }
        let (width, height) = (header.width, header.height);
        let mut pixels = vec![0u8; width * height * 3];
        let image = Image {
            pixels: &mut pixels[..],
            width,
            pitch: width * 3,
            height,
            format: PixelFormat::RGB,
        };
        decompressor
            .decompress(bytes, image)
            .map_err(|e| e.to_string())?;
        let too_large = || format!("{width}×{height} does not fit in u32");
        let rgb = RgbImage::from_raw(
            u32::try_from(width).map_err(|_| too_large())?,
            u32::try_from(height).map_err(|_| too_large())?,
            pixels,
        );
        rgb.map(Some).ok_or_else(too_large)
    })
}
