//! The rows every score is computed from: class probabilities and true labels.

use crate::log_loss;

/// Class probabilities of some rows, row-major, with each row's true label.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Predictions {
    pub classes: usize,
    /// `rows × classes`, row-major; each row sums to 1.
    pub probs: Vec<f64>,
    /// The true label of each row, an index into the classes.
    pub labels: Vec<u32>,
}

impl Predictions {
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    pub fn row(&self, i: usize) -> &[f64] {
        &self.probs[i * self.classes..(i + 1) * self.classes]
    }

    /// p(true class) of row `i`.
    pub fn true_probability(&self, i: usize) -> f64 {
        self.row(i)[self.labels[i] as usize]
    }

    /// Predicted class per row: [`crate::predicted_class`].
    pub fn predicted(&self, threshold: f64) -> Vec<u32> {
        (0..self.len())
            .map(|i| crate::predicted_class(self.row(i), threshold) as u32)
            .collect()
    }

    /// Mean log-loss: [`log_loss::mean`].
    pub fn log_loss(&self) -> f64 {
        log_loss::mean(self)
    }

    /// Rows predicted right at `threshold`.
    pub fn correct(&self, threshold: f64) -> usize {
        (0..self.len())
            .filter(|&i| crate::predicted_class(self.row(i), threshold) == self.labels[i] as usize)
            .count()
    }
}

/// A `predictions.csv` as the scores see it.
impl From<&contract::predictions::Predictions> for Predictions {
    fn from(file: &contract::predictions::Predictions) -> Self {
        Predictions {
            classes: file.classes.len(),
            probs: file
                .rows
                .iter()
                .flat_map(|r| r.probabilities.iter().copied())
                .collect(),
            labels: file.rows.iter().map(|r| r.label).collect(),
        }
    }
}
