//! Mini-batch Adam with Keras' defaults and update rule, so the seed's
//! Dense(1) + sigmoid head (Adam, lr 1e-3, batch 32, 10 epochs) can be reproduced.
//!
//! Keras' rule (not PyTorch's: epsilon is added to `sqrt(v)` before the bias
//! correction is folded into the step size):
//! `m ← β1 m + (1-β1) g`, `v ← β2 v + (1-β2) g²`,
//! `θ ← θ - lr · sqrt(1-β2^t)/(1-β1^t) · m / (sqrt(v) + ε)`.
//!
//! The gradient of a batch is that of `(1/B) Σ s_i ℓ_i + (l2/2)‖W‖²` over its B
//! rows (Keras' `sum_over_batch_size` with class weights).
//!
//! A step is shared among threads by columns: each thread takes whole column
//! blocks of the kernel ([`COLUMN_BLOCK`] columns, every output), updates them
//! from the batch, then dots them with the next batch's rows, so a step needs one
//! meeting of the threads, where the logits are assembled. A logit is the bias
//! plus the blocks' partial dots added in block order, and a gradient element is
//! accumulated over the batch in row order, so no bit depends on how many
//! threads share the blocks.
//!
//! Within a share the batch's rows go [`GROUP`] at a time through kernels that
//! give each row's dot, and each gradient element's sum, the bits of the
//! row-by-row kernels. The batch is read from memory once: while the gradient
//! of one batch is summed (from the caches, its rows were just dotted) the rows
//! of the next are asked of the caches, so memory streams through both phases
//! of a step instead of only the dots.

use std::time::{Duration, Instant};

use rayon::prelude::*;

use crate::kernels::{
    adam_update, axpy_f32, axpy_f32_group, byte_range, dot_f32_prefetching, dots_f32_group,
    dots_f32_group_blocks, GROUP,
};
use crate::model::{probabilities, Head};
use crate::rng::SplitMix64;
use feature_matrix::matrix::{as_bytes, Element, Matrix};

/// Columns per block of the kernel: the unit of a partial dot product.
pub const COLUMN_BLOCK: usize = 256;

/// How many rows ahead the dots of a batch ask the caches for a row. The
/// gradient phase before them has already asked for the batch's rows (one batch
/// ahead), so this mostly starts the batch after a little early.
const PREFETCH_DISTANCE: usize = 8;

#[derive(Clone, Copy, Debug, PartialEq)]
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
    /// The weights as of the last finished epoch.
    pub head: Head,
    /// The kernel, its moments and its gradient, column-block-major: block `b`
    /// holds `outputs × width(b)` values, output by output, so each thread's
    /// share of the columns is one contiguous slice.
    kernel: Vec<f32>,
    m_kernel: Vec<f32>,
    v_kernel: Vec<f32>,
    grad_kernel: Vec<f32>,
    bias: Vec<f32>,
    m_bias: Vec<f32>,
    v_bias: Vec<f32>,
    grad_bias: Vec<f32>,
    /// Partial dots of the current batch, `[block][output][row in batch]`.
    partials: Vec<f32>,
    /// `∂loss/∂logit` of the current batch, `[row in batch][output]`, class weight
    /// and `1/B` included.
    residuals: Vec<f32>,
    /// Each share's working buffers.
    scratch: Vec<ShareScratch>,
    /// One row's logits and probabilities while a batch is scored.
    row_scores: (Vec<f64>, Vec<f64>),
    /// How the last epoch split its steps, and the trials that decided it.
    split: Option<SplitChooser>,
    step: u64,
    epoch: usize,
}

/// How a step's column blocks are split among threads: `shares` runs of
/// blocks, as even as whole blocks allow, the first boundary then moved by
/// `skew` blocks (a share's cost is not only its width: on some machines the
/// share reading the later part of each row is slower).
#[derive(Clone, Copy, Debug, PartialEq)]
struct Split {
    shares: usize,
    skew: isize,
}

