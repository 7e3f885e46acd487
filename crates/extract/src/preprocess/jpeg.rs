//! JPEG through libjpeg-turbo with its default decoding (accurate integer IDCT,
//! fancy upsampling): what PIL runs, so the RGB bytes are PIL's.
//!
//! TurboJPEG's own API, called directly: its functions report a warning
//! ("Corrupt JPEG data: 2 extraneous bytes before marker 0xd9", common in real
//! photos) as a failure after decoding every pixel, and the `turbojpeg` crate's
//! wrapper cannot tell the two apart. PIL ignores libjpeg's warnings and keeps
//! the image; so does this. (Truncated files, which PIL refuses, are refused
//! before decoding.)

use std::cell::RefCell;
use std::ffi::{c_int, CStr};

use image::RgbImage;
use turbojpeg_sys as tj;

/// One TurboJPEG decompressor, destroyed with its owner.
struct Decompressor(tj::tjhandle);

impl Decompressor {
    fn new() -> Result<Decompressor, String> {
        // SAFETY: tj3Init has no preconditions; a null handle means failure.
        let handle = unsafe { tj::tj3Init(tj::TJINIT_TJINIT_DECOMPRESS as c_int) };
        if handle.is_null() {
            return Err("libjpeg-turbo could not start a decompressor".into());
        }
        Ok(Decompressor(handle))
    }

    /// A failure of the last call, unless it was only a warning.
    fn check(&self, status: c_int) -> Result<(), String> {
        if status == 0 {
            return Ok(());
        }
        // SAFETY: the handle is live; both calls read its last error.
        let (code, message) = unsafe {
            (
                tj::tj3GetErrorCode(self.0),
                CStr::from_ptr(tj::tj3GetErrorStr(self.0))
                    .to_string_lossy()
                    .into_owned(),
            )
        };
        if code == tj::TJERR_TJERR_WARNING as c_int {
            Ok(())
        } else {
            Err(message)
        }
    }

    fn get(&self, parameter: tj::TJPARAM) -> c_int {
        // SAFETY: the handle is live; an unknown parameter reads as -1.
        unsafe { tj::tj3Get(self.0, parameter as c_int) }
    }
}

impl Drop for Decompressor {
    fn drop(&mut self) {
        // SAFETY: the handle came from tj3Init and is destroyed once, here.
        unsafe { tj::tj3Destroy(self.0) }
    }
}

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
            None => slot.insert(Decompressor::new()?),
        };
        let length = bytes.len() as tj::size_t;
        // SAFETY: the handle is live and `bytes` is valid for `length` bytes.
        let status = unsafe { tj::tj3DecompressHeader(decompressor.0, bytes.as_ptr(), length) };
        decompressor.check(status)?;
        let colorspace = decompressor.get(tj::TJPARAM_TJPARAM_COLORSPACE);
        if colorspace == tj::TJCS_TJCS_CMYK as c_int || colorspace == tj::TJCS_TJCS_YCCK as c_int {
            return Ok(None);
        }
        let width = decompressor.get(tj::TJPARAM_TJPARAM_JPEGWIDTH);
        let height = decompressor.get(tj::TJPARAM_TJPARAM_JPEGHEIGHT);
        let (Ok(columns), Ok(rows)) = (u32::try_from(width), u32::try_from(height)) else {
            return Err(format!("header states {width}×{height} pixels"));
        };
        let pitch = width
            .checked_mul(3)
            .ok_or_else(|| format!("{width} pixels per row do not fit a row of bytes"))?;
        let mut pixels = vec![0u8; columns as usize * rows as usize * 3];
        // SAFETY: `pixels` holds `height` rows of `pitch` bytes, the size
        // TurboJPEG writes for RGB at the header's dimensions (no scaling).
        let status = unsafe {
            tj::tj3Decompress8(
                decompressor.0,
                bytes.as_ptr(),
                length,
                pixels.as_mut_ptr(),
                pitch,
                tj::TJPF_TJPF_RGB as c_int,
            )
        };
        decompressor.check(status)?;
        RgbImage::from_raw(columns, rows, pixels)
            .map(Some)
            .ok_or_else(|| format!("{width}×{height} pixels do not fit in memory's indexing"))
    })
}
