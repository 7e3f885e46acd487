//! ROC-AUC by the rank-sum (Mann–Whitney) statistic, tied scores counting one
//! half. Two classes: class 1's probability against the labels. More: the macro
//! one-vs-rest mean, each class's probability against "this class or not", over
//! the classes present in the rows (a class absent from a split has no AUC).
//!
//! The rows are ranked once per class ([`Ranking`]); a weighted count then
//! scores any resample of them in linear time, which is what makes the report's
//! bootstrap affordable at a hundred classes. Counts are integers, so the AUC of
//! a resample is the exact ratio rounded once: the same bits as ranking the
//! resampled rows themselves.

use crate::Predictions;

/// How the AUC of `classes` classes is averaged, as `metrics.json` names it.
pub fn averaging(classes: usize) -> &'static str {
    if classes == 2 {
        "binary"
    } else {
        "macro-ovr"
    }
}

/// Rows in ascending order of a score, cut into runs of equal scores.
#[derive(Clone, Debug)]
pub struct Ranking {
    order: Vec<usize>,
    /// End (exclusive) in `order` of each run of equal scores.
    ends: Vec<usize>,
}

impl Ranking {
    pub fn new(scores: &[f64]) -> Self {
        let mut order: Vec<usize> = (0..scores.len()).collect();
        order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
        let mut ends = Vec::new();
        for i in 1..=order.len() {
            if i == order.len() || scores[order[i]] != scores[order[i - 1]] {
                ends.push(i);
            }
        }
        Ranking { order, ends }
    }

    /// The AUC with row `r` counted `weight(r)` times; `None` without both a
    /// positive and a negative.
    pub fn auc(
        &self,
        positive: impl Fn(usize) -> bool,
        weight: impl Fn(usize) -> u64,
    ) -> Option<f64> {
        // Twice the number of (positive, negative) pairs ordered right, ties once.
        let (mut twice_right, mut positives, mut negatives) = (0u128, 0u128, 0u128);
        let mut start = 0;
        for &end in &self.ends {
            let (mut p, mut n) = (0u128, 0u128);
            for &row in &self.order[start..end] {
                let w = u128::from(weight(row));
                if positive(row) {
                    p += w;
                } else {
                    n += w;
                }
            }
            twice_right += 2 * p * negatives + p * n;
            positives += p;
            negatives += n;
            start = end;
        }
        (positives > 0 && negatives > 0)
            .then(|| twice_right as f64 / (2 * positives * negatives) as f64)
    }
}

/// The AUC of `scores` against `positive`; `None` without both classes.
pub fn roc_auc(scores: &[f64], positive: &[bool]) -> Option<f64> {
    Ranking::new(scores).auc(|r| positive[r], |_| 1)
}

/// A split's rows ranked by each class's probability: its AUC, and that of any
/// resample of its rows.
#[derive(Clone, Debug)]
pub struct AucScorer<'a> {
    predictions: &'a Predictions,
    /// Two classes: class 1's ranking alone; more: one per class.
    rankings: Vec<Ranking>,
}

impl<'a> AucScorer<'a> {
    pub fn new(predictions: &'a Predictions) -> Self {
        let column = |c: usize| -> Vec<f64> {
            (0..predictions.len())
                .map(|i| predictions.row(i)[c])
                .collect()
        };
        let rankings = if predictions.classes == 2 {
            vec![Ranking::new(&column(1))]
        } else {
            (0..predictions.classes)
                .map(|c| Ranking::new(&column(c)))
                .collect()
        };
        AucScorer {
            predictions,
            rankings,
        }
    }

    /// The AUC of the rows, each counted `counts[row]` times (every row once
    /// when `None`). Two classes: `None` unless both are present. More: the
    /// mean over the classes present; `None` when a present class has no
    /// negatives (the rows hold one class only).
    pub fn auc(&self, counts: Option<&[u32]>) -> Option<f64> {
        let labels = &self.predictions.labels;
        let weight = |r: usize| counts.map_or(1, |c| u64::from(c[r]));
        if self.predictions.classes == 2 {
            return self.rankings[0].auc(|r| labels[r] == 1, weight);
        }
        let mut present = vec![false; self.predictions.classes];
        for (r, &label) in labels.iter().enumerate() {
            if weight(r) > 0 {
                present[label as usize] = true;
            }
        }
        let mut sum = 0.0;
        let mut count = 0usize;
        for (c, ranking) in self.rankings.iter().enumerate() {
            if !present[c] {
                continue;
            }
            sum += ranking.auc(|r| labels[r] as usize == c, weight)?;
            count += 1;
        }
        (count > 0).then(|| sum / count as f64)
    }
}

/// ROC-AUC of the rows: [`AucScorer::auc`] with every row once.
pub fn auc(predictions: &Predictions) -> Option<f64> {
    AucScorer::new(predictions).auc(None)
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
    fn a_weighted_count_is_the_auc_of_the_repeated_rows() {
        let scores = [0.9, 0.1, 0.4, 0.4, 0.7, 0.2, 0.4];
        let positive = [true, false, true, false, false, true, true];
        let counts = [2u64, 0, 1, 3, 1, 2, 1];
        let (mut repeated_scores, mut repeated_positive) = (Vec::new(), Vec::new());
        for r in 0..scores.len() {
            for _ in 0..counts[r] {
                repeated_scores.push(scores[r]);
                repeated_positive.push(positive[r]);
            }
        }
        let weighted = Ranking::new(&scores).auc(|r| positive[r], |r| counts[r]);
        let expected = roc_auc(&repeated_scores, &repeated_positive);
        assert_eq!(weighted.map(f64::to_bits), expected.map(f64::to_bits));
    }
}
