//! Scores from the confusion matrix: per class, macro averages, balanced
//! accuracy. A ratio whose denominator is zero is undefined (`None`), never 0/0.

use crate::ClassMetrics;

/// `confusion[true][predicted]` over `classes` classes.
pub fn confusion_matrix(labels: &[u32], predicted: &[u32], classes: usize) -> Vec<Vec<u64>> {
    let mut confusion = vec![vec![0u64; classes]; classes];
    for (t, p) in labels.iter().zip(predicted) {
        confusion[*t as usize][*p as usize] += 1;
    }
    confusion
}

/// Each class's precision, recall, F1, support and predicted count.
pub fn per_class(confusion: &[Vec<u64>], names: &[String]) -> Vec<ClassMetrics> {
    let classes = confusion.len();
    (0..classes)
        .map(|c| {
            let tp = confusion[c][c];
            let support: u64 = confusion[c].iter().sum();
            let predicted: u64 = (0..classes).map(|t| confusion[t][c]).sum();
            let ratio = |num: u64, den: u64| (den > 0).then(|| num as f64 / den as f64);
            let precision = ratio(tp, predicted);
            let recall = ratio(tp, support);
            ClassMetrics {
                class: names.get(c).cloned().unwrap_or_else(|| c.to_string()),
                support,
                predicted,
                precision,
                recall,
                f1: f1(precision, recall, tp, support + predicted),
            }
        })
        .collect()
}

/// The harmonic mean of precision and recall; 0 when the class is present or
/// predicted but never right (one of them undefined); `None` when it is neither.
fn f1(
    precision: Option<f64>,
    recall: Option<f64>,
    tp: u64,
    present_or_predicted: u64,
) -> Option<f64> {
    if present_or_predicted == 0 {
        return None;
    }
    match (precision, recall) {
        (Some(p), Some(r)) if tp > 0 => Some(2.0 * p * r / (p + r)),
        _ => Some(0.0),
    }
}

/// Mean F1 over the classes present in truth or prediction (scikit-learn's
/// macro F1); 0 without any.
pub fn macro_f1(classes: &[ClassMetrics]) -> f64 {
    mean(classes.iter().filter_map(|c| c.f1))
}

/// Mean recall over the classes present (scikit-learn's balanced accuracy).
pub fn balanced_accuracy(classes: &[ClassMetrics]) -> f64 {
    mean(classes.iter().filter_map(|c| c.recall))
}

/// Macro precision and recall over the classes present in truth or
/// prediction, an undefined one counting 0 (scikit-learn's
/// `zero_division=0`).
pub fn macro_precision_recall(classes: &[ClassMetrics]) -> (f64, f64) {
    let counted: Vec<&ClassMetrics> = classes.iter().filter(|c| c.f1.is_some()).collect();
    (
        mean(counted.iter().map(|c| c.precision.unwrap_or(0.0))),
        mean(counted.iter().map(|c| c.recall.unwrap_or(0.0))),
    )
}

/// The classes with no row in the split.
pub fn absent(classes: &[ClassMetrics]) -> Vec<String> {
    classes
        .iter()
        .filter(|c| c.support == 0)
        .map(|c| c.class.clone())
        .collect()
}

fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, count) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    sum / count.max(1) as f64
}

/// The off-diagonal cells by count, largest first (ties: true class, then
/// predicted class, in class order): `(true, predicted, count)`.
pub fn most_confused(confusion: &[Vec<u64>], limit: usize) -> Vec<(usize, usize, u64)> {
    let mut cells: Vec<(usize, usize, u64)> = confusion
        .iter()
        .enumerate()
        .flat_map(|(t, row)| {
            row.iter()
                .enumerate()
                .filter(move |&(p, &n)| p != t && n > 0)
                .map(move |(p, &n)| (t, p, n))
        })
        .collect();
    cells.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)).then(a.1.cmp(&b.1)));
    cells.truncate(limit);
    cells
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|c| format!("c{c}")).collect()
    }

    #[test]
    fn an_absent_class_is_undefined_not_zero() {
        // Class 2 never occurs and is never predicted; class 1 is predicted but absent.
        let confusion = vec![vec![3, 1, 0], vec![0, 0, 0], vec![0, 0, 0]];
        let classes = per_class(&confusion, &names(3));
        assert_eq!(classes[0].recall, Some(0.75));
        assert_eq!(classes[0].precision, Some(1.0));
        assert_eq!(classes[1].recall, None);
        assert_eq!(classes[1].precision, Some(0.0));
        assert_eq!(classes[1].f1, Some(0.0));
        assert_eq!(classes[2].precision, None);
        assert_eq!(classes[2].recall, None);
        assert_eq!(classes[2].f1, None);
        assert_eq!(balanced_accuracy(&classes), 0.75);
        let f1_0 = 2.0 * 0.75 / 1.75;
        assert_eq!(macro_f1(&classes), f1_0 / 2.0);
        assert_eq!(absent(&classes), ["c1", "c2"]);
        assert_eq!(most_confused(&confusion, 5), [(0, 1, 1)]);
    }
}