impl Split {
    /// The block boundaries, `shares + 1` of them from 0 to `blocks`.
    fn bounds(self, blocks: usize) -> Vec<usize> {
        let shares = effective_shares(self.shares, blocks);
        let per_share = blocks.div_ceil(shares.max(1)).max(1);
        let mut bounds: Vec<usize> = (0..=shares).map(|i| (i * per_share).min(blocks)).collect();
        if shares >= 2 {
            let moved = bounds[1] as isize + self.skew;
            bounds[1] = moved.clamp(1, bounds[2] as isize - 1) as usize;
        }
        bounds
    }
}

/// How many threads share a step's columns, and where they split them. The
/// split never changes a bit, so it is picked by timing: each epoch opens with
/// [`SplitChooser::TRIAL`] steps on each candidate (all the threads, then
/// halving down to one, at most [`SplitChooser::SIZES`] sizes; with two shares
/// also the first boundary a block either way), and the rest of the epoch goes
/// to the candidate fastest so far, this epoch's trial counting as much as all
/// the earlier ones together: where other processes keep the cores busy, or
/// with many threads, meeting every few microseconds can cost more than the
/// threads bring.
struct SplitChooser {
    threads: usize,
    candidates: Vec<Split>,
    /// Each candidate's trial time, earlier epochs' halved at every epoch.
    times: Vec<f64>,
    chosen: Split,
}

impl SplitChooser {
    const TRIAL: usize = 8;
    const SIZES: usize = 4;

    fn new(threads: usize, blocks: usize) -> Self {
        let mut sizes: Vec<usize> = Vec::new();
        let mut wanted = threads.clamp(1, blocks.max(1));
        loop {
            let shares = effective_shares(wanted, blocks);
            if sizes.last() != Some(&shares) {
                sizes.push(shares);
            }
            if wanted == 1 {
                break;
            }
            wanted /= 2;
        }
        if sizes.len() > Self::SIZES {
            // The largest, and one thread.
            sizes.drain(Self::SIZES - 1..sizes.len() - 1);
        }
        let mut candidates = Vec::new();
        for shares in sizes {
            candidates.push(Split { shares, skew: 0 });
            if shares == 2 {
                for skew in [1, -1] {
                    let split = Split { shares, skew };
                    if split.bounds(blocks) != candidates[candidates.len() - 1].bounds(blocks) {
                        candidates.push(split);
                    }
                }
            }
        }
        let mut distinct: Vec<Split> = Vec::new();
        for split in candidates {
            if distinct
                .iter()
                .all(|d| d.bounds(blocks) != split.bounds(blocks))
            {
                distinct.push(split);
            }
        }
        SplitChooser {
            threads,
            chosen: distinct[0],
            times: vec![0.0; distinct.len()],
            candidates: distinct,
        }
    }

    /// A new epoch: the trial times so far count half.
    fn next_epoch(&mut self) {
        self.times.iter_mut().for_each(|t| *t *= 0.5);
    }

    /// Steps spent trying the candidates (none when there is only one).
    fn trials(&self) -> usize {
        if self.candidates.len() == 1 {
            0
        } else {
            self.candidates.len() * Self::TRIAL
        }
    }

    fn split(&self, step: usize) -> Split {
        if step < self.trials() {
            self.candidates[step / Self::TRIAL]
        } else {
            self.chosen
        }
    }

    fn record(&mut self, step: usize, elapsed: Duration) {
        if step >= self.trials() {
            return;
        }
        self.times[step / Self::TRIAL] += elapsed.as_secs_f64();
        if step + 1 == self.trials() {
            let fastest = (0..self.times.len())
                .min_by(|&a, &b| self.times[a].total_cmp(&self.times[b]))
                .expect("a candidate");
            self.chosen = self.candidates[fastest];
        }
    }
}

/// How many shares `wanted` threads make of `blocks` column blocks, each share
/// whole blocks, as many blocks as the first.
fn effective_shares(wanted: usize, blocks: usize) -> usize {
    if blocks == 0 {
        return 1;
    }
    blocks.div_ceil(blocks.div_ceil(wanted.clamp(1, blocks)))
}

