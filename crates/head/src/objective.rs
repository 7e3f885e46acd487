//! The L2-regularised log-loss over all fitting rows, with its gradient, in one
//! fused pass over the matrix:
//!
//! `objective(W, b) = (1/n) Σ_i s_i ℓ_i(W x_i + b) + (l2 / 2) ‖W‖²`
//!
//! where `s_i` is the class weight of row i and the bias is not penalised. This is
//! scikit-learn's `LogisticRegression` objective divided by `C · n`, so `C = 1 /
//! (l2 · n)` names the same optimum.
//!
//! Rows are cut into [`CHUNKS`] fixed chunks whatever the thread count; each chunk
//! accumulates its own partial sums and the partials are added in chunk order, so
//! every thread count gives the same bits.

use rayon::prelude::*;

use crate::kernels::{axpy_block, dots_block, square_block, BLOCK};
use crate::model::{outputs_for, softplus, Head};
use crate::multinomial::{ManyClassPass, Problem};
use feature_matrix::matrix::{as_bytes, Element, Matrix};

/// Fixed number of row chunks per pass (enough for load balance on many cores).
pub const CHUNKS: usize = 64;

/// Fixed number of chunks of the selection rows, scored in the same pass.
pub const SELECTION_CHUNKS: usize = 8;

/// One value of the objective and the by-products of computing it.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Evaluation {
    pub objective: f64,
    /// Class-weighted mean log-loss (the objective without the penalty).
    pub weighted_loss: f64,
    /// Plain mean log-loss.
    pub log_loss: f64,
    /// Share of rows whose most likely class is the true one.
    pub accuracy: f64,
    /// Plain mean log-loss and accuracy on the selection rows (NaN without any),
    /// scored in the same pass over the matrix.
    pub selection_loss: f64,
    pub selection_accuracy: f64,
}

/// The full-batch problem over `rows` of `matrix`; parameters are
/// `[W (outputs × dim, row-major), b (outputs)]` in f64. The `selection` rows
/// take no part in the objective: each pass scores them on the way.
pub struct FullBatch<'a, T> {
    matrix: &'a Matrix<T>,
    rows: &'a [usize],
    selection: &'a [usize],
    labels: &'a [u32],
    class_weights: &'a [f64],
    classes: usize,
    pub l2: f64,
    partials: Vec<Partial>,
    many_classes: ManyClassPass,
}

#[derive(Clone, Default)]
struct Partial {
    grad: Vec<f64>,
    /// `Σ s_i x_ij²` per column, when the pass gathers the Hessian's diagonal.
    squares: Vec<f64>,
    weight_sum: f64,
    weighted_loss: f64,
    log_loss: f64,
    correct: usize,
}

impl<'a, T: Element> FullBatch<'a, T> {
    pub fn new(
        matrix: &'a Matrix<T>,
        rows: &'a [usize],
        selection: &'a [usize],
        labels: &'a [u32],
        class_weights: &'a [f64],
        l2: f64,
    ) -> Self {
        let classes = class_weights.len();
        FullBatch {
            matrix,
            rows,
            selection,
            labels,
            class_weights,
            classes,
            l2,
            partials: Vec::new(),
            many_classes: ManyClassPass::default(),
        }
    }

    pub fn outputs(&self) -> usize {
        outputs_for(self.classes)
    }

    pub fn num_params(&self) -> usize {
        self.outputs() * (self.matrix.dim() + 1)
    }

    /// Objective at `theta`, its gradient written into `grad`.
    pub fn evaluate(&mut self, theta: &[f64], grad: &mut [f64]) -> Evaluation {
        self.pass(theta, grad, false).0
    }

    /// [`evaluate`](Self::evaluate), and in the same pass a fixed diagonal
    /// preconditioner for the solver ([`Self::preconditioner`]).
    pub fn evaluate_with_preconditioner(
        &mut self,
        theta: &[f64],
        grad: &mut [f64],
    ) -> (Evaluation, Vec<f64>) {
        let (evaluation, squares) = self.pass(theta, grad, true);
        let (squares, weight_sum) = squares.expect("squares were gathered");
        (evaluation, self.preconditioner(&squares, weight_sum))
    }

