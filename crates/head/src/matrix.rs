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
        Matrix {
            data: vec![T::zero(); rows * dim],
            dim,
        }
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

    pub(crate) fn rows_mut(&mut self) -> std::slice::ChunksExactMut<'_, T> {
        self.data.chunks_exact_mut(self.dim)
    }
}

pub use contract::metrics::Storage;
