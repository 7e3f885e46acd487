//! Mini-batch Adam with Keras' defaults and update rule, so the seed's
//! Dense(1) + sigmoid head (Adam, lr 1e-3, batch 32, 10 epochs) can be reproduced.
//!
//! Keras' rule (not PyTorch's: epsilon is added to `sqrt(v)` before the bias
//! correction is folded into the step size):
//! `m ← β1 m + (1-β1) g`, `v ← β2 v + (1-β2) g²`,
//! `θ ← θ - lr · sqrt(1-β2^t)/(1-β1^t) · m / (sqrt(v) + ε)`.
//!
//! The gradient of a batch is that of `(1/B) Σ s_i ℓ_i + (l2/2)‖W‖²` over its B
//! rows (Keras' `sum_over_batch_size` with class weights). Each step runs on one
//! thread, in row order, so results never depend on the thread count; grids of
//! heads run in parallel instead.

use crate::kernels::{adam_update, axpy_f32, dot_f32_prefetching};
use crate::matrix::{Element, Matrix};
use crate::model::{probabilities, Head};
use crate::rng::SplitMix64;

#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct AdamConfig {
    pub lr: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub epsilon: f32,
    pub batch_size: usize,
    pub epochs: usize,
    pub l2: f32,
    pub shuffle: bool,
}

impl Default for AdamConfig {
    /// Keras' Adam defaults and `fit`'s batch size, with the seed's 10 epochs.
    fn default() -> Self {
        AdamConfig {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-7,
            batch_size: 32,
            epochs: 10,
            l2: 0.0,
            shuffle: true,
        }
    }
}

/// What one epoch saw, measured on each batch just before its update (as Keras
/// reports training loss), plain (unweighted) mean log-loss.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct EpochStats {
    pub epoch: usize,
    pub log_loss: f64,
    pub accuracy: f64,
}

/// The order in which epoch `epoch` (0-based) visits the fitting rows: a
/// Fisher–Yates shuffle seeded by `(seed, epoch)`, or the identity without shuffling.
pub fn epoch_order(seed: u64, epoch: usize, rows: usize, shuffle: bool) -> Vec<usize> {
    let mut order: Vec<usize> = (0..rows).collect();
    if shuffle {
        SplitMix64::new(seed, 1 + epoch as u64).shuffle(&mut order);
    }
    order
}

/// Keras' `glorot_uniform` kernel and zero bias.
pub fn glorot_uniform(classes: usize, dim: usize, seed: u64) -> Head {
    let mut head = Head::zeros(classes, dim);
    let limit = (6.0 / (dim + head.outputs()) as f64).sqrt();
    let mut rng = SplitMix64::new(seed, 0);
    for w in head.weight.iter_mut() {
        *w = ((2.0 * rng.next_f64() - 1.0) * limit) as f32;
    }
    head
}

/// Optimiser state, kept so training can be stopped and resumed epoch by epoch.
pub struct Adam<'a, T> {
    config: AdamConfig,
    seed: u64,
    matrix: &'a Matrix<T>,
    rows: &'a [usize],
    labels: &'a [u32],
    class_weights: Vec<f32>,
    pub head: Head,
    m: Vec<f32>,
    v: Vec<f32>,
    step: u64,
    epoch: usize,
    grad: Vec<f32>,
    scratch: Vec<f32>,
}

impl<'a, T: Element> Adam<'a, T> {
    pub fn new(
        config: AdamConfig,
        seed: u64,
        head: Head,
        matrix: &'a Matrix<T>,
        rows: &'a [usize],
        labels: &'a [u32],
        class_weights: &[f64],
    ) -> Self {
        let params = head.weight.len() + head.bias.len();
        Adam {
            config,
            seed,
            matrix,
            rows,
            labels,
            class_weights: class_weights.iter().map(|&w| w as f32).collect(),
            m: vec![0.0; params],
            v: vec![0.0; params],
            step: 0,
            epoch: 0,
            grad: vec![0.0; params],
            scratch: vec![0.0; matrix.dim()],
            head,
        }
    }

    pub fn epochs_done(&self) -> usize {
        self.epoch
    }

    /// One pass over the fitting rows in this epoch's order.
    pub fn run_epoch(&mut self) -> EpochStats {
        let order = epoch_order(self.seed, self.epoch, self.rows.len(), self.config.shuffle);
        let mut loss_sum = 0.0f64;
        let mut correct = 0usize;
        let batch_size = self.config.batch_size.max(1);
        for (b, batch) in order.chunks(batch_size).enumerate() {
            let next_batch_first = order.get((b + 1) * batch_size);
            let (loss, right) = self.step_on(batch, next_batch_first);
            loss_sum += loss;
            correct += right;
        }
        self.epoch += 1;
        let n = self.rows.len().max(1) as f64;
        EpochStats {
            epoch: self.epoch,
            log_loss: loss_sum / n,
            accuracy: correct as f64 / n,
        }
    }

