//! The head itself: one logit with a sigmoid for two classes (the seed's
//! Dense(1) + sigmoid), K logits with a softmax for K > 2.

use rayon::prelude::*;

use crate::kernels::{dot_f32, dots_f32_group, GROUP};
use feature_matrix::matrix::{as_bytes, Element, Matrix};

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

/// The head's outputs and probabilities from logits: the rule tune-train uses too.
pub use metrics::probabilities::{outputs_for, probabilities};

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

/// Class probabilities of some rows with their labels: what the metrics crate scores.
pub use metrics::Predictions;

/// Index of the largest value, the first of equal ones: the predicted-class rule
/// of every stage ([`metrics::first_argmax`]).
pub fn argmax(values: &[f64]) -> usize {
    metrics::first_argmax(values)
}

/// Rows per task of [`predict`].
const PREDICT_CHUNK: usize = 64;

/// How many rows ahead [`predict`] asks the caches for a row: the rows of a
/// split lie scattered through the matrix, each starting cold.
const PREDICT_PREFETCH: usize = 8;

/// Predicts `rows` of `matrix`; rows are independent (each logit is the bias
/// plus [`dot_f32`] of the row and the output's weights, whether the row goes
/// alone or in a group), so any thread count gives the same bits.
pub fn predict<T: Element>(
    head: &Head,
    matrix: &Matrix<T>,
    rows: &[usize],
    labels: &[u32],
) -> Predictions {
    let classes = head.classes;
    let outputs = head.outputs();
    let dim = head.dim;
    let mut probs = vec![0.0; rows.len() * classes];
    let ahead = |position: usize| -> &[u8] {
        rows.get(position + PREDICT_PREFETCH)
            .map_or(&[][..], |&row| as_bytes(matrix.row(row)))
    };
    probs
        .par_chunks_mut(PREDICT_CHUNK * classes)
        .zip(rows.par_chunks(PREDICT_CHUNK))
        .enumerate()
        .for_each_init(
            || {
                (
                    vec![0.0f32; GROUP * dim],
                    vec![0.0f32; GROUP * outputs],
                    vec![0.0f64; outputs],
                )
            },
            |(scratch, logits32, logits), (chunk, (probs, chunk_rows))| {
                let first = chunk * PREDICT_CHUNK;
                let whole = chunk_rows.len() / GROUP * GROUP;
                for base in (0..whole).step_by(GROUP) {
                    let mut parts = scratch.chunks_mut(dim.max(1));
                    let xs: [&[f32]; GROUP] = std::array::from_fn(|r| {
                        let part = parts.next().expect("GROUP parts of scratch");
                        T::widen(matrix.row(chunk_rows[base + r]), part)
                    });
                    let next: [&[u8]; GROUP] = std::array::from_fn(|r| ahead(first + base + r));
                    for k in 0..outputs {
                        // The first output's pass asks for the rows; more would be wasted.
                        let next = if k == 0 { next } else { [&[][..]; GROUP] };
                        let dots = dots_f32_group(xs, head.weight_row(k), next);
                        for (r, dot) in dots.into_iter().enumerate() {
                            logits32[r * outputs + k] = head.bias[k] + dot;
                        }
                    }
                    for r in 0..GROUP {
                        for (z, z32) in logits.iter_mut().zip(&logits32[r * outputs..]) {
                            *z = *z32 as f64;
                        }
                        let i = base + r;
                        probabilities(
                            logits,
                            labels[chunk_rows[i]] as usize,
                            &mut probs[i * classes..(i + 1) * classes],
                        );
                    }
                }
                for i in whole..chunk_rows.len() {
                    let x = T::widen(matrix.row(chunk_rows[i]), &mut scratch[..dim]);
                    head.logits(x, &mut logits32[..outputs]);
                    for (z, z32) in logits.iter_mut().zip(logits32.iter()) {
                        *z = *z32 as f64;
                    }
                    probabilities(
                        logits,
                        labels[chunk_rows[i]] as usize,
                        &mut probs[i * classes..(i + 1) * classes],
                    );
                }
            },
        );
    Predictions {
        classes,
        probs,
        labels: rows.iter().map(|&r| labels[r]).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_probabilities_share_one_exponential_with_the_same_bits() {
        let mut probs = [0.0; 2];
        for z in [
            -800.0, -40.0, -3.5, -1e-300, -0.0, 0.0, 1e-12, 0.7, 36.0, 750.0,
        ] {
            for target in [0, 1] {
                let log_prob = probabilities(&[z], target, &mut probs);
                let p = sigmoid(z);
                assert_eq!(probs[1].to_bits(), p.to_bits(), "{z}");
                assert_eq!(probs[0].to_bits(), (1.0 - p).to_bits(), "{z}");
                let expected = if target == 1 {
                    -softplus(-z)
                } else {
                    -softplus(z)
                };
                assert_eq!(log_prob.to_bits(), expected.to_bits(), "{z} {target}");
            }
        }
    }

    #[test]
    fn grouped_predictions_match_row_by_row_logits_bit_for_bit() {
        for classes in [2, 3] {
            let (dim, rows) = (37, 151);
            let mut head = Head::zeros(classes, dim);
            for (i, w) in head.weight.iter_mut().enumerate() {
                *w = ((i * 13 % 29) as f32 - 14.0) * 0.031;
            }
            for (k, b) in head.bias.iter_mut().enumerate() {
                *b = 0.1 * k as f32 - 0.05;
            }
            let mut matrix = Matrix::<f32>::zeroed(rows, dim);
            let values: Vec<f32> = (0..rows * dim)
                .map(|i| ((i * 7919 % 23) as f32 - 11.0) * 0.21)
                .collect();
            matrix.fill_rows(0, &values);
            let labels: Vec<u32> = (0..rows).map(|r| (r % classes) as u32).collect();
            // Scattered rows, more than one chunk, and a partial group at the end.
            let picked: Vec<usize> = (0..rows).filter(|r| r % 3 != 1).rev().collect();
            let predictions = predict(&head, &matrix, &picked, &labels);
            let mut logits32 = vec![0.0f32; head.outputs()];
            let mut probs = vec![0.0f64; classes];
            for (i, &row) in picked.iter().enumerate() {
                head.logits(matrix.row(row), &mut logits32);
                let logits: Vec<f64> = logits32.iter().map(|&z| z as f64).collect();
                probabilities(&logits, labels[row] as usize, &mut probs);
                assert_eq!(predictions.row(i), &probs[..]);
                assert_eq!(predictions.labels[i], labels[row]);
            }
        }
    }
}
