//! Scoring a trained head on its three roles' rows, the one piece of code
//! head-train and tune-train share: the threshold is chosen on the selection
//! rows, then fit, selection and evaluation are scored in that order.

use contract::metrics::ThresholdRule;

use crate::{split_metrics, threshold, MetricsError, Predictions, SplitMetrics};

pub const FIT: &str = "fit";
pub const SELECTION: &str = "selection";
pub const EVALUATION: &str = "evaluation";

/// One role's rows as scored: the split they come from and the predictions.
#[derive(Clone, Copy, Debug)]
pub struct RolePredictions<'a> {
    /// `train`, `holdout`, `val` or `test`.
    pub split: &'a str,
    pub predictions: &'a Predictions,
}

impl<'a> RolePredictions<'a> {
    pub fn new(split: &'a str, predictions: &'a Predictions) -> Self {
        RolePredictions { split, predictions }
    }
}

/// The decision threshold and every role's scores, fit first.
#[derive(Clone, Debug, PartialEq)]
pub struct ScoredRoles {
    pub threshold: f64,
    pub metrics: Vec<SplitMetrics>,
}

pub fn score_roles(
    fit: RolePredictions,
    selection: RolePredictions,
    evaluation: RolePredictions,
    rule: ThresholdRule,
    class_names: &[String],
) -> Result<ScoredRoles, MetricsError> {
    let threshold = threshold::pick(rule, selection.predictions)?;
    let metrics = [(FIT, fit), (SELECTION, selection), (EVALUATION, evaluation)]
        .into_iter()
        .map(|(role, rows)| {
            split_metrics(rows.split, role, rows.predictions, class_names, threshold)
        })
        .collect();
    Ok(ScoredRoles { threshold, metrics })
}
