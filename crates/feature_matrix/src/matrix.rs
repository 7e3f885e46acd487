//! The feature matrix: every row of every input, loaded once into one contiguous
//! row-major block, stored as f32 or (optionally) f16/bf16 to halve memory
//! traffic; arithmetic is always f32 or f64.

use half::{bf16, f16, slice::HalfFloatSliceExt};

/// A value type the matrix can store; rows are widened to f32 before use.
pub trait Element: Copy + Send + Sync + 'static {
    const NAME: &'static str;
    fn from_f32_slice(src: &[f32], dst: &mut [Self]);
    /// The row as f32: the row itself for f32 storage, else `scratch` filled.
    fn widen<'a>(row: &'a [Self], scratch: &'a mut [f32]) -> &'a [f32];
    fn zero() -> Self;
}

impl Element for f32 {
    const NAME: &'static str = "f32";
    fn from_f32_slice(src: &[f32], dst: &mut [Self]) {
        dst.copy_from_slice(src);
    }
    fn widen<'a>(row: &'a [Self], _scratch: &'a mut [f32]) -> &'a [f32] {
        row
    }
    fn zero() -> Self {
        0.0
    }
}

impl Element for f16 {
    const NAME: &'static str = "f16";
    fn from_f32_slice(src: &[f32], dst: &mut [Self]) {
        dst.convert_from_f32_slice(src);
    }
    fn widen<'a>(row: &'a [Self], scratch: &'a mut [f32]) -> &'a [f32] {
        row.convert_to_f32_slice(&mut scratch[..row.len()]);
        &scratch[..row.len()]
    }
    fn zero() -> Self {
        f16::ZERO
    }
}

impl Element for bf16 {
    const NAME: &'static str = "bf16";
    fn from_f32_slice(src: &[f32], dst: &mut [Self]) {
        dst.convert_from_f32_slice(src);
    }
    fn widen<'a>(row: &'a [Self], scratch: &'a mut [f32]) -> &'a [f32] {
        row.convert_to_f32_slice(&mut scratch[..row.len()]);
        &scratch[..row.len()]
    }
    fn zero() -> Self {
        bf16::ZERO
    }
}

/// `rows × dim`, row-major, one allocation.
#[derive(Clone, Debug)]
pub struct Matrix<T> {
    data: Vec<T>,
    dim: usize,
}

impl<T: Element> Matrix<T> {
    /// Allocates the whole matrix up front so filling it never reallocates.
    pub fn zeroed(rows: usize, dim: usize) -> Self {
        let mut data = vec![T::zero(); rows * dim];
        advise_huge_pages(&mut data);
        Matrix { data, dim }
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    pub fn rows(&self) -> usize {
        self.data.len().checked_div(self.dim).unwrap_or(0)
    }

    pub fn row(&self, index: usize) -> &[T] {
        &self.data[index * self.dim..(index + 1) * self.dim]
    }

    /// Writes rows `first..` from a row-major f32 block.
    pub fn fill_rows(&mut self, first: usize, block: &[f32]) {
        let start = first * self.dim;
        T::from_f32_slice(block, &mut self.data[start..start + block.len()]);
    }

    pub fn bytes(&self) -> usize {
        self.data.len() * std::mem::size_of::<T>()
    }

    pub fn rows_mut(&mut self) -> std::slice::ChunksExactMut<'_, T> {
        self.data.chunks_exact_mut(self.dim)
    }
}

pub use contract::metrics::Storage;

/// A row's storage as bytes: what is handed to the prefetching kernels as the
/// addresses to ask the caches for.
pub fn as_bytes<T: Element>(row: &[T]) -> &[u8] {
    // SAFETY: every `Element` is a plain float without padding, so initialised
    // values are initialised bytes; the view lives as long as the row.
    unsafe { std::slice::from_raw_parts(row.as_ptr() as *const u8, std::mem::size_of_val(row)) }
}

/// Asks Linux to back the whole 2 MiB pages inside `data` with transparent huge
/// pages, before anything touches them (a large zeroed `Vec` is a fresh
/// mapping, faulted in as it is filled). Adam visits rows in shuffled order and
/// each 10 KiB row spans three 4 KiB pages: with small pages nearly every row
/// misses the TLB (an epoch at 19,658 × 2,560 on one thread: 15.5 to 14.0 ms).
/// Advice only: where huge pages are off or unavailable nothing changes.
#[cfg(target_os = "linux")]
fn advise_huge_pages<T>(data: &mut [T]) {
    const HUGE_PAGE: usize = 2 << 20;
    const MADV_HUGEPAGE: std::ffi::c_int = 14;
    extern "C" {
        fn madvise(
            addr: *mut std::ffi::c_void,
            len: usize,
            advice: std::ffi::c_int,
        ) -> std::ffi::c_int;
    }
    let start = data.as_mut_ptr() as usize;
    let end = start + std::mem::size_of_val(data);
    let first = start.div_ceil(HUGE_PAGE) * HUGE_PAGE;
    let last = end / HUGE_PAGE * HUGE_PAGE;
    if last > first {
        // SAFETY: the range lies inside `data`'s allocation, and MADV_HUGEPAGE
        // changes neither its contents nor its validity. A failure (a kernel
        // without transparent huge pages) leaves the mapping as it was.
        unsafe {
            madvise(first as *mut std::ffi::c_void, last - first, MADV_HUGEPAGE);
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn advise_huge_pages<T>(_data: &mut [T]) {}
