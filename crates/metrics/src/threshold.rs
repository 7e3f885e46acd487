//! The decision threshold on p(class 1) of a two-class head.

use contract::metrics::ThresholdRule;

use crate::{MetricsError, Predictions};

/// Refuses a fixed threshold outside [0, 1] (`--threshold` refuses it when
/// parsed; this is for library callers).
pub fn check_value(rule: ThresholdRule) -> Result<(), MetricsError> {
    match rule {
        ThresholdRule::Fixed(value) if !(0.0..=1.0).contains(&value) => {
            Err(MetricsError::ThresholdOutOfRange { value })
        }
        _ => Ok(()),
    }
}

/// [`check_value`], and refuses a rule that cannot apply to `classes` classes
/// (`val-f1` needs two): head-train and tune-train call it as soon as they know
/// the classes, before any training.
pub fn check_rule(rule: ThresholdRule, classes: usize) -> Result<(), MetricsError> {
    check_value(rule)?;
    match rule {
        ThresholdRule::ValF1 if classes != 2 => {
            Err(MetricsError::ThresholdNeedsTwoClasses { classes })
        }
        _ => Ok(()),
    }
}

/// The threshold `rule` gives on the selection rows.
pub fn pick(rule: ThresholdRule, selection: &Predictions) -> Result<f64, MetricsError> {
    check_rule(rule, selection.classes)?;
    Ok(match rule {
        ThresholdRule::Fixed(value) => value,
        ThresholdRule::ValF1 => best_f1_threshold(selection),
    })
}

/// The threshold on `p(class 1)` that maximises F1 on the given rows (the
/// highest such threshold when several tie).
pub fn best_f1_threshold(predictions: &Predictions) -> f64 {
    let labels = &predictions.labels;
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