    /// One Adam update on the rows at `positions` (indices into the fitting rows);
    /// returns their summed plain log-loss and count of correct predictions.
    fn step_on(&mut self, positions: &[usize], next_batch_first: Option<&usize>) -> (f64, usize) {
        let dim = self.head.dim;
        let outputs = self.head.outputs();
        let inverse_batch = 1.0 / positions.len() as f32;
        self.grad.fill(0.0);
        let mut logits32 = [0.0f32; 64];
        let mut logits = [0.0f64; 64];
        let mut probs = [0.0f64; 65];
        let mut heap_logits32;
        let mut heap_logits;
        let mut heap_probs;
        let (logits32, logits, probs): (&mut [f32], &mut [f64], &mut [f64]) = if outputs <= 64 {
            (
                &mut logits32[..outputs],
                &mut logits[..outputs],
                &mut probs[..self.head.classes],
            )
        } else {
            heap_logits32 = vec![0.0f32; outputs];
            heap_logits = vec![0.0f64; outputs];
            heap_probs = vec![0.0f64; self.head.classes];
            (&mut heap_logits32, &mut heap_logits, &mut heap_probs)
        };
        let mut loss_sum = 0.0;
        let mut correct = 0;
        let (grad_w, grad_b) = self.grad.split_at_mut(outputs * dim);
        for (i, &position) in positions.iter().enumerate() {
            let row = self.rows[position];
            let ahead = positions
                .get(i + 1)
                .or(next_batch_first)
                .map_or(&[][..], |&next| as_bytes(self.matrix.row(self.rows[next])));
            let x = T::widen(self.matrix.row(row), &mut self.scratch);
            let target = self.labels[row] as usize;
            for (k, z) in logits32.iter_mut().enumerate() {
                // The first logit's pass pulls in the next row; more would be wasted.
                let ahead = if k == 0 { ahead } else { &[] };
                *z = self.head.bias[k] + dot_f32_prefetching(x, self.head.weight_row(k), ahead);
            }
            for (z, z32) in logits.iter_mut().zip(logits32.iter()) {
                *z = *z32 as f64;
            }
            loss_sum -= probabilities(logits, target, probs);
            let predicted = if outputs == 1 {
                usize::from(logits[0] >= 0.0)
            } else {
                crate::model::argmax(probs)
            };
            correct += usize::from(predicted == target);
            let scale = self.class_weights[target] * inverse_batch;
            for k in 0..outputs {
                // ∂ℓ/∂z_k = p_k − [k = target]; with one logit, p is P(class 1).
                let (p, is_target) = if outputs == 1 {
                    (probs[1], target == 1)
                } else {
                    (probs[k], k == target)
                };
                let residual = scale * (p as f32 - f32::from(u8::from(is_target)));
                axpy_f32(&mut grad_w[k * dim..(k + 1) * dim], residual, x);
                grad_b[k] += residual;
            }
        }
        if self.config.l2 != 0.0 {
            axpy_f32(grad_w, self.config.l2, &self.head.weight);
        }
        self.apply_update();
        (loss_sum, correct)
    }

    fn apply_update(&mut self) {
        self.step += 1;
        let c = &self.config;
        let t = self.step as i32;
        let step_size = c.lr * (1.0 - c.beta2.powi(t)).sqrt() / (1.0 - c.beta1.powi(t));
        let (b1, b2, eps) = (c.beta1, c.beta2, c.epsilon);
        let split = self.head.weight.len();
        let (grad_w, grad_b) = self.grad.split_at(split);
        let (m_w, m_b) = self.m.split_at_mut(split);
        let (v_w, v_b) = self.v.split_at_mut(split);
        adam_update(
            &mut self.head.weight,
            grad_w,
            m_w,
            v_w,
            b1,
            b2,
            step_size,
            eps,
        );
        adam_update(
            &mut self.head.bias,
            grad_b,
            m_b,
            v_b,
            b1,
            b2,
            step_size,
            eps,
        );
    }
}

fn as_bytes<T>(row: &[T]) -> &[u8] {
    // SAFETY: any initialised memory may be viewed as bytes; only used as prefetch addresses.
    unsafe { std::slice::from_raw_parts(row.as_ptr() as *const u8, std::mem::size_of_val(row)) }
}
