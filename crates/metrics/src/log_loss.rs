//! Log-loss from probabilities. Every stage computes it from the probabilities
//! it writes or reads (never from logits), so `metrics.json`, written by
//! head-train or tune-train, and the report, reading `predictions.csv`, agree to
//! the bit; a probability that rounded to 0 costs a finite amount.

use crate::Predictions;

/// Probabilities below this count as this before the log, as scikit-learn's
/// `log_loss` clips them (to the f64 machine epsilon): a certain, wrong
/// prediction costs `−ln ε ≈ 36.04` rather than infinity.
pub const PROBABILITY_FLOOR: f64 = f64::EPSILON;

/// `−ln max(p, ε)`: the loss of a row whose true class got probability `p`.
pub fn row_loss(p_true: f64) -> f64 {
    -p_true.max(PROBABILITY_FLOOR).ln()
}

/// Mean [`row_loss`] over the rows, summed in row order (0 without rows: a
/// role always has some, and `metrics.json` holds no NaN).
pub fn mean(predictions: &Predictions) -> f64 {
    let sum: f64 = (0..predictions.len())
        .map(|i| row_loss(predictions.true_probability(i)))
        .sum();
    sum / predictions.len().max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saturated_rows_cost_a_finite_amount() {
        assert_eq!(row_loss(0.0), -f64::EPSILON.ln());
        assert_eq!(row_loss(1e-300), row_loss(0.0));
        assert_eq!(row_loss(1.0), 0.0);
        assert!((row_loss(0.0) - 36.043_653_389_117_15).abs() < 1e-12);
        let predictions = Predictions {
            classes: 2,
            probs: vec![1.0, 0.0, 0.25, 0.75],
            labels: vec![1, 1],
        };
        let expected = (row_loss(0.0) + row_loss(0.75)) / 2.0;
        assert_eq!(mean(&predictions), expected);
    }
}