/// What the threads do between two meetings, for one share of the columns.
struct Share<'s> {
    first_column: usize,
    columns: usize,
    kernel: &'s mut [f32],
    m: &'s mut [f32],
    v: &'s mut [f32],
    grad: &'s mut [f32],
    partials: &'s mut [f32],
    scratch: &'s mut ShareScratch,
}

/// A share's working buffers, kept from step to step.
#[derive(Default)]
struct ShareScratch {
    /// Widened rows for f16/bf16 storage.
    widened: Vec<f32>,
    /// The blocks' dots of a group of rows.
    dots: Vec<[f32; GROUP]>,
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
        let outputs = head.outputs();
        let kernel = to_blocked(&head.weight, outputs, head.dim);
        let batch_size = config.batch_size.max(1);
        let blocks = head.dim.div_ceil(COLUMN_BLOCK);
        Adam {
            config,
            seed,
            matrix,
            rows,
            labels,
            class_weights: class_weights.iter().map(|&w| w as f32).collect(),
            m_kernel: vec![0.0; kernel.len()],
            v_kernel: vec![0.0; kernel.len()],
            grad_kernel: vec![0.0; kernel.len()],
            kernel,
            bias: head.bias.clone(),
            m_bias: vec![0.0; outputs],
            v_bias: vec![0.0; outputs],
            grad_bias: vec![0.0; outputs],
            partials: vec![0.0; blocks * outputs * batch_size],
            residuals: vec![0.0; batch_size * outputs],
            scratch: Vec::new(),
            row_scores: (Vec::new(), Vec::new()),
            split: None,
            step: 0,
            epoch: 0,
            head,
        }
    }

    pub fn epochs_done(&self) -> usize {
        self.epoch
    }

    /// One pass over the fitting rows in this epoch's order.
    pub fn run_epoch(&mut self) -> EpochStats {
        // On a worker of the pool: from any other thread, every step's fork-join
        // would cross into the pool and back (a plain `par_iter` over one head
        // runs it on the calling thread), which made shared steps slower than
        // single-threaded ones.
        rayon::scope(|_| self.run_epoch_on_worker())
    }

    fn run_epoch_on_worker(&mut self) -> EpochStats {
        // `epoch_order`'s swaps applied to the rows themselves: the same order
        // of rows, one pass and one allocation fewer.
        let mut order = self.rows.to_vec();
        if self.config.shuffle {
            SplitMix64::new(self.seed, 1 + self.epoch as u64).shuffle(&mut order);
        }
        let batch_size = self.config.batch_size.max(1);
        let batches: Vec<&[usize]> = order.chunks(batch_size).collect();
        let mut loss_sum = 0.0f64;
        let mut correct = 0usize;
        let blocks = self.head.dim.div_ceil(COLUMN_BLOCK);
        let threads = rayon::current_num_threads();
        let mut split = match self.split.take() {
            Some(mut split) if split.threads == threads => {
                split.next_epoch();
                split
            }
            _ => SplitChooser::new(threads, blocks),
        };
        if let Some(first) = batches.first() {
            let after = batches.get(1).copied().unwrap_or(&[]);
            self.pass(None, Some((first, after)), split.split(0));
        }
        for (index, batch) in batches.iter().enumerate() {
            let started = Instant::now();
            let shares = split.split(index);
            let (loss, right, step_size) = self.assemble_logits(batch);
            loss_sum += loss;
            correct += right;
            let next = batches.get(index + 1).map(|next| {
                let after = batches.get(index + 2).copied().unwrap_or(&[]);
                (*next, after)
            });
            self.pass(Some((batch, step_size)), next, shares);
            split.record(index, started.elapsed());
        }
        self.split = Some(split);
        self.epoch += 1;
        self.head.weight = from_blocked(&self.kernel, self.head.outputs(), self.head.dim);
        self.head.bias.copy_from_slice(&self.bias);
        let n = self.rows.len().max(1) as f64;
        EpochStats {
            epoch: self.epoch,
            log_loss: loss_sum / n,
            accuracy: correct as f64 / n,
        }
    }

    /// The meeting of a step: adds up the batch's logits, scores them, keeps the
    /// residuals and updates the bias. Returns the batch's summed plain
    /// log-loss, its count of correct predictions and the step's size.
    fn assemble_logits(&mut self, batch: &[usize]) -> (f64, usize, f32) {
        let outputs = self.bias.len();
        let classes = self.head.classes;
        let batch_size = self.config.batch_size.max(1);
        let blocks = self.partials.len() / (outputs * batch_size);
        let inverse_batch = 1.0 / batch.len() as f32;
        let (mut logits, mut probs) = std::mem::take(&mut self.row_scores);
        logits.resize(outputs, 0.0);
        probs.resize(classes, 0.0);
        let mut loss_sum = 0.0;
        let mut correct = 0;
        self.grad_bias.fill(0.0);
        for (i, &row) in batch.iter().enumerate() {
            for (k, z) in logits.iter_mut().enumerate() {
                let mut dot = self.partials[k * batch_size + i];
                for b in 1..blocks {
                    dot += self.partials[(b * outputs + k) * batch_size + i];
                }
                *z = (self.bias[k] + dot) as f64;
            }
            let target = self.labels[row] as usize;
            loss_sum -= probabilities(&logits, target, &mut probs);
            let predicted = if outputs == 1 {
                usize::from(logits[0] >= 0.0)
            } else {
                crate::model::argmax(&probs)
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
                self.residuals[i * outputs + k] = residual;
                self.grad_bias[k] += residual;
            }
        }
        self.row_scores = (logits, probs);
        self.step += 1;
        let c = &self.config;
        let t = self.step as i32;
        let step_size = c.lr * (1.0 - c.beta2.powi(t)).sqrt() / (1.0 - c.beta1.powi(t));
        adam_update(
            &mut self.bias,
            &self.grad_bias,
            &mut self.m_bias,
            &mut self.v_bias,
            c.beta1,
            c.beta2,
            step_size,
            c.epsilon,
        );
        (loss_sum, correct, step_size)
    }

    /// Between two meetings, each share of the columns: with `update`, the
    /// batch's gradient and the Adam step on the kernel; with `next`, the
    /// partial dots of the next batch's rows with the updated kernel (and the
    /// first rows of the batch after that asked of the caches).
    fn pass(
        &mut self,
        update: Option<(&[usize], f32)>,
        next: Option<(&[usize], &[usize])>,
        split: Split,
    ) {
        let dim = self.head.dim;
        let outputs = self.bias.len();
        let batch_size = self.config.batch_size.max(1);
        let blocks = dim.div_ceil(COLUMN_BLOCK);
        if blocks == 0 {
            return;
        }
        let bounds = split.bounds(blocks);
        let shares = bounds.len() - 1;
        self.scratch.resize_with(shares, ShareScratch::default);
        let mut work: Vec<Share> = Vec::with_capacity(shares);
        let (mut kernel, mut m, mut v, mut grad, mut partials) = (
            &mut self.kernel[..],
            &mut self.m_kernel[..],
            &mut self.v_kernel[..],
            &mut self.grad_kernel[..],
            &mut self.partials[..],
        );
        for (pair, scratch) in bounds.windows(2).zip(self.scratch.iter_mut()) {
            let first_column = pair[0] * COLUMN_BLOCK;
            let columns = (pair[1] * COLUMN_BLOCK).min(dim) - first_column;
            work.push(Share {
                first_column,
                columns,
                kernel: take(&mut kernel, columns * outputs),
                m: take(&mut m, columns * outputs),
                v: take(&mut v, columns * outputs),
                grad: take(&mut grad, columns * outputs),
                partials: take(&mut partials, (pair[1] - pair[0]) * outputs * batch_size),
                scratch,
            });
        }
        let (matrix, residuals, config) = (self.matrix, &self.residuals, &self.config);
        let run = |share: &mut Share| {
            if let Some((batch, step_size)) = update {
                let ahead = next.map_or(&[][..], |(next, _)| next);
                share.accumulate_gradient(matrix, batch, residuals, outputs, ahead);
                if config.l2 != 0.0 {
                    axpy_f32(share.grad, config.l2, share.kernel);
                }
                adam_update(
                    share.kernel,
                    share.grad,
                    share.m,
                    share.v,
                    config.beta1,
                    config.beta2,
                    step_size,
                    config.epsilon,
                );
            }
            if let Some((next, after)) = next {
                share.partial_dots(matrix, next, after, outputs, batch_size);
            }
        };
        if work.len() == 1 {
            run(&mut work[0]);
        } else {
            work.par_iter_mut().for_each(run);
        }
    }
}

