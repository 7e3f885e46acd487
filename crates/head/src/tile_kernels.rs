//! The two products of the many-class full-batch pass, as register tiles:
//! logits `Z = X Wᵀ` and the gradient `G = Rᵀ X`. Each output element is one sum
//! taken in a fixed order (over columns for a logit, over rows for a gradient
//! entry), so any split of the work between threads gives the same bits.
//!
//! Unlike the other kernels these fuse each multiply with its add: the
//! products are two thirds of a many-class fit, and a fused step is one
//! instruction instead of two. The bits still do not depend on the machine: the
//! portable path uses `f64::mul_add`, the same single rounding (in software
//! where the CPU lacks it, slowly), and the vector path runs only where the CPU
//! has both AVX2 and FMA.

/// The vector version when the CPU has AVX2 and FMA, else the portable one.
macro_rules! avx2_fma_or {
    ($avx:expr, $portable:expr) => {{
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                // SAFETY: the CPU supports AVX2 and FMA, checked just above.
                return unsafe { $avx };
            }
        }
        $portable
    }};
}

/// Rows of a logits tile.
pub const LOGIT_ROWS: usize = 4;
/// Outputs of a logits tile (two AVX2 registers of f64 per row).
pub const LOGIT_OUTPUTS: usize = 8;
/// Outputs of a gradient tile.
pub const GRADIENT_OUTPUTS: usize = 4;
/// Columns of a gradient tile (two AVX2 registers of f64 per output).
pub const GRADIENT_COLUMNS: usize = 8;

/// `acc[r][l] += Σ_j xs[r][j] · strip[j · 8 + l]`, one term at a time, j
/// ascending: the logits of [`LOGIT_ROWS`] rows (widened to f64 once for all
/// their tiles) for [`LOGIT_OUTPUTS`] outputs, whose weights `strip` holds
/// column by column (`columns × 8`, read in order). Called on successive slices
/// of the columns with the same `acc`, it gives the bits of one call on all
/// of them; the slices keep each call's data in L1.
#[inline]
pub fn logits_tile(
    xs: [&[f64]; LOGIT_ROWS],
    strip: &[f64],
    acc: &mut [[f64; LOGIT_OUTPUTS]; LOGIT_ROWS],
) {
    let columns = xs[0].len();
    for x in &xs {
        assert_eq!(x.len(), columns, "rows of one length");
    }
    assert!(
        strip.len() >= columns * LOGIT_OUTPUTS,
        "weights shorter than the rows"
    );
    avx2_fma_or!(
        avx2::logits_tile(xs, strip, acc),
        logits_tile_body(xs, strip, acc)
    )
}

#[inline(always)]
fn logits_tile_body(
    xs: [&[f64]; LOGIT_ROWS],
    strip: &[f64],
    acc: &mut [[f64; LOGIT_OUTPUTS]; LOGIT_ROWS],
) {
    for j in 0..xs[0].len() {
        let w: &[f64; LOGIT_OUTPUTS] = strip[j * LOGIT_OUTPUTS..(j + 1) * LOGIT_OUTPUTS]
            .try_into()
            .expect("a tile of outputs");
        for (r, x) in xs.iter().enumerate() {
            let x = x[j];
            for l in 0..LOGIT_OUTPUTS {
                acc[r][l] = x.mul_add(w[l], acc[r][l]);
            }
        }
    }
}

/// `out[k][l] = Σ_i residuals[i · r_stride + k] · tile[i · t_stride + l]`, i
/// ascending over `rows` rows: [`GRADIENT_OUTPUTS`] outputs' gradient over
/// [`GRADIENT_COLUMNS`] columns, `residuals` starting at the tile's first
/// output and `tile` at its first column.
#[inline]
pub fn gradient_tile(
    residuals: &[f64],
    r_stride: usize,
    tile: &[f32],
    t_stride: usize,
    rows: usize,
) -> [[f64; GRADIENT_COLUMNS]; GRADIENT_OUTPUTS] {
    assert!(
        rows == 0
            || (residuals.len() >= (rows - 1) * r_stride + GRADIENT_OUTPUTS
                && tile.len() >= (rows - 1) * t_stride + GRADIENT_COLUMNS),
        "tiles shorter than their rows"
    );
    avx2_fma_or!(
        avx2::gradient_tile(residuals, r_stride, tile, t_stride, rows),
        gradient_tile_body(residuals, r_stride, tile, t_stride, rows)
    )
}

