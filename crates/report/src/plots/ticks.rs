//! Tick labels people can read: plotters places the ticks (its own key points
//! for the label count asked), and these labels name them with the fewest
//! decimals that keep every label distinct, never more than four significant
//! digits, no trailing `.0` on whole numbers (epochs, iterations). Every axis
//! drawn is recorded, so tests can check what a reader sees.

use std::cell::RefCell;

use plotters::coord::ranged1d::{BoldPoints, Ranged};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::{IntoLogRange, LogCoord};

thread_local! {
    static DRAWN: RefCell<Vec<(String, Vec<String>)>> = const { RefCell::new(Vec::new()) };
}

/// The axes drawn on this thread since the last call, as (axis name, labels).
pub fn take_drawn() -> Vec<(String, Vec<String>)> {
    DRAWN.with(|d| std::mem::take(&mut *d.borrow_mut()))
}

/// Significant digits of a label (`0.0012` has 2, `1,250` has 3).
pub fn significant_digits(label: &str) -> usize {
    let digits: String = label.chars().filter(char::is_ascii_digit).collect();
    let trimmed = digits.trim_start_matches('0');
    let integer_trailing_zeros = if label.contains('.') {
        0
    } else {
        trimmed.len() - trimmed.trim_end_matches('0').len()
    };
    trimmed.len().saturating_sub(integer_trailing_zeros).max(1)
}

/// Why an axis's labels are hard to read, if they are: repeated labels, or
/// one with more than four significant digits.
pub fn unreadable(labels: &[String]) -> Option<String> {
    let mut seen = std::collections::BTreeSet::new();
    if let Some(repeated) = labels.iter().find(|label| !seen.insert(label.as_str())) {
        return Some(format!("{repeated} repeats in {labels:?}"));
    }
    labels
        .iter()
        .find(|label| significant_digits(label) > 4)
        .map(|long| format!("{long} has more than 4 significant digits"))
}

/// Labels for tick values: the fewest decimals (0 to 6) at which they are all
/// distinct and each names its tick exactly (within a thousandth of the step);
/// whole numbers without decimals when every tick is one.
pub fn labels(values: &[f64]) -> Vec<String> {
    let whole = values.iter().all(|v| (v - v.round()).abs() < 1e-9);
    let first = if whole { 0 } else { 1 };
    let step = values
        .windows(2)
        .map(|w| (w[1] - w[0]).abs())
        .filter(|d| *d > 0.0)
        .fold(f64::INFINITY, f64::min);
    let tolerance = if step.is_finite() { step * 1e-3 } else { 1e-9 };
    for decimals in first..=6 {
        let candidate: Vec<String> = values.iter().map(|v| plain(*v, decimals)).collect();
        let mut sorted = candidate.clone();
        sorted.sort();
        sorted.dedup();
        let exact = candidate.iter().zip(values).all(|(label, v)| {
            label
                .parse::<f64>()
                .is_ok_and(|l| (l - v).abs() <= tolerance)
        });
        if sorted.len() == candidate.len() && exact {
            return candidate.iter().map(|l| trimmed(l)).collect();
        }
    }
    values.iter().map(|v| plain(*v, 6)).collect()
}

/// `0.9990` → `0.999`, `1.0000` → `1`: a label carries no more digits than it needs.
fn trimmed(label: &str) -> String {
    if label.contains('.') {
        label
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
    } else {
        label.to_string()
    }
}

fn plain(value: f64, decimals: usize) -> String {
    let text = format!("{value:.decimals$}");
    if text
        .trim_start_matches('-')
        .chars()
        .all(|c| c == '0' || c == '.')
    {
        format!("{:.decimals$}", 0.0)
    } else {
        text
    }
}

/// A formatter for an axis of `count` labels over `low..high` (log scale when
/// `log`): what to pass to plotters' `*_label_formatter` beside `*_labels(count)`.
pub struct Axis {
    ticks: Vec<(f64, String)>,
}

impl Axis {
    pub fn new(name: &str, low: f64, high: f64, count: usize, log: bool) -> Axis {
        let values: Vec<f64> = if log {
            let coord: LogCoord<f64> = (low..high).log_scale().into();
            coord.key_points(BoldPoints(count))
        } else {
            RangedCoordf64::from(low..high).key_points(BoldPoints(count))
        };
        let ticks: Vec<(f64, String)> = values.iter().copied().zip(labels(&values)).collect();
        DRAWN.with(|d| {
            d.borrow_mut().push((
                name.to_string(),
                ticks.iter().map(|t| t.1.clone()).collect(),
            ))
        });
        Axis { ticks }
    }

    /// Every tick: its value and label, for axes drawn by hand.
    pub fn ticks(&self) -> &[(f64, String)] {
        &self.ticks
    }

    /// The label of the tick at `value` (plotters asks for exactly its ticks).
    pub fn label(&self, value: &f64) -> String {
        self.ticks
            .iter()
            .min_by(|a, b| (a.0 - value).abs().total_cmp(&(b.0 - value).abs()))
            .map(|t| t.1.clone())
            .unwrap_or_default()
    }
}

/// Whether values span enough decades that a log axis reads better.
pub fn spans_decades(values: impl IntoIterator<Item = f64>) -> bool {
    let (low, high) = values
        .into_iter()
        .filter(|v| *v > 0.0 && v.is_finite())
        .fold((f64::INFINITY, 0.0f64), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    high > 0.0 && low.is_finite() && high / low >= 20.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn narrow_ranges_get_distinct_labels() {
        assert_eq!(
            labels(&[0.992, 0.994, 0.996, 0.998, 1.0]),
            ["0.992", "0.994", "0.996", "0.998", "1"]
        );
        assert_eq!(labels(&[2.0, 4.0, 6.0]), ["2", "4", "6"]);
        assert_eq!(labels(&[0.0, 0.25, 0.5]), ["0", "0.25", "0.5"]);
        assert_eq!(labels(&[1.0, 1.5, 2.0]), ["1", "1.5", "2"]);
        assert_eq!(labels(&[-0.0, 1.0]), ["0", "1"]);
    }

    #[test]
    fn significant_digits_of_labels() {
        assert_eq!(significant_digits("0.9975"), 4);
        assert_eq!(significant_digits("0.0012"), 2);
        assert_eq!(significant_digits("1250"), 3);
        assert_eq!(significant_digits("0"), 1);
        assert_eq!(significant_digits("12.50"), 4);
    }

    #[test]
    fn plotters_ticks_are_named_once_each() {
        take_drawn();
        for (low, high) in [(0.9985, 1.0), (0.0, 1.1), (0.0, 307.0), (1e-4, 0.7)] {
            let axis = Axis::new("y", low, high, 6, low > 0.0 && high / low > 20.0);
            let labels: Vec<String> = axis.ticks.iter().map(|t| t.1.clone()).collect();
            let mut unique = labels.clone();
            unique.dedup();
            assert_eq!(unique, labels, "{low}..{high}");
            assert!(
                labels.iter().all(|l| significant_digits(l) <= 4),
                "{labels:?}"
            );
        }
        assert_eq!(take_drawn().len(), 4);
    }
}