impl Share<'_> {
    /// The share's columns of row `row`, as f32.
    fn columns_of<'r, T: Element>(
        matrix: &'r Matrix<T>,
        row: usize,
        first_column: usize,
        columns: usize,
        scratch: &'r mut Vec<f32>,
    ) -> &'r [f32] {
        scratch.resize(columns, 0.0);
        T::widen(
            &matrix.row(row)[first_column..first_column + columns],
            scratch,
        )
    }

    /// The share's columns of a group of rows, as f32.
    fn group_columns<'r, T: Element>(
        matrix: &'r Matrix<T>,
        rows: &[usize],
        first_column: usize,
        columns: usize,
        scratch: &'r mut Vec<f32>,
    ) -> [&'r [f32]; GROUP] {
        scratch.resize(GROUP * columns, 0.0);
        let mut parts = scratch.chunks_mut(columns);
        std::array::from_fn(|r| {
            let part = parts.next().expect("GROUP parts of scratch");
            T::widen(
                &matrix.row(rows[r])[first_column..first_column + columns],
                part,
            )
        })
    }

    /// `grad = Σ_i residual_i x_i` over the batch in row order, block by block,
    /// [`GROUP`] rows at a time; meanwhile the same positions of `ahead` (the
    /// next batch, whose dots follow) are asked of the caches.
    fn accumulate_gradient<T: Element>(
        &mut self,
        matrix: &Matrix<T>,
        batch: &[usize],
        residuals: &[f32],
        outputs: usize,
        ahead: &[usize],
    ) {
        self.grad.fill(0.0);
        let (first, columns) = (self.first_column, self.columns);
        let element = std::mem::size_of::<T>();
        let whole = batch.len() / GROUP * GROUP;
        for base in (0..whole).step_by(GROUP) {
            let next: [&[u8]; GROUP] =
                std::array::from_fn(|r| row_bytes(matrix, ahead, base + r, first, columns));
            let xs = Self::group_columns(
                matrix,
                &batch[base..base + GROUP],
                first,
                columns,
                &mut self.scratch.widened,
            );
            if outputs == 1 {
                // One output: the share's gradient is one run of columns.
                let alphas = std::array::from_fn(|r| residuals[base + r]);
                axpy_f32_group(self.grad, alphas, xs, next);
                continue;
            }
            for (block, lo) in (0..columns).step_by(COLUMN_BLOCK).enumerate() {
                let width = (columns - lo).min(COLUMN_BLOCK);
                let x = xs.map(|x| &x[lo..lo + width]);
                let offset = block * COLUMN_BLOCK * outputs;
                for k in 0..outputs {
                    let start = offset + k * width;
                    let alphas = std::array::from_fn(|r| residuals[(base + r) * outputs + k]);
                    let next = block_prefetch(next, k, lo, width, element);
                    axpy_f32_group(&mut self.grad[start..start + width], alphas, x, next);
                }
            }
        }
        for (i, &row) in batch.iter().enumerate().skip(whole) {
            let x = Self::columns_of(matrix, row, first, columns, &mut self.scratch.widened);
            for (block, x) in x.chunks(COLUMN_BLOCK).enumerate() {
                let offset = block * COLUMN_BLOCK * outputs;
                for k in 0..outputs {
                    let start = offset + k * x.len();
                    axpy_f32(
                        &mut self.grad[start..start + x.len()],
                        residuals[i * outputs + k],
                        x,
                    );
                }
            }
        }
    }

    /// Each block's dot with each of `rows`, into `partials`, [`GROUP`] rows at
    /// a time; while reading a group it asks the caches for the rows
    /// [`PREFETCH_DISTANCE`] positions on, running into `after` (the batch
    /// after, whose rows the gradient phase asks for as well).
    fn partial_dots<T: Element>(
        &mut self,
        matrix: &Matrix<T>,
        rows: &[usize],
        after: &[usize],
        outputs: usize,
        batch_size: usize,
    ) {
        let (first, columns) = (self.first_column, self.columns);
        let element = std::mem::size_of::<T>();
        let ahead_of = |position: usize| -> &[u8] {
            let position = position + PREFETCH_DISTANCE;
            if position < rows.len() {
                row_bytes(matrix, rows, position, first, columns)
            } else {
                row_bytes(matrix, after, position - rows.len(), first, columns)
            }
        };
        let whole = rows.len() / GROUP * GROUP;
        for base in (0..whole).step_by(GROUP) {
            let next: [&[u8]; GROUP] = std::array::from_fn(|r| ahead_of(base + r));
            let xs = Self::group_columns(
                matrix,
                &rows[base..base + GROUP],
                first,
                columns,
                &mut self.scratch.widened,
            );
            if outputs == 1 {
                // One output: the share's kernel is one run of columns, its
                // blocks' dots come from one call.
                let dots = &mut self.scratch.dots;
                dots.resize(columns.div_ceil(COLUMN_BLOCK), [0.0; GROUP]);
                dots_f32_group_blocks(xs, self.kernel, COLUMN_BLOCK, next, element, dots);
                for (block, dots) in dots.iter().enumerate() {
                    for (r, dot) in dots.iter().enumerate() {
                        self.partials[block * batch_size + base + r] = *dot;
                    }
                }
                continue;
            }
            for (block, lo) in (0..columns).step_by(COLUMN_BLOCK).enumerate() {
                let width = (columns - lo).min(COLUMN_BLOCK);
                let x = xs.map(|x| &x[lo..lo + width]);
                let offset = block * COLUMN_BLOCK * outputs;
                for k in 0..outputs {
                    let start = offset + k * width;
                    let next = block_prefetch(next, k, lo, width, element);
                    let dots = dots_f32_group(x, &self.kernel[start..start + width], next);
                    for (r, dot) in dots.into_iter().enumerate() {
                        self.partials[(block * outputs + k) * batch_size + base + r] = dot;
                    }
                }
            }
        }
        for (i, &row) in rows.iter().enumerate().skip(whole) {
            let ahead = ahead_of(i);
            let x = Self::columns_of(matrix, row, first, columns, &mut self.scratch.widened);
            for (block, x) in x.chunks(COLUMN_BLOCK).enumerate() {
                let offset = block * COLUMN_BLOCK * outputs;
                let ahead = byte_range(ahead, block * COLUMN_BLOCK * element, x.len() * element);
                for k in 0..outputs {
                    let start = offset + k * x.len();
                    let ahead = if k == 0 { ahead } else { &[] };
                    self.partials[(block * outputs + k) * batch_size + i] =
                        dot_f32_prefetching(x, &self.kernel[start..start + x.len()], ahead);
                }
            }
        }
    }
}

