//! The full-batch pass for K > 2 classes (K softmax logits), as two matrix
//! products around a per-row softmax:
//!
//! 1. logits `Z = X Wᵀ + b` for the fitting and selection rows, in blocks of
//!    rows spread over the threads ([`logits_tile`]);
//! 2. per row: softmax, loss, whether the most likely class is right, and the
//!    residual `s_i (p_i − y_i) / n`;
//! 3. the gradient `G = Rᵀ X` in tiles of columns spread over the threads
//!    ([`gradient_tile`]), each tile gathered once into a contiguous block.
//!
//! Every logit and every gradient entry is one sum in a fixed order and the
//! per-row results are added in row order, so the bits do not depend on the
//! thread count. Compared with the two-class pass (per-chunk partial gradients
//! added at the end), nothing of size K × dim exists per chunk: at 120 classes
//! those partials cost more than the arithmetic.

use std::sync::Mutex;

use rayon::prelude::*;

use crate::objective::Evaluation;
use crate::tile_kernels::{
    gradient_tile, logits_tile, GRADIENT_COLUMNS, GRADIENT_OUTPUTS, LOGIT_OUTPUTS, LOGIT_ROWS,
};
use feature_matrix::matrix::{Element, Matrix};

/// Rows per logits task.
const LOGIT_TASK_ROWS: usize = 16;
/// Columns per logits kernel call: a slice of a strip (8 KiB) and of the
/// tile's rows (4 KiB) stay in L1 for the whole call.
const LOGIT_SLICE: usize = 128;
/// Rows per residual task.
const RESIDUAL_TASK_ROWS: usize = 64;
/// Columns per gradient task: its gathered block (rows × 64 f32) stays in L2.
const GRADIENT_TASK_COLUMNS: usize = 64;

/// What one row contributes to the sums of a pass.
#[derive(Clone, Copy, Debug, Default)]
struct RowScore {
    weighted_loss: f64,
    log_loss: f64,
    correct: bool,
}

/// Buffers kept between passes: a pass allocates nothing once they have grown.
#[derive(Default)]
pub(crate) struct ManyClassPass {
    /// The weights by strips of 8 outputs, each strip column by column
    /// (`padded(K, 8) / 8` strips of `dim × 8`), padding zero.
    strips: Vec<f64>,
    /// Logits of the fitting then the selection rows, `rows × padded(K, 8)`.
    logits: Vec<f64>,
    /// `s_i (p_i − y_i) / n` of the fitting rows, `rows × padded(K, 4)`.
    residuals: Vec<f64>,
    scores: Vec<RowScore>,
    /// Per column task: its gradient block (`K × width`) and its `Σ s x²`.
    blocks: Vec<(Vec<f64>, Vec<f64>)>,
    /// Per thread: the gathered columns of the fitting rows.
    gathered: Vec<Mutex<Vec<f32>>>,
}

/// The problem of one pass.
pub(crate) struct Problem<'p, T> {
    pub matrix: &'p Matrix<T>,
    pub rows: &'p [usize],
    pub selection: &'p [usize],
    pub labels: &'p [u32],
    pub class_weights: &'p [f64],
    pub classes: usize,
}

