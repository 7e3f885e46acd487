//! Top-k accuracy: the true class among the k most probable. Equal
//! probabilities rank in class order, the rule that makes top-1 the predicted
//! class ([`crate::first_argmax`]).

use crate::Predictions;

/// The true class's place in row `i` (0: the most probable): the classes more
/// probable, plus the equally probable ones before it.
pub fn true_class_rank(predictions: &Predictions, i: usize) -> usize {
    let row = predictions.row(i);
    let t = predictions.labels[i] as usize;
    let p = row[t];
    row.iter()
        .enumerate()
        .filter(|&(c, &q)| q > p || (q == p && c < t))
        .count()
}

/// Rows whose true class is among the `k` most probable.
pub fn top_k_hits(predictions: &Predictions, k: usize) -> usize {
    (0..predictions.len())
        .filter(|&i| true_class_rank(predictions, i) < k)
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_rank_in_class_order() {
        let predictions = Predictions {
            classes: 4,
            probs: vec![0.3, 0.3, 0.2, 0.2, 0.1, 0.2, 0.2, 0.5],
            labels: vec![1, 2],
        };
        assert_eq!(true_class_rank(&predictions, 0), 1);
        assert_eq!(true_class_rank(&predictions, 1), 2);
        assert_eq!(top_k_hits(&predictions, 1), 0);
        assert_eq!(top_k_hits(&predictions, 2), 1);
        assert_eq!(top_k_hits(&predictions, 3), 2);
    }
}