/// What output `k`'s pass over columns `lo..lo + width` asks of the caches:
/// those bytes of the `next` rows for the first output, nothing for the others
/// (the first pass has already asked for them).
fn block_prefetch(
    next: [&[u8]; GROUP],
    k: usize,
    lo: usize,
    width: usize,
    element: usize,
) -> [&[u8]; GROUP] {
    if k == 0 {
        next.map(|a| byte_range(a, lo * element, width * element))
    } else {
        [&[][..]; GROUP]
    }
}

/// Columns `first..first + columns` of the row at `position` of `rows`, as
/// bytes (empty past the end): what is asked of the caches.
fn row_bytes<'m, T: Element>(
    matrix: &'m Matrix<T>,
    rows: &[usize],
    position: usize,
    first: usize,
    columns: usize,
) -> &'m [u8] {
    rows.get(position).map_or(&[][..], |&row| {
        as_bytes(&matrix.row(row)[first..first + columns])
    })
}

/// The first `len` values of `rest`, which keeps the others.
fn take<'s>(rest: &mut &'s mut [f32], len: usize) -> &'s mut [f32] {
    let (head, tail) = std::mem::take(rest).split_at_mut(len);
    *rest = tail;
    head
}

/// `outputs × dim` row-major to column-block-major.
fn to_blocked(weight: &[f32], outputs: usize, dim: usize) -> Vec<f32> {
    let mut blocked = Vec::with_capacity(weight.len());
    for first in (0..dim).step_by(COLUMN_BLOCK) {
        let last = (first + COLUMN_BLOCK).min(dim);
        for k in 0..outputs {
            blocked.extend_from_slice(&weight[k * dim + first..k * dim + last]);
        }
    }
    blocked
}

