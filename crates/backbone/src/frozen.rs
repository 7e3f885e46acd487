//! `torch.jit.freeze` for exported modules on the CPU (src/frozen_module.cpp):
//! what the strongest ordinary PyTorch setup does to a TorchScript module, so an
//! exported backbone runs here at least as fast as it does there.

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::path::Path;

use tch::Kind;

extern "C" {
    fn effprobe_frozen_module(
        path: *const c_char,
        dtype: c_int,
        bytes: *mut *mut c_char,
        length: *mut usize,
        parameters: *mut i64,
        error: *mut *mut c_char,
    ) -> c_int;
    fn effprobe_free(pointer: *mut c_void);
}

/// ATen's ScalarType number of the kinds a module runs in.
fn scalar_type(kind: Kind) -> Option<c_int> {
    match kind {
        Kind::Half => Some(5),
        Kind::Float => Some(6),
        Kind::BFloat16 => Some(15),
        _ => None,
    }
}

/// A module frozen by libtorch, serialised, and what freezing hides.
pub struct FrozenModule {
    /// For `CModule::load_data`.
    pub bytes: Vec<u8>,
    /// Counted before freezing turned parameters into constants.
    pub parameters: u64,
}

/// The module at `path`, cast to `kind` and frozen; or libtorch's reason why not.
pub fn frozen_module(path: &Path, kind: Kind) -> Result<FrozenModule, String> {
    let dtype = scalar_type(kind).ok_or_else(|| format!("no frozen module in {kind:?}"))?;
    let path = CString::new(path.to_string_lossy().as_bytes())
        .map_err(|_| "a path with a NUL byte".to_string())?;
    let mut bytes: *mut c_char = std::ptr::null_mut();
    let mut length = 0usize;
    let mut parameters = 0i64;
    let mut error: *mut c_char = std::ptr::null_mut();
    // SAFETY: the shim writes either (bytes, length) or error, each malloc'd,
    // and never keeps the pointers; both are freed here after copying.
    unsafe {
        let status = effprobe_frozen_module(
            path.as_ptr(),
            dtype,
            &mut bytes,
            &mut length,
            &mut parameters,
            &mut error,
        );
        if status != 0 {
            let message = if error.is_null() {
                "unknown error".to_string()
            } else {
                let text = CStr::from_ptr(error).to_string_lossy().into_owned();
                effprobe_free(error.cast());
                text
            };
            // libtorch's messages carry a C++ backtrace after the first line.
            return Err(message.lines().next().unwrap_or_default().to_string());
        }
        let copy = std::slice::from_raw_parts(bytes.cast::<u8>(), length).to_vec();
        effprobe_free(bytes.cast());
        Ok(FrozenModule {
            bytes: copy,
            parameters: parameters.max(0) as u64,
        })
    }
}
