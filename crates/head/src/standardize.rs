//! Per-column standardisation with statistics from the fitting rows only.

use rayon::prelude::*;

use crate::objective::CHUNKS;
use feature_matrix::matrix::{Element, Matrix};

/// `x' = (x − mean) / scale`; columns constant on the fitting rows keep scale 1.
#[derive(Clone, Debug, PartialEq)]
pub struct Standardization {
    pub mean: Vec<f32>,
    pub scale: Vec<f32>,
}

impl Standardization {
    /// Mean and population standard deviation of `rows`, summed in fixed chunks
    /// (two passes, f64) so the result does not depend on the thread count.
    pub fn fit<T: Element>(matrix: &Matrix<T>, rows: &[usize]) -> Self {
        let dim = matrix.dim();
        let n = rows.len().max(1) as f64;
        let chunk_len = rows.len().div_ceil(CHUNKS).max(1);
        let column_sums = |center: Option<&[f64]>| -> Vec<f64> {
            let partials: Vec<Vec<f64>> = rows
                .par_chunks(chunk_len)
                .map(|chunk| {
                    let mut sums = vec![0.0f64; dim];
                    let mut scratch = vec![0.0f32; dim];
                    for &row in chunk {
                        let x = T::widen(matrix.row(row), &mut scratch);
                        match center {
                            None => sums.iter_mut().zip(x).for_each(|(s, v)| *s += *v as f64),
                            Some(mean) => {
                                sums.iter_mut().zip(x).zip(mean).for_each(|((s, v), m)| {
                                    let d = *v as f64 - m;
                                    *s += d * d;
                                })
                            }
                        }
                    }
                    sums
                })
                .collect();
            let mut total = vec![0.0f64; dim];
            for partial in &partials {
                total.iter_mut().zip(partial).for_each(|(t, p)| *t += p);
            }
            total
        };
        let mean: Vec<f64> = column_sums(None).into_iter().map(|s| s / n).collect();
        let variance = column_sums(Some(&mean));
        let scale = variance
            .iter()
            .map(|v| {
                let std = (v / n).sqrt();
                if std > 1e-12 {
                    std as f32
                } else {
                    1.0
                }
            })
            .collect();
        Standardization {
            mean: mean.into_iter().map(|m| m as f32).collect(),
            scale,
        }
    }

    pub fn apply_row(&self, row: &mut [f32]) {
        for ((v, m), s) in row.iter_mut().zip(&self.mean).zip(&self.scale) {
            *v = (*v - m) / s;
        }
    }

    /// Standardises every row of the matrix in place (no second copy).
    pub fn apply<T: Element>(&self, matrix: &mut Matrix<T>) {
        let dim = matrix.dim();
        let rows: Vec<&mut [T]> = matrix.rows_mut().collect();
        rows.into_par_iter().for_each_init(
            || vec![0.0f32; dim],
            |scratch, row| {
                let mut widened = T::widen(row, scratch).to_vec();
                self.apply_row(&mut widened);
                T::from_f32_slice(&widened, row);
            },
        );
    }
}
