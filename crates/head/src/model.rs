//! The head itself: one logit with a sigmoid for two classes (the seed's
//! Dense(1) + sigmoid), K logits with a softmax for K > 2.

use rayon::prelude::*;

use crate::kernels::dot_f32;
use crate::matrix::{Element, Matrix};

/// A linear head over (possibly standardised) features.
#[derive(Clone, Debug, PartialEq)]
pub struct Head {
    pub classes: usize,
    pub dim: usize,
    /// `outputs × dim`, row-major.
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
}

impl Head {
    pub fn zeros(classes: usize, dim: usize) -> Self {
        let outputs = outputs_for(classes);
        Head {
            classes,
            dim,
            weight: vec![0.0; outputs * dim],
            bias: vec![0.0; outputs],
        }
    }

    pub fn outputs(&self) -> usize {
        outputs_for(self.classes)
    }

    pub fn weight_row(&self, output: usize) -> &[f32] {
        &self.weight[output * self.dim..(output + 1) * self.dim]
    }

    /// Logits of one row into `logits` (length `outputs`).
    #[inline]
    pub fn logits(&self, x: &[f32], logits: &mut [f32]) {
        for (k, z) in logits.iter_mut().enumerate() {
            *z = self.bias[k] + dot_f32(x, self.weight_row(k));
        }
    }
}

/// One logit suffices for two classes.
pub fn outputs_for(classes: usize) -> usize {
    if classes == 2 {
        1
    } else {
        classes
    }
}

/// Numerically stable logistic function.
#[inline]
pub fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// log(1 + e^z) without overflow.
#[inline]
pub fn softplus(z: f64) -> f64 {
    z.max(0.0) + (-z.abs()).exp().ln_1p()
}

/// Class probabilities into `probs` (length `classes`) and the log-probability of
/// class `target`, both from the logits, stably.
#[inline]
pub fn probabilities(logits: &[f64], target: usize, probs: &mut [f64]) -> f64 {
    if logits.len() == 1 {
        let z = logits[0];
        let p = sigmoid(z);
        probs[0] = 1.0 - p;
        probs[1] = p;
        // log σ(z) = -softplus(-z); log(1 - σ(z)) = -softplus(z)
        if target == 1 {
            -softplus(-z)
        } else {
            -softplus(z)
        }
    } else {
        let max = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let mut sum = 0.0;
        for (p, z) in probs.iter_mut().zip(logits) {
            *p = (z - max).exp();
            sum += *p;
        }
        for p in probs.iter_mut() {
            *p /= sum;
        }
        logits[target] - max - sum.ln()
    }
}

/// Class probabilities for some rows of a matrix.
#[derive(Clone, Debug)]
pub struct Predictions {
    pub classes: usize,
    /// `rows × classes`, row-major.
    pub probs: Vec<f64>,
    /// log p(true class) per row.
    pub true_log_prob: Vec<f64>,
}

impl Predictions {
    pub fn len(&self) -> usize {
        self.true_log_prob.len()
    }

    pub fn is_empty(&self) -> bool {
        self.true_log_prob.is_empty()
    }

    pub fn row(&self, i: usize) -> &[f64] {
        &self.probs[i * self.classes..(i + 1) * self.classes]
    }

    /// Mean negative log-likelihood.
    pub fn log_loss(&self) -> f64 {
        -self.true_log_prob.iter().sum::<f64>() / self.len().max(1) as f64
    }

    /// Predicted class per row: argmax, or `p(class 1) >= threshold` for two classes.
    pub fn predicted(&self, threshold: f64) -> Vec<u32> {
        (0..self.len())
            .map(|i| {
                let p = self.row(i);
                if self.classes == 2 {
                    u32::from(p[1] >= threshold)
                } else {
                    argmax(p) as u32
                }
            })
            .collect()
    }
}

/// First index of the largest value.
pub fn argmax(values: &[f64]) -> usize {
    let mut best = 0;
    for (i, v) in values.iter().enumerate() {
        if *v > values[best] {
            best = i;
        }
    }
    best
}

/// Predicts `rows` of `matrix`; rows are independent, so any thread count gives
/// the same bits.
pub fn predict<T: Element>(
    head: &Head,
    matrix: &Matrix<T>,
    rows: &[usize],
    labels: &[u32],
) -> Predictions {
    let classes = head.classes;
    let mut probs = vec![0.0; rows.len() * classes];
    let mut true_log_prob = vec![0.0; rows.len()];
    probs
        .par_chunks_mut(classes)
        .zip(true_log_prob.par_iter_mut())
        .zip(rows.par_iter())
        .for_each_init(
            || {
                (
                    vec![0.0f32; head.dim],
                    vec![0.0f32; head.outputs()],
                    vec![0.0f64; head.outputs()],
                )
            },
            |(scratch, logits32, logits), ((p, log_prob), &row)| {
                let x = T::widen(matrix.row(row), scratch);
                head.logits(x, logits32);
                for (z, z32) in logits.iter_mut().zip(logits32.iter()) {
                    *z = *z32 as f64;
                }
                *log_prob = probabilities(logits, labels[row] as usize, p);
            },
        );
    Predictions {
        classes,
        probs,
        true_log_prob,
    }
}