impl ManyClassPass {
    /// Loss sums of the pass and the gradient of the log-loss part (no
    /// penalty) written into `grad`; with `gather_squares`, `(Σ s_i x_i², Σ s_i)`
    /// over the fitting rows.
    #[allow(clippy::type_complexity)]
    pub(crate) fn run<T: Element>(
        &mut self,
        problem: &Problem<T>,
        theta: &[f64],
        grad: &mut [f64],
        gather_squares: bool,
    ) -> (Evaluation, Option<(Vec<f64>, f64)>) {
        let Problem {
            matrix,
            rows,
            selection,
            labels,
            class_weights,
            classes,
        } = *problem;
        let dim = matrix.dim();
        let wide = classes.next_multiple_of(LOGIT_OUTPUTS);
        let narrow = classes.next_multiple_of(GRADIENT_OUTPUTS);
        let fitting = rows.len();
        let all = fitting + selection.len();
        let n = fitting as f64;
        let (weights, biases) = theta.split_at(classes * dim);

        // Padding outputs are never written, so stay zero.
        self.strips.resize(dim * wide, 0.0);
        for (k, row) in weights.chunks_exact(dim.max(1)).enumerate() {
            let strip = &mut self.strips[k / LOGIT_OUTPUTS * dim * LOGIT_OUTPUTS..];
            for (j, &w) in row.iter().enumerate() {
                strip[j * LOGIT_OUTPUTS + k % LOGIT_OUTPUTS] = w;
            }
        }

        // 1. Logits.
        self.logits.resize(all * wide, 0.0);
        let row_at = |i: usize| {
            if i < fitting {
                rows[i]
            } else {
                selection[i - fitting]
            }
        };
        let strips = &self.strips;
        self.logits
            .par_chunks_mut(LOGIT_TASK_ROWS * wide)
            .enumerate()
            .for_each_init(
                || (vec![0.0f32; dim], vec![0.0f64; LOGIT_ROWS * dim]),
                |(scratch, wide_rows), (task, z)| {
                    let first = task * LOGIT_TASK_ROWS;
                    let count = z.len() / wide;
                    for block in (0..count).step_by(LOGIT_ROWS) {
                        let live = (count - block).min(LOGIT_ROWS);
                        // A short block repeats its last row; the copies are not kept.
                        for (r, part) in wide_rows.chunks_mut(dim.max(1)).enumerate() {
                            let row = row_at(first + block + r.min(live - 1));
                            let x = T::widen(matrix.row(row), scratch);
                            for (w, v) in part.iter_mut().zip(x) {
                                *w = f64::from(*v);
                            }
                        }
                        let mut parts = wide_rows.chunks(dim.max(1));
                        let xs: [&[f64]; LOGIT_ROWS] =
                            std::array::from_fn(|_| parts.next().expect("LOGIT_ROWS widened rows"));
                        for strip in (0..wide).step_by(LOGIT_OUTPUTS) {
                            let weights = &strips[strip * dim..(strip + LOGIT_OUTPUTS) * dim];
                            let mut tile = [[0.0f64; LOGIT_OUTPUTS]; LOGIT_ROWS];
                            for start in (0..dim).step_by(LOGIT_SLICE) {
                                let end = (start + LOGIT_SLICE).min(dim);
                                logits_tile(
                                    xs.map(|x| &x[start..end]),
                                    &weights[start * LOGIT_OUTPUTS..],
                                    &mut tile,
                                );
                            }
                            for (r, values) in tile.iter().enumerate().take(live) {
                                let out = &mut z[(block + r) * wide + strip..][..LOGIT_OUTPUTS];
                                for (l, (o, v)) in out.iter_mut().zip(values).enumerate() {
                                    *o = v + biases.get(strip + l).copied().unwrap_or(0.0);
                                }
                            }
                        }
                    }
                },
            );

        // 2. Softmax, loss and residual per row.
        self.residuals.resize(fitting * narrow, 0.0);
        self.scores.resize(all, RowScore::default());
        let logits = &self.logits;
        let score = |i: usize, residual: Option<&mut [f64]>| -> RowScore {
            let z = &logits[i * wide..i * wide + classes];
            let target = labels[row_at(i)] as usize;
            let max = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let sum: f64 = z.iter().map(|v| (v - max).exp()).sum();
            let weight = class_weights[target];
            if let Some(residual) = residual {
                for (k, r) in residual[..classes].iter_mut().enumerate() {
                    let p = (z[k] - max).exp() / sum;
                    *r = weight * (p - f64::from(u8::from(k == target))) / n;
                }
            }
            let loss = max + sum.ln() - z[target];
            RowScore {
                weighted_loss: weight * loss,
                log_loss: loss,
                correct: crate::model::argmax(z) == target,
            }
        };
        let (fit_scores, selection_scores) = self.scores.split_at_mut(fitting);
        fit_scores
            .par_chunks_mut(RESIDUAL_TASK_ROWS)
            .zip(self.residuals.par_chunks_mut(RESIDUAL_TASK_ROWS * narrow))
            .enumerate()
            .for_each(|(task, (scores, residuals))| {
                for (r, (s, residual)) in scores
                    .iter_mut()
                    .zip(residuals.chunks_exact_mut(narrow))
                    .enumerate()
                {
                    *s = score(task * RESIDUAL_TASK_ROWS + r, Some(residual));
                }
            });
        for (r, s) in selection_scores.iter_mut().enumerate() {
            *s = score(fitting + r, None);
        }

        // 3. Gradient, column tile by column tile.
        let tasks = dim.div_ceil(GRADIENT_TASK_COLUMNS);
        self.blocks.resize_with(tasks, Default::default);
        let threads = rayon::current_num_threads().max(1);
        if self.gathered.len() < threads {
            self.gathered.resize_with(threads, Default::default);
        }
        let (residuals, gathered) = (&self.residuals, &self.gathered);
        self.blocks
            .par_iter_mut()
            .enumerate()
            .for_each(|(task, (block, squares))| {
                let start = task * GRADIENT_TASK_COLUMNS;
                let width = (dim - start).min(GRADIENT_TASK_COLUMNS);
                let slot = rayon::current_thread_index().unwrap_or(0) % gathered.len();
                let mut tile = gathered[slot].lock().unwrap_or_else(|e| e.into_inner());
                tile.resize(fitting * GRADIENT_TASK_COLUMNS, 0.0);
                let mut widened = [0.0f32; GRADIENT_TASK_COLUMNS];
                for (i, &row) in rows.iter().enumerate() {
                    let part = &matrix.row(row)[start..start + width];
                    let values = T::widen(part, &mut widened[..width]);
                    tile[i * GRADIENT_TASK_COLUMNS..][..width].copy_from_slice(values);
                }
                block.resize(classes * width, 0.0);
                let whole = width / GRADIENT_COLUMNS * GRADIENT_COLUMNS;
                for column in (0..whole).step_by(GRADIENT_COLUMNS) {
                    for strip in (0..narrow).step_by(GRADIENT_OUTPUTS) {
                        let sums = gradient_tile(
                            &residuals[strip..],
                            narrow,
                            &tile[column..],
                            GRADIENT_TASK_COLUMNS,
                            fitting,
                        );
                        for (k, values) in sums.iter().enumerate() {
                            if strip + k < classes {
                                block[(strip + k) * width + column..][..GRADIENT_COLUMNS]
                                    .copy_from_slice(values);
                            }
                        }
                    }
                }
                // Columns past the last whole tile: the same sums, one at a time.
                for column in whole..width {
                    for k in 0..classes {
                        let mut sum = 0.0f64;
                        for i in 0..fitting {
                            sum = residuals[i * narrow + k]
                                .mul_add(tile[i * GRADIENT_TASK_COLUMNS + column] as f64, sum);
                        }
                        block[k * width + column] = sum;
                    }
                }
                squares.clear();
                if gather_squares {
                    squares.resize(width, 0.0);
                    for (i, &row) in rows.iter().enumerate() {
                        let weight = class_weights[labels[row] as usize];
                        for (s, &x) in squares
                            .iter_mut()
                            .zip(&tile[i * GRADIENT_TASK_COLUMNS..][..width])
                        {
                            let x = x as f64;
                            *s += weight * x * x;
                        }
                    }
                }
            });

        let (grad_w, grad_b) = grad.split_at_mut(classes * dim);
        let mut all_squares = Vec::with_capacity(if gather_squares { dim } else { 0 });
        for (task, (block, squares)) in self.blocks.iter().enumerate() {
            let start = task * GRADIENT_TASK_COLUMNS;
            let width = block.len() / classes.max(1);
            for k in 0..classes {
                grad_w[k * dim + start..][..width].copy_from_slice(&block[k * width..][..width]);
            }
            all_squares.extend_from_slice(squares);
        }
        grad_b.fill(0.0);
        for residual in self.residuals.chunks_exact(narrow) {
            for (g, r) in grad_b.iter_mut().zip(residual) {
                *g += r;
            }
        }

        let (mut weighted_loss, mut log_loss, mut correct) = (0.0, 0.0, 0usize);
        for s in &self.scores[..fitting] {
            weighted_loss += s.weighted_loss;
            log_loss += s.log_loss;
            correct += usize::from(s.correct);
        }
        let (mut selection_loss, mut selection_correct) = (0.0, 0usize);
        for s in &self.scores[fitting..] {
            selection_loss += s.log_loss;
            selection_correct += usize::from(s.correct);
        }
        let selected = selection.len() as f64;
        let weight_sum = gather_squares.then(|| {
            rows.iter()
                .map(|&r| class_weights[labels[r] as usize])
                .sum::<f64>()
        });
        let evaluation = Evaluation {
            objective: f64::NAN,
            weighted_loss: weighted_loss / n,
            log_loss: log_loss / n,
            accuracy: correct as f64 / n,
            selection_loss: if selection.is_empty() {
                f64::NAN
            } else {
                selection_loss / selected
            },
            selection_accuracy: if selection.is_empty() {
                f64::NAN
            } else {
                selection_correct as f64 / selected
            },
        };
        (evaluation, weight_sum.map(|sum| (all_squares, sum)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objective::FullBatch;

    /// The pass against the textbook sums, with classes and columns that fill
    /// no tile exactly, class weights, and f16 storage.
    #[test]
    fn the_tiled_pass_matches_plain_sums() {
        let (rows, dim, classes) = (37, 150, 9);
        let values: Vec<f32> = (0..rows * dim)
            .map(|i| ((i * 7919 % 31) as f32 - 15.0) * 0.043)
            .collect();
        let labels: Vec<u32> = (0..rows).map(|r| (r * 5 % classes) as u32).collect();
        let class_weights: Vec<f64> = (0..classes).map(|c| 0.5 + 0.1 * c as f64).collect();
        let fit: Vec<usize> = (0..rows).filter(|r| r % 4 != 0).rev().collect();
        let selection: Vec<usize> = (0..rows).filter(|r| r % 4 == 0).collect();
        let theta: Vec<f64> = (0..classes * (dim + 1))
            .map(|i| ((i * 13 % 17) as f64 - 8.0) * 0.021)
            .collect();
        let l2 = 0.03;
        let mut matrix = Matrix::<half::f16>::zeroed(rows, dim);
        matrix.fill_rows(0, &values);
        let stored = |r: usize, j: usize| f64::from(matrix.row(r)[j].to_f32());

        let mut problem = FullBatch::new(&matrix, &fit, &selection, &labels, &class_weights, l2);
        let mut grad = vec![0.0; theta.len()];
        let (evaluation, _) = problem.evaluate_with_preconditioner(&theta, &mut grad);

        let n = fit.len() as f64;
        let mut expected = vec![0.0; theta.len()];
        let (mut objective, mut selection_loss) = (0.0, 0.0);
        for (rows, fitting) in [(&fit, true), (&selection, false)] {
            for &r in rows.iter() {
                let z: Vec<f64> = (0..classes)
                    .map(|k| {
                        theta[classes * dim + k]
                            + (0..dim)
                                .map(|j| stored(r, j) * theta[k * dim + j])
                                .sum::<f64>()
                    })
                    .collect();
                let max = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let sum: f64 = z.iter().map(|v| (v - max).exp()).sum();
                let t = labels[r] as usize;
                let loss = max + sum.ln() - z[t];
                if !fitting {
                    selection_loss += loss / selection.len() as f64;
                    continue;
                }
                let w = class_weights[t];
                objective += w * loss / n;
                for k in 0..classes {
                    let residual = w * ((z[k] - max).exp() / sum - f64::from(u8::from(k == t))) / n;
                    for j in 0..dim {
                        expected[k * dim + j] += residual * stored(r, j);
                    }
                    expected[classes * dim + k] += residual;
                }
            }
        }
        for i in 0..classes * dim {
            objective += 0.5 * l2 * theta[i] * theta[i];
            expected[i] += l2 * theta[i];
        }
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * a.abs().max(b.abs()).max(1e-3);
        assert!(
            close(evaluation.objective, objective),
            "{} vs {objective}",
            evaluation.objective
        );
        assert!(close(evaluation.selection_loss, selection_loss));
        for (i, (g, e)) in grad.iter().zip(&expected).enumerate() {
            assert!(close(*g, *e), "gradient {i}: {g} vs {e}");
        }
    }
}
