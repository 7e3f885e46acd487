//! Per-split quality of a head's predictions.

use crate::model::Predictions;

/// Equal-width confidence bins for the expected calibration error (Guo et al. 2017).
pub const CALIBRATION_BINS: usize = 15;

pub use contract::metrics::SplitMetrics;

pub fn split_metrics(
    split: &str,
    role: &str,
    predictions: &Predictions,
    labels: &[u32],
    threshold: f64,
) -> SplitMetrics {
    let classes = predictions.classes;
    let n = predictions.len();
    let predicted = predictions.predicted(threshold);
    let mut confusion = vec![vec![0u64; classes]; classes];
    for (t, p) in labels.iter().zip(&predicted) {
        confusion[*t as usize][*p as usize] += 1;
    }
    let correct: u64 = (0..classes).map(|c| confusion[c][c]).sum();
    let per_class = |c: usize| {
        let tp = confusion[c][c] as f64;
        let predicted_c: u64 = (0..classes).map(|t| confusion[t][c]).sum();
        let actual_c: u64 = confusion[c].iter().sum();
        let precision = if predicted_c > 0 {
            tp / predicted_c as f64
        } else {
            0.0
        };
        let recall = if actual_c > 0 {
            tp / actual_c as f64
        } else {
            0.0
        };
        let f1 = if precision + recall > 0.0 {
            2.0 * precision * recall / (precision + recall)
        } else {
            0.0
        };
        (precision, recall, f1, predicted_c + actual_c > 0)
    };
    let (precision, recall, f1, averaging) = if classes == 2 {
        let (p, r, f, _) = per_class(1);
        (p, r, f, "binary")
    } else {
        let present: Vec<_> = (0..classes).map(per_class).filter(|c| c.3).collect();
        let mean = |pick: fn(&(f64, f64, f64, bool)) -> f64| {
            present.iter().map(pick).sum::<f64>() / present.len().max(1) as f64
        };
        (mean(|c| c.0), mean(|c| c.1), mean(|c| c.2), "macro")
    };
    let roc_auc = auc(predictions, labels);
    let confidences: Vec<f64> = (0..n)
        .map(|i| predictions.row(i)[predicted[i] as usize])
        .collect();
    let hits: Vec<bool> = labels.iter().zip(&predicted).map(|(t, p)| t == p).collect();
    SplitMetrics {
        split: split.to_string(),
        role: role.to_string(),
        rows: n,
        log_loss: predictions.log_loss(),
        accuracy: correct as f64 / n.max(1) as f64,
        roc_auc,
        precision,
        recall,
        f1,
        averaging: averaging.into(),
        expected_calibration_error: expected_calibration_error(&confidences, &hits),
        confusion_matrix: confusion,
    }
}

/// ROC-AUC of a split: class 1's for two classes, else the macro one-vs-rest
/// mean over the classes (`None` when a class present in the labels has no
/// negatives, or any class lacks positives).
pub fn auc(predictions: &Predictions, labels: &[u32]) -> Option<f64> {
    let classes = predictions.classes;
    let n = predictions.len();
    if classes == 2 {
        let scores: Vec<f64> = (0..n).map(|i| predictions.row(i)[1]).collect();
        let positive: Vec<bool> = labels.iter().map(|&l| l == 1).collect();
        return roc_auc(&scores, &positive);
    }
    let aucs: Vec<f64> = (0..classes)
        .filter_map(|c| {
            let scores: Vec<f64> = (0..n).map(|i| predictions.row(i)[c]).collect();
            let positive: Vec<bool> = labels.iter().map(|&l| l as usize == c).collect();
            roc_auc(&scores, &positive)
        })
        .collect();
    let present = (0..classes)
        .filter(|&c| labels.iter().any(|&l| l as usize == c))
        .count();
    (!aucs.is_empty() && aucs.len() == present)
        .then(|| aucs.iter().sum::<f64>() / aucs.len() as f64)
}

/// Area under the ROC curve by the rank-sum (Mann–Whitney) formula with tied
/// scores sharing their mean rank; `None` without both positives and negatives.
pub fn roc_auc(scores: &[f64], positive: &[bool]) -> Option<f64> {
    let positives = positive.iter().filter(|p| **p).count();
    let negatives = positive.len() - positives;
    if positives == 0 || negatives == 0 {
        return None;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let mut rank_sum = 0.0;
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && scores[order[end]] == scores[order[start]] {
            end += 1;
        }
        let mean_rank = (start + end + 1) as f64 / 2.0;
        rank_sum += mean_rank * order[start..end].iter().filter(|&&i| positive[i]).count() as f64;
        start = end;
    }
    let p = positives as f64;
    Some((rank_sum - p * (p + 1.0) / 2.0) / (p * negatives as f64))
}

pub fn expected_calibration_error(confidences: &[f64], hits: &[bool]) -> f64 {
    let mut count = [0usize; CALIBRATION_BINS];
    let mut confidence = [0.0f64; CALIBRATION_BINS];
    let mut right = [0usize; CALIBRATION_BINS];
    for (c, h) in confidences.iter().zip(hits) {
        let bin = ((c * CALIBRATION_BINS as f64) as usize).min(CALIBRATION_BINS - 1);
        count[bin] += 1;
        confidence[bin] += c;
        right[bin] += usize::from(*h);
    }
    let n = confidences.len().max(1) as f64;
    (0..CALIBRATION_BINS)
        .filter(|&b| count[b] > 0)
        .map(|b| (right[b] as f64 - confidence[b]).abs() / n)
        .sum()
}

/// The threshold on `p(class 1)` that maximises F1 on the given rows (the
/// highest such threshold when several tie).
pub fn best_f1_threshold(predictions: &Predictions, labels: &[u32]) -> f64 {
    let mut order: Vec<usize> = (0..predictions.len()).collect();
    order.sort_by(|&a, &b| predictions.row(b)[1].total_cmp(&predictions.row(a)[1]));
    let positives = labels.iter().filter(|&&l| l == 1).count() as f64;
    let (mut tp, mut fp) = (0.0, 0.0);
    let (mut best_f1, mut best_threshold) = (-1.0, 0.5);
    let mut i = 0;
    while i < order.len() {
        let threshold = predictions.row(order[i])[1];
        while i < order.len() && predictions.row(order[i])[1] == threshold {
            if labels[order[i]] == 1 {
                tp += 1.0;
            } else {
                fp += 1.0;
            }
            i += 1;
        }
        let f1 = 2.0 * tp / (2.0 * tp + fp + (positives - tp));
        if f1 > best_f1 {
            best_f1 = f1;
            best_threshold = threshold;
        }
    }
    best_threshold
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_counts_ties_as_half() {
        assert_eq!(
            roc_auc(&[0.1, 0.4, 0.35, 0.8], &[false, false, true, true]),
            Some(0.75)
        );
        assert_eq!(roc_auc(&[0.5, 0.5], &[false, true]), Some(0.5));
        assert_eq!(roc_auc(&[0.5, 0.5], &[true, true]), None);
    }

    #[test]
    fn calibration_error_of_a_perfectly_calibrated_bin_is_zero() {
        assert!(expected_calibration_error(&[0.75; 4], &[true, true, true, false]).abs() < 1e-12);
        assert!((expected_calibration_error(&[1.0, 1.0], &[true, false]) - 0.5).abs() < 1e-12);
    }
}