    /// With at least as many fitting rows per output as columns, the inverse of
    /// the Hessian's diagonal at zero weights (where every predicted
    /// probability is 1/K): it absorbs per-column scales, which raw pooled CNN
    /// features vary wildly in (the seed's 19,658 × 2,560 feature-like set:
    /// 915 iterations, against more than 1,000 without).
    ///
    /// With fewer (a few images per class, or fewer images than features), the
    /// rows span few directions of each output's weights and every other
    /// direction has the penalty's curvature alone, the same for every column:
    /// rescaling columns then pushes the solver out of the rows' span, where
    /// only the penalty pulls it back. Then every weight gets the same entry
    /// (the mean column's), which keeps the weights in that span, and the bias
    /// keeps its own, so a large penalty still leaves weights and bias scaled
    /// apart.
    fn preconditioner(&self, squares: &[f64], weight_sum: f64) -> Vec<f64> {
        let outputs = self.outputs();
        let curvature = if outputs == 1 {
            0.25
        } else {
            (1.0 / self.classes as f64) * (1.0 - 1.0 / self.classes as f64)
        };
        let n = self.rows.len() as f64;
        let dim = self.matrix.dim();
        let per_column = self.rows.len() >= outputs * dim;
        let mean_square = squares.iter().sum::<f64>() / dim.max(1) as f64;
        let mut diagonal = Vec::with_capacity(self.num_params());
        for _ in 0..outputs {
            diagonal.extend(squares.iter().map(|&s| {
                let s = if per_column { s } else { mean_square };
                1.0 / (curvature * s / n + self.l2).max(1e-12)
            }));
        }
        diagonal.extend(std::iter::repeat_n(
            1.0 / (curvature * weight_sum / n).max(1e-12),
            outputs,
        ));
        diagonal
    }