#[inline(always)]
fn gradient_tile_body(
    residuals: &[f64],
    r_stride: usize,
    tile: &[f32],
    t_stride: usize,
    rows: usize,
) -> [[f64; GRADIENT_COLUMNS]; GRADIENT_OUTPUTS] {
    let mut acc = [[0.0f64; GRADIENT_COLUMNS]; GRADIENT_OUTPUTS];
    for i in 0..rows {
        let x = &tile[i * t_stride..i * t_stride + GRADIENT_COLUMNS];
        let r = &residuals[i * r_stride..i * r_stride + GRADIENT_OUTPUTS];
        for k in 0..GRADIENT_OUTPUTS {
            for l in 0..GRADIENT_COLUMNS {
                acc[k][l] = r[k].mul_add(x[l] as f64, acc[k][l]);
            }
        }
    }
    acc
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    use super::{GRADIENT_COLUMNS, GRADIENT_OUTPUTS, LOGIT_OUTPUTS, LOGIT_ROWS};

    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn logits_tile(
        xs: [&[f64]; LOGIT_ROWS],
        strip: &[f64],
        acc: &mut [[f64; LOGIT_OUTPUTS]; LOGIT_ROWS],
    ) {
        let dim = xs[0].len();
        let pw = strip.as_ptr();
        let px = xs.map(|x| x.as_ptr());
        let mut lo: [__m256d; LOGIT_ROWS] =
            std::array::from_fn(|r| _mm256_loadu_pd(acc[r].as_ptr()));
        let mut hi: [__m256d; LOGIT_ROWS] =
            std::array::from_fn(|r| _mm256_loadu_pd(acc[r].as_ptr().add(4)));
        for j in 0..dim {
            let w_lo = _mm256_loadu_pd(pw.add(j * LOGIT_OUTPUTS));
            let w_hi = _mm256_loadu_pd(pw.add(j * LOGIT_OUTPUTS + 4));
            for r in 0..LOGIT_ROWS {
                let x = _mm256_broadcast_sd(&*px[r].add(j));
                lo[r] = _mm256_fmadd_pd(x, w_lo, lo[r]);
                hi[r] = _mm256_fmadd_pd(x, w_hi, hi[r]);
            }
        }
        for r in 0..LOGIT_ROWS {
            _mm256_storeu_pd(acc[r].as_mut_ptr(), lo[r]);
            _mm256_storeu_pd(acc[r].as_mut_ptr().add(4), hi[r]);
        }
    }

    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn gradient_tile(
        residuals: &[f64],
        r_stride: usize,
        tile: &[f32],
        t_stride: usize,
        rows: usize,
    ) -> [[f64; GRADIENT_COLUMNS]; GRADIENT_OUTPUTS] {
        let (pr, pt) = (residuals.as_ptr(), tile.as_ptr());
        let mut lo = [_mm256_setzero_pd(); GRADIENT_OUTPUTS];
        let mut hi = [_mm256_setzero_pd(); GRADIENT_OUTPUTS];
        for i in 0..rows {
            let x_lo = _mm256_cvtps_pd(_mm_loadu_ps(pt.add(i * t_stride)));
            let x_hi = _mm256_cvtps_pd(_mm_loadu_ps(pt.add(i * t_stride + 4)));
            for k in 0..GRADIENT_OUTPUTS {
                let r = _mm256_set1_pd(*pr.add(i * r_stride + k));
                lo[k] = _mm256_fmadd_pd(r, x_lo, lo[k]);
                hi[k] = _mm256_fmadd_pd(r, x_hi, hi[k]);
            }
        }
        let mut out = [[0.0f64; GRADIENT_COLUMNS]; GRADIENT_OUTPUTS];
        for k in 0..GRADIENT_OUTPUTS {
            _mm256_storeu_pd(out[k].as_mut_ptr(), lo[k]);
            _mm256_storeu_pd(out[k].as_mut_ptr().add(4), hi[k]);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vector_and_portable_tiles_agree_bit_for_bit_with_plain_fused_sums() {
        let dim = 37;
        let rows: Vec<Vec<f64>> = (0..LOGIT_ROWS)
            .map(|r| {
                (0..dim)
                    .map(|j| (((j * 13 + r * 5) % 17) as f64 - 8.0) * 0.137)
                    .collect()
            })
            .collect();
        let xs: [&[f64]; LOGIT_ROWS] = std::array::from_fn(|r| &rows[r][..]);
        let strip: Vec<f64> = (0..dim * LOGIT_OUTPUTS)
            .map(|i| ((i * 7 % 23) as f64 - 11.0) * 0.0731)
            .collect();
        let mut tile = [[0.0; LOGIT_OUTPUTS]; LOGIT_ROWS];
        // In two slices of the columns, as the pass calls it.
        let head: [&[f64]; LOGIT_ROWS] = xs.map(|x| &x[..20]);
        let tail: [&[f64]; LOGIT_ROWS] = xs.map(|x| &x[20..]);
        logits_tile(head, &strip, &mut tile);
        logits_tile(tail, &strip[20 * LOGIT_OUTPUTS..], &mut tile);
        let mut portable = [[0.0; LOGIT_OUTPUTS]; LOGIT_ROWS];
        logits_tile_body(xs, &strip, &mut portable);
        assert_eq!(tile, portable);
        for r in 0..LOGIT_ROWS {
            for l in 0..LOGIT_OUTPUTS {
                let mut sum = 0.0f64;
                for j in 0..dim {
                    sum = xs[r][j].mul_add(strip[j * LOGIT_OUTPUTS + l], sum);
                }
                assert_eq!(tile[r][l].to_bits(), sum.to_bits());
            }
        }

        let n = 29;
        let (r_stride, t_stride) = (6, 13);
        let residuals: Vec<f64> = (0..n * r_stride)
            .map(|i| ((i * 5 % 19) as f64 - 9.0) * 0.011)
            .collect();
        let data: Vec<f32> = (0..n * t_stride)
            .map(|i| ((i * 3 % 29) as f32 - 14.0) * 0.21)
            .collect();
        let gradient = gradient_tile(&residuals[1..], r_stride, &data[3..], t_stride, n);
        assert_eq!(
            gradient,
            gradient_tile_body(&residuals[1..], r_stride, &data[3..], t_stride, n)
        );
        for k in 0..GRADIENT_OUTPUTS {
            for l in 0..GRADIENT_COLUMNS {
                let mut sum = 0.0f64;
                for i in 0..n {
                    sum = residuals[1 + i * r_stride + k]
                        .mul_add(data[3 + i * t_stride + l] as f64, sum);
                }
                assert_eq!(gradient[k][l].to_bits(), sum.to_bits());
            }
        }
    }
}
