//! One epoch of Adam against a reference written out step by step in f64 from
//! Keras' update rule, on a tiny problem.

use feature_matrix::matrix::Matrix;
use head::optim::adam::{epoch_order, glorot_uniform, Adam, AdamConfig};

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// Keras: m ← β1 m + (1−β1) g; v ← β2 v + (1−β2) g²; θ ← θ − lr·√(1−β2^t)/(1−β1^t) · m/(√v + ε).
struct ReferenceAdam {
    m: Vec<f64>,
    v: Vec<f64>,
    t: i32,
}

impl ReferenceAdam {
    fn step(&mut self, theta: &mut [f64], grad: &[f64], c: &AdamConfig) {
        self.t += 1;
        let (b1, b2, eps, lr) = (
            c.beta1 as f64,
            c.beta2 as f64,
            c.epsilon as f64,
            c.lr as f64,
        );
        let step_size = lr * (1.0 - b2.powi(self.t)).sqrt() / (1.0 - b1.powi(self.t));
        for i in 0..theta.len() {
            self.m[i] = b1 * self.m[i] + (1.0 - b1) * grad[i];
            self.v[i] = b2 * self.v[i] + (1.0 - b2) * grad[i] * grad[i];
            theta[i] -= step_size * self.m[i] / (self.v[i].sqrt() + eps);
        }
    }
}

fn tiny_matrix(dim: usize, rows: usize) -> Matrix<f32> {
    let mut matrix = Matrix::<f32>::zeroed(rows, dim);
    let values: Vec<f32> = (0..rows * dim)
        .map(|i| (((i * 7919) % 23) as f32 - 11.0) * 0.21)
        .collect();
    matrix.fill_rows(0, &values);
    matrix
}

fn check(classes: usize, labels: Vec<u32>, class_weights: Vec<f64>, dim: usize) {
    let matrix = tiny_matrix(dim, labels.len());
    // Row 1 is not a fitting row: indexing through `rows` must be respected.
    let rows: Vec<usize> = (0..labels.len()).filter(|&r| r != 1).collect();
    let config = AdamConfig {
        lr: 0.05,
        batch_size: 3,
        epochs: 1,
        l2: 0.03,
        ..AdamConfig::default()
    };
    let seed = 11;
    let initial = glorot_uniform(classes, dim, seed);
    let outputs = initial.outputs();

    let mut theta: Vec<f64> = initial
        .weight
        .iter()
        .chain(&initial.bias)
        .map(|&v| v as f64)
        .collect();
    let mut reference = ReferenceAdam {
        m: vec![0.0; theta.len()],
        v: vec![0.0; theta.len()],
        t: 0,
    };
    let order = epoch_order(seed, 0, rows.len(), true);
    assert_ne!(
        order,
        (0..rows.len()).collect::<Vec<_>>(),
        "the epoch should be shuffled"
    );
    for batch in order.chunks(config.batch_size) {
        let mut grad = vec![0.0; theta.len()];
        for &position in batch {
            let row = rows[position];
            let x: Vec<f64> = (0..dim)
                .map(|j| (((row * dim + j) * 7919 % 23) as f64 - 11.0) * 0.21f32 as f64)
                .collect();
            let target = labels[row] as usize;
            let logits: Vec<f64> = (0..outputs)
                .map(|k| {
                    theta[outputs * dim + k]
                        + (0..dim).map(|j| theta[k * dim + j] * x[j]).sum::<f64>()
                })
                .collect();
            let residuals: Vec<f64> = if outputs == 1 {
                vec![sigmoid(logits[0]) - target as f64]
            } else {
                let total: f64 = logits.iter().map(|z| z.exp()).sum();
                (0..outputs)
                    .map(|k| logits[k].exp() / total - if k == target { 1.0 } else { 0.0 })
                    .collect()
            };
            let scale = class_weights[target] / batch.len() as f64;
            for k in 0..outputs {
                for j in 0..dim {
                    grad[k * dim + j] += scale * residuals[k] * x[j];
                }
                grad[outputs * dim + k] += scale * residuals[k];
            }
        }
        for i in 0..outputs * dim {
            grad[i] += config.l2 as f64 * theta[i];
        }
        reference.step(&mut theta, &grad, &config);
    }

    let mut adam = Adam::new(
        config,
        seed,
        initial,
        &matrix,
        &rows,
        &labels,
        &class_weights,
    );
    adam.run_epoch();
    let ours: Vec<f64> = adam
        .head
        .weight
        .iter()
        .chain(&adam.head.bias)
        .map(|&v| v as f64)
        .collect();
    for (i, (a, b)) in ours.iter().zip(&theta).enumerate() {
        assert!(
            (a - b).abs() <= 1e-5 * (1.0 + b.abs()),
            "parameter {i}: ours {a}, reference {b}\nours {ours:?}\nreference {theta:?}"
        );
    }
    // Three steps of lr 0.05 must have moved the parameters (each by up to 0.15).
    let start: Vec<f64> = glorot_uniform(classes, dim, seed)
        .weight
        .iter()
        .map(|&v| v as f64)
        .collect();
    let moved = ours
        .iter()
        .zip(&start)
        .filter(|(a, b)| (*a - *b).abs() > 1e-3);
    assert!(
        moved.count() * 10 >= start.len() * 9,
        "too few parameters moved"
    );
}

#[test]
fn binary_adam_epoch_matches_the_keras_rule() {
    check(2, vec![0, 1, 1, 0, 1, 1, 0, 1], vec![1.0, 0.75], 3);
}

#[test]
fn binary_adam_epoch_over_several_column_blocks_matches_the_keras_rule() {
    // Two blocks, the second partial: logits are assembled from partial dots.
    let dim = head::optim::adam::COLUMN_BLOCK + 44;
    check(2, vec![0, 1, 1, 0, 1, 1, 0, 1], vec![1.0, 0.75], dim);
}

#[test]
fn softmax_adam_epoch_matches_the_keras_rule() {
    check(3, vec![0, 1, 2, 2, 1, 0, 2, 1], vec![1.0, 1.0, 1.0], 3);
}

#[test]
fn softmax_adam_epoch_over_several_column_blocks_matches_the_keras_rule() {
    let dim = 2 * head::optim::adam::COLUMN_BLOCK + 7;
    check(3, vec![0, 1, 2, 2, 1, 0, 2, 1], vec![1.0, 1.0, 1.0], dim);
}
