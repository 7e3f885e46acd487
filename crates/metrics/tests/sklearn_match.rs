//! Every score of `split_metrics` against scikit-learn's on the same
//! `predictions.csv` (written by the contract's writer, read by pandas): two,
//! three and twelve classes, saturated rows (a true class at probability 0 and
//! at 1), and a split missing a class (and one neither present nor predicted).

use std::path::Path;

use contract::predictions::{PredictionRow, Predictions as PredictionsFile};
use metrics::rng::SplitMix64;
use metrics::{split_metrics, Predictions, SplitMetrics};
use serde_json::Value;

/// `n` rows over `classes` classes: noisy, mostly right probabilities (a
/// softmax of random logits with the true class lifted), then saturated rows.
/// Labels never use the classes in `absent`; those in `never_predicted` get
/// tiny probabilities.
fn predictions(
    classes: usize,
    n: usize,
    seed: u64,
    absent: &[usize],
    never_predicted: &[usize],
) -> Predictions {
    let mut rng = SplitMix64::new(seed, 1);
    let allowed: Vec<usize> = (0..classes).filter(|c| !absent.contains(c)).collect();
    let (mut probs, mut labels) = (Vec::new(), Vec::new());
    for _ in 0..n {
        let label = allowed[rng.below(allowed.len())];
        let logits: Vec<f64> = (0..classes)
            .map(|c| {
                let lift = if c == label { 1.5 } else { 0.0 };
                let sink = if never_predicted.contains(&c) {
                    -40.0
                } else {
                    0.0
                };
                lift + sink + 2.0 * (rng.next_f64() - 0.5) * 2.0
            })
            .collect();
        let max = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let sum: f64 = logits.iter().map(|z| (z - max).exp()).sum();
        probs.extend(logits.iter().map(|z| (z - max).exp() / sum));
        labels.push(label as u32);
    }
    // Saturated: the true class certain, then impossible (every other class
    // distinct, so no rank depends on how ties are broken).
    for certain in [true, false] {
        let label = allowed[0];
        let mut row = vec![0.0; classes];
        if certain {
            row[label] = 1.0;
        } else {
            let others: Vec<usize> = (0..classes).filter(|&c| c != label).collect();
            let total: f64 = (1..=others.len()).map(|j| j as f64).sum();
            for (j, &c) in others.iter().enumerate() {
                row[c] = (j + 1) as f64 / total;
            }
        }
        probs.extend(row);
        labels.push(label as u32);
    }
    Predictions {
        classes,
        probs,
        labels,
    }
}

fn names(classes: usize) -> Vec<String> {
    (0..classes).map(|c| format!("class{c}")).collect()
}

fn sklearn(predictions: &Predictions, threshold: f64) -> Option<Value> {
    let python = testkit::python()?;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("predictions.csv");
    PredictionsFile {
        classes: names(predictions.classes),
        rows: (0..predictions.len())
            .map(|i| PredictionRow {
                key: format!("{i:064x}"),
                label: predictions.labels[i],
                probabilities: predictions.row(i).to_vec(),
            })
            .collect(),
    }
    .write(&path)
    .unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/sklearn_scores.py");
    let threshold = threshold.to_string();
    let out = testkit::run_python(&python, &script, &[path.to_str().unwrap(), &threshold]);
    Some(serde_json::from_str(&out).unwrap())
}

fn close(ours: f64, theirs: &Value, what: &str) {
    let theirs = theirs
        .as_f64()
        .unwrap_or_else(|| panic!("{what}: scikit-learn gave {theirs}"));
    assert!(
        (ours - theirs).abs() <= 1e-12 * theirs.abs().max(1.0),
        "{what}: ours {ours}, scikit-learn {theirs}"
    );
}

fn optional(ours: Option<f64>, theirs: &Value, what: &str) {
    match ours {
        Some(value) => close(value, theirs, what),
        None => assert!(
            theirs.is_null(),
            "{what}: ours undefined, scikit-learn {theirs}"
        ),
    }
}

fn check(predictions: &Predictions, threshold: f64) -> Option<SplitMetrics> {
    let reference = sklearn(predictions, threshold)?;
    let ours = split_metrics(
        "test",
        "evaluation",
        predictions,
        &names(predictions.classes),
        threshold,
    );
    close(ours.log_loss, &reference["log_loss"], "log-loss");
    close(ours.accuracy, &reference["accuracy"], "accuracy");
    optional(ours.macro_f1, &reference["macro_f1"], "macro-F1");
    optional(
        ours.balanced_accuracy,
        &reference["balanced_accuracy"],
        "balanced accuracy",
    );
    optional(ours.roc_auc, &reference["roc_auc"], "ROC-AUC");
    optional(
        ours.top5_accuracy,
        &reference["top5_accuracy"],
        "top-5 accuracy",
    );
    assert_eq!(
        serde_json::to_value(&ours.confusion_matrix).unwrap(),
        reference["confusion_matrix"]
    );
    for (c, class) in ours.per_class.iter().enumerate() {
        optional(
            class.precision,
            &reference["precision"][c],
            &format!("{} precision", class.class),
        );
        optional(
            class.recall,
            &reference["recall"][c],
            &format!("{} recall", class.class),
        );
        optional(
            class.f1,
            &reference["f1"][c],
            &format!("{} F1", class.class),
        );
        assert_eq!(Some(class.support), reference["support"][c].as_u64());
    }
    Some(ours)
}

#[test]
fn two_classes_at_a_moved_threshold() {
    let Some(ours) = check(&predictions(2, 300, 3, &[], &[]), 0.35) else {
        return;
    };
    assert_eq!(ours.averaging, "binary");
    assert_eq!(ours.roc_auc_averaging.as_deref(), Some("binary"));
    assert_eq!(ours.top5_accuracy, None);
    assert!(ours.classes_absent.is_empty());
}

#[test]
fn three_classes() {
    let Some(ours) = check(&predictions(3, 300, 4, &[], &[]), 0.5) else {
        return;
    };
    assert_eq!(ours.averaging, "macro");
    assert_eq!(ours.roc_auc_averaging.as_deref(), Some("macro-ovr"));
    assert_eq!(ours.macro_f1, Some(ours.f1));
}

#[test]
fn twelve_classes_with_top5() {
    let Some(ours) = check(&predictions(12, 400, 5, &[], &[]), 0.5) else {
        return;
    };
    let top5 = ours.top5_accuracy.unwrap();
    assert!(
        top5 > ours.accuracy && top5 < 1.0,
        "{top5} vs {}",
        ours.accuracy
    );
    let interval = ours.top5_accuracy_interval.unwrap();
    assert!(interval.low < top5 && top5 < interval.high);
}

#[test]
fn a_class_missing_from_the_split_is_named_and_divides_nothing_by_zero() {
    // Class 11 never occurs (but is sometimes predicted); class 10 neither occurs nor is predicted.
    let Some(ours) = check(&predictions(12, 300, 6, &[10, 11], &[10]), 0.5) else {
        return;
    };
    assert_eq!(ours.classes_absent, ["class10", "class11"]);
    assert_eq!(ours.per_class[10].f1, None);
    assert_eq!(ours.per_class[11].recall, None);
    let json = serde_json::to_string(&ours).unwrap();
    assert!(!json.contains("NaN") && !json.contains("inf"), "{json}");
}
