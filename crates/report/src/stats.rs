//! How sure the numbers are: 95% intervals for a model's scores on its test rows
//! and an exact paired test between two models scored on the same images.
//!
//! * Accuracy (and top-5 accuracy): the Wilson score interval (Wilson 1927),
//!   which keeps its coverage near 0 and 1 where the normal approximation does
//!   not ([`metrics::interval`]).
//! * Log-loss and ROC-AUC: the percentile bootstrap over test rows, 2,000
//!   resamples from a fixed seed, so a report is reproducible.
//! * Two models on the same images: McNemar's exact test, a two-sided binomial
//!   test on the images exactly one of them gets right.

use contract::predictions::Predictions;
use metrics::auc::AucScorer;
use metrics::log_loss::row_loss;

pub use metrics::interval::{wilson, Z95};
pub use metrics::Interval;

pub const BOOTSTRAP_RESAMPLES: usize = 2000;
pub const BOOTSTRAP_SEED: u64 = 20_261_201;
/// Neighbours whose paired test gives p at or above this are indistinguishable.
pub const ALPHA: f64 = 0.05;

/// The `q` quantile of sorted values, linearly interpolated (numpy's default).
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    let position = q * (sorted.len() - 1) as f64;
    let below = position.floor() as usize;
    let above = position.ceil() as usize;
    sorted[below] + (sorted[above] - sorted[below]) * (position - below as f64)
}

/// The central 95% of `statistic` over `resamples` bootstrap resamples of `n`
/// rows (indices drawn with replacement). Resamples where the statistic is
/// undefined (an AUC without both classes) are skipped; `None` if most are.
pub fn bootstrap(
    n: usize,
    resamples: usize,
    seed: u64,
    mut statistic: impl FnMut(&[usize]) -> Option<f64>,
) -> Option<Interval> {
    if n == 0 {
        return None;
    }
    let mut rng = metrics::rng::SplitMix64::new(seed, 0);
    let mut values = Vec::with_capacity(resamples);
    let mut rows = vec![0usize; n];
    for _ in 0..resamples {
        for row in rows.iter_mut() {
            *row = (rng.next_u64() % n as u64) as usize;
        }
        if let Some(value) = statistic(&rows).filter(|v| v.is_finite()) {
            values.push(value);
        }
    }
    if values.len() * 2 < resamples {
        return None;
    }
    values.sort_by(f64::total_cmp);
    Some(Interval {
        low: quantile(&values, 0.025),
        high: quantile(&values, 0.975),
    })
}

/// Two-sided p-value of McNemar's exact test: `only_first` images the first
/// model alone gets right, `only_second` the second alone.
pub fn mcnemar_exact(only_first: usize, only_second: usize) -> f64 {
    let n = only_first + only_second;
    if n == 0 {
        return 1.0;
    }
    let k = only_first.min(only_second);
    // P(X <= k) for X ~ Binomial(n, 1/2), summed in log space.
    let ln_half_n = n as f64 * 0.5f64.ln();
    let mut ln_choose = 0.0f64;
    let mut tail = 0.0f64;
    for i in 0..=k {
        if i > 0 {
            ln_choose += ((n - i + 1) as f64).ln() - (i as f64).ln();
        }
        tail += (ln_choose + ln_half_n).exp();
    }
    (2.0 * tail).min(1.0)
}

/// Bootstrap intervals of one model's log-loss and ROC-AUC on its test rows,
/// each resample scored by the metrics crate as head-train scores the rows.
pub fn score_intervals(predictions: &Predictions) -> (Option<Interval>, Option<Interval>) {
    let scored = metrics::Predictions::from(predictions);
    let n = scored.len();
    let losses: Vec<f64> = (0..n)
        .map(|i| row_loss(scored.true_probability(i)))
        .collect();
    let loss = bootstrap(n, BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, |rows| {
        Some(rows.iter().map(|&r| losses[r]).sum::<f64>() / rows.len() as f64)
    });
    let scorer = AucScorer::new(&scored);
    let mut counts = vec![0u32; n];
    let auc = bootstrap(n, BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, |rows| {
        counts.iter_mut().for_each(|c| *c = 0);
        for &r in rows {
            counts[r] += 1;
        }
        scorer.auc(Some(&counts))
    });
    (loss, auc)
}

/// Which rows each model predicts correctly: the one predicted-class rule
/// ([`metrics::predicted_class`], at the model's threshold for two classes).
pub fn hits(predictions: &Predictions, threshold: Option<f64>) -> Vec<(String, bool)> {
    let threshold = threshold.unwrap_or(0.5);
    predictions
        .rows
        .iter()
        .map(|row| {
            let predicted = metrics::predicted_class(&row.probabilities, threshold);
            (row.key.clone(), predicted == row.label as usize)
        })
        .collect()
}

/// A paired comparison on the images both models were scored on.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Paired {
    /// The run compared against.
    pub against: String,
    pub images: usize,
    /// Images only this model gets right, and only the other.
    pub only_this: usize,
    pub only_other: usize,
    pub p_value: f64,
    /// `p_value < ALPHA`.
    pub distinguishable: bool,
}

/// McNemar between two models' hits, matched by image key.
pub fn paired(this: &[(String, bool)], other: &[(String, bool)], against: &str) -> Option<Paired> {
    let other: std::collections::HashMap<&str, bool> =
        other.iter().map(|(k, h)| (k.as_str(), *h)).collect();
    let (mut images, mut only_this, mut only_other) = (0, 0, 0);
    for (key, hit) in this {
        if let Some(&other_hit) = other.get(key.as_str()) {
            images += 1;
            match (*hit, other_hit) {
                (true, false) => only_this += 1,
                (false, true) => only_other += 1,
                _ => {}
            }
        }
    }
    (images > 0).then(|| {
        let p_value = mcnemar_exact(only_this, only_other);
        Paired {
            against: against.to_string(),
            images,
            only_this,
            only_other,
            p_value,
            distinguishable: p_value < ALPHA,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mcnemar_on_a_hand_made_table() {
        // 10 discordant pairs split 1 / 9: P(X <= 1) = 11 / 1024, two-sided 22 / 1024.
        assert!((mcnemar_exact(1, 9) - 22.0 / 1024.0).abs() < 1e-15);
        assert!((mcnemar_exact(9, 1) - 22.0 / 1024.0).abs() < 1e-15);
        assert_eq!(mcnemar_exact(5, 5), 1.0);
        assert_eq!(mcnemar_exact(0, 0), 1.0);
        // 0 / 6: 2 · 1/64.
        assert!((mcnemar_exact(0, 6) - 2.0 / 64.0).abs() < 1e-15);
    }

    #[test]
    fn quantiles_interpolate_like_numpy() {
        let values = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile(&values, 0.5), 2.5);
        assert_eq!(quantile(&values, 0.0), 1.0);
        assert!((quantile(&values, 0.975) - 3.925).abs() < 1e-12);
    }
}