/// Column-block-major back to `outputs × dim` row-major.
fn from_blocked(blocked: &[f32], outputs: usize, dim: usize) -> Vec<f32> {
    let mut weight = vec![0.0; outputs * dim];
    let mut offset = 0;
    for first in (0..dim).step_by(COLUMN_BLOCK) {
        let width = (first + COLUMN_BLOCK).min(dim) - first;
        for k in 0..outputs {
            weight[k * dim + first..k * dim + first + width]
                .copy_from_slice(&blocked[offset..offset + width]);
            offset += width;
        }
    }
    weight
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_candidates_halve_down_to_one_thread() {
        let sizes = |threads, blocks| {
            SplitChooser::new(threads, blocks)
                .candidates
                .iter()
                .map(|c| (c.shares, c.skew))
                .collect::<Vec<_>>()
        };
        assert_eq!(sizes(1, 10), [(1, 0)]);
        assert_eq!(sizes(2, 10), [(2, 0), (2, 1), (2, -1), (1, 0)]);
        assert_eq!(sizes(2, 1), [(1, 0)]);
        // Two blocks: no boundary to move.
        assert_eq!(sizes(2, 2), [(2, 0), (1, 0)]);
        assert_eq!(sizes(3, 3), [(3, 0), (1, 0)]);
        assert_eq!(
            sizes(16, 10),
            [(10, 0), (5, 0), (2, 0), (2, 1), (2, -1), (1, 0)]
        );
        assert_eq!(sizes(64, 40), [(40, 0), (20, 0), (10, 0), (1, 0)]);
        let bounds = |shares, skew, blocks| Split { shares, skew }.bounds(blocks);
        assert_eq!(bounds(2, 0, 10), [0, 5, 10]);
        assert_eq!(bounds(2, 1, 10), [0, 6, 10]);
        assert_eq!(bounds(2, -1, 9), [0, 4, 9]);
        assert_eq!(bounds(3, 0, 10), [0, 4, 8, 10]);
        assert_eq!(bounds(1, 0, 10), [0, 10]);
        let mut split = SplitChooser::new(16, 10);
        assert_eq!(split.trials(), 48);
        assert_eq!(
            split.split(0),
            Split {
                shares: 10,
                skew: 0
            }
        );
        assert_eq!(split.split(47), Split { shares: 1, skew: 0 });
        let trial = |split: &mut SplitChooser, fast: usize| {
            for step in 0..48 {
                let micros = if step / 8 == fast { 10 } else { 20 };
                split.record(step, Duration::from_micros(micros));
            }
        };
        trial(&mut split, 3);
        assert_eq!(split.split(48), Split { shares: 2, skew: 1 });
        // The latest trial counts as much as all the earlier ones together.
        split.next_epoch();
        trial(&mut split, 0);
        assert_eq!(
            split.split(48),
            Split {
                shares: 10,
                skew: 0
            }
        );
        assert_eq!(SplitChooser::new(1, 10).trials(), 0);
    }

    #[test]
    fn blocked_layout_round_trips() {
        for (outputs, dim) in [(1, 3), (3, 300), (2, 512), (4, 700)] {
            let weight: Vec<f32> = (0..outputs * dim).map(|i| i as f32).collect();
            let blocked = to_blocked(&weight, outputs, dim);
            assert_eq!(blocked.len(), weight.len());
            assert_eq!(from_blocked(&blocked, outputs, dim), weight);
        }
    }
}