    /// One pass: the fitting rows in [`CHUNKS`] fixed chunks, then the selection
    /// rows in [`SELECTION_CHUNKS`]; returns the evaluation and, when asked,
    /// `(Σ s_i x_i², Σ s_i)` over the fitting rows.
    #[allow(clippy::type_complexity)]
    fn pass(
        &mut self,
        theta: &[f64],
        grad: &mut [f64],
        gather_squares: bool,
    ) -> (Evaluation, Option<(Vec<f64>, f64)>) {
        if self.outputs() > 1 {
            let problem = Problem {
                matrix: self.matrix,
                rows: self.rows,
                selection: self.selection,
                labels: self.labels,
                class_weights: self.class_weights,
                classes: self.classes,
            };
            let (mut evaluation, squares) =
                self.many_classes.run(&problem, theta, grad, gather_squares);
            let penalty = self.add_penalty(theta, grad);
            evaluation.objective = evaluation.weighted_loss + 0.5 * self.l2 * penalty;
            return (evaluation, squares);
        }
        let dim = self.matrix.dim();
        let outputs = self.outputs();
        let n_params = self.num_params();
        let n = self.rows.len() as f64;
        let fit_chunk = self.rows.len().div_ceil(CHUNKS).max(1);
        let selection_chunk = self.selection.len().div_ceil(SELECTION_CHUNKS).max(1);
        let fit_chunks = self.rows.len().div_ceil(fit_chunk);
        let jobs: Vec<(&[usize], bool)> = self
            .rows
            .chunks(fit_chunk)
            .map(|rows| (rows, true))
            .chain(
                self.selection
                    .chunks(selection_chunk)
                    .map(|rows| (rows, false)),
            )
            .collect();
        self.partials.resize_with(jobs.len(), Partial::default);
        let (matrix, labels, class_weights) = (self.matrix, self.labels, self.class_weights);
        let (weights, biases) = theta.split_at(outputs * dim);

        self.partials.par_iter_mut().zip(jobs.par_iter()).for_each(
            |(partial, &(rows, fitting))| {
                partial.grad.clear();
                partial.squares.clear();
                if fitting {
                    partial.grad.resize(n_params, 0.0);
                    if gather_squares {
                        partial.squares.resize(dim, 0.0);
                    }
                }
                partial.weight_sum = 0.0;
                partial.weighted_loss = 0.0;
                partial.log_loss = 0.0;
                partial.correct = 0;
                let mut scratch = vec![vec![0.0f32; dim]; BLOCK];
                let mut logits = vec![[0.0f64; BLOCK]; outputs];
                let mut row_logits = vec![0.0f64; outputs];
                let mut residuals = vec![[0.0f64; BLOCK]; outputs];
                let mut blocks = rows.chunks(BLOCK).peekable();
                while let Some(block) = blocks.next() {
                    let ahead: [&[u8]; BLOCK] = std::array::from_fn(|r| {
                        blocks
                            .peek()
                            .and_then(|next| next.get(r))
                            .map_or(&[][..], |&row| as_bytes(matrix.row(row)))
                    });
                    // A short last block repeats its first row with zero weight.
                    let block_rows: [usize; BLOCK] =
                        std::array::from_fn(|r| block.get(r).copied().unwrap_or(block[0]));
                    let mut widened = scratch.iter_mut();
                    let xs: [&[f32]; BLOCK] = std::array::from_fn(|r| {
                        let scratch = widened.next().expect("BLOCK scratch rows");
                        T::widen(matrix.row(block_rows[r]), scratch)
                    });
                    for (k, z) in logits.iter_mut().enumerate() {
                        // The first output's pass pulls in the next block; more would be wasted.
                        let ahead = if k == 0 { ahead } else { [&[][..]; BLOCK] };
                        let dots = dots_block(xs, &weights[k * dim..(k + 1) * dim], ahead);
                        *z = dots.map(|d| d + biases[k]);
                    }
                    residuals.iter_mut().for_each(|r| *r = [0.0; BLOCK]);
                    for r in 0..block.len() {
                        let target = labels[block_rows[r]] as usize;
                        let weight = class_weights[target];
                        for (z, l) in row_logits.iter_mut().zip(&logits) {
                            *z = l[r];
                        }
                        let loss = if outputs == 1 {
                            let (z, y) = (row_logits[0], target as f64);
                            partial.correct += usize::from((z >= 0.0) == (target == 1));
                            residuals[0][r] = weight * (crate::model::sigmoid(z) - y) / n;
                            softplus(z) - y * z
                        } else {
                            let max = row_logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                            partial.correct +=
                                usize::from(crate::model::argmax(&row_logits) == target);
                            let sum: f64 = row_logits.iter().map(|z| (z - max).exp()).sum();
                            for (k, residual) in residuals.iter_mut().enumerate() {
                                let p = (row_logits[k] - max).exp() / sum;
                                residual[r] = weight * (p - f64::from(u8::from(k == target))) / n;
                            }
                            max + sum.ln() - row_logits[target]
                        };
                        partial.weighted_loss += weight * loss;
                        partial.log_loss += loss;
                    }
                    if !fitting {
                        continue;
                    }
                    let (grad_w, grad_b) = partial.grad.split_at_mut(outputs * dim);
                    for (k, residual) in residuals.iter().enumerate() {
                        axpy_block(&mut grad_w[k * dim..(k + 1) * dim], *residual, xs);
                        grad_b[k] += residual.iter().sum::<f64>();
                    }
                    if gather_squares {
                        // A short block's repeated rows weigh nothing.
                        let weights: [f64; BLOCK] = std::array::from_fn(|r| {
                            if r < block.len() {
                                class_weights[labels[block_rows[r]] as usize]
                            } else {
                                0.0
                            }
                        });
                        partial.weight_sum += weights[..block.len()].iter().sum::<f64>();
                        square_block(&mut partial.squares, weights, xs);
                    }
                }
            },
        );

        grad.fill(0.0);
        let mut total = Partial::default();
        let mut squares = vec![0.0f64; if gather_squares { dim } else { 0 }];
        for partial in &self.partials[..fit_chunks] {
            for (g, p) in grad.iter_mut().zip(&partial.grad) {
                *g += p;
            }
            for (s, p) in squares.iter_mut().zip(&partial.squares) {
                *s += p;
            }
            total.weight_sum += partial.weight_sum;
            total.weighted_loss += partial.weighted_loss;
            total.log_loss += partial.log_loss;
            total.correct += partial.correct;
        }
        let mut selection = Partial::default();
        for partial in &self.partials[fit_chunks..] {
            selection.log_loss += partial.log_loss;
            selection.correct += partial.correct;
        }
        let penalty = self.add_penalty(theta, grad);
        let weighted_loss = total.weighted_loss / n;
        let selected = self.selection.len() as f64;
        let (selection_loss, selection_accuracy) = if self.selection.is_empty() {
            (f64::NAN, f64::NAN)
        } else {
            (
                selection.log_loss / selected,
                selection.correct as f64 / selected,
            )
        };
        let evaluation = Evaluation {
            objective: weighted_loss + 0.5 * self.l2 * penalty,
            weighted_loss,
            log_loss: total.log_loss / n,
            accuracy: total.correct as f64 / n,
            selection_loss,
            selection_accuracy,
        };
        (
            evaluation,
            gather_squares.then_some((squares, total.weight_sum)),
        )
    }
}

impl<T: Element> FullBatch<'_, T> {
    /// Adds `l2 · W` to the gradient's weights (the bias is not penalised);
    /// returns `‖W‖²`.
    fn add_penalty(&self, theta: &[f64], grad: &mut [f64]) -> f64 {
        let weights = self.outputs() * self.matrix.dim();
        let mut penalty = 0.0;
        for (g, w) in grad[..weights].iter_mut().zip(&theta[..weights]) {
            *g += self.l2 * w;
            penalty += w * w;
        }
        penalty
    }
}

/// Parameters as a head (f32 storage, like the trained weights of any framework).
pub fn head_from_params(theta: &[f64], classes: usize, dim: usize) -> Head {
    let outputs = outputs_for(classes);
    Head {
        classes,
        dim,
        weight: theta[..outputs * dim].iter().map(|&v| v as f32).collect(),
        bias: theta[outputs * dim..].iter().map(|&v| v as f32).collect(),
    }
}

/// The head's parameters widened to the solver's f64 layout (for warm starts).
pub fn params_from_head(head: &Head) -> Vec<f64> {
    head.weight
        .iter()
        .chain(&head.bias)
        .map(|&v| v as f64)
        .collect()
}
