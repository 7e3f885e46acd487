//! Every score of one split, as `metrics.json` records it.

use crate::calibration::expected_calibration_error;
use crate::interval::wilson95;
use crate::{auc, classes, top_k, Predictions, SplitMetrics, TOP_K};

/// Scores `predictions` (the rows of `split`, playing `role`) with the decision
/// `threshold` on p(class 1) for two classes (ignored for more).
pub fn split_metrics(
    split: &str,
    role: &str,
    predictions: &Predictions,
    class_names: &[String],
    threshold: f64,
) -> SplitMetrics {
    let k = predictions.classes;
    let n = predictions.len();
    let predicted = predictions.predicted(threshold);
    let confusion = classes::confusion_matrix(&predictions.labels, &predicted, k);
    let per_class = classes::per_class(&confusion, class_names);
    let correct: u64 = (0..k).map(|c| confusion[c][c]).sum();
    let (precision, recall, f1, averaging) = if k == 2 {
        let positive = &per_class[1];
        (
            positive.precision.unwrap_or(0.0),
            positive.recall.unwrap_or(0.0),
            positive.f1.unwrap_or(0.0),
            "binary",
        )
    } else {
        let (precision, recall) = classes::macro_precision_recall(&per_class);
        (precision, recall, classes::macro_f1(&per_class), "macro")
    };
    let hits: Vec<bool> = predictions
        .labels
        .iter()
        .zip(&predicted)
        .map(|(t, p)| t == p)
        .collect();
    let confidences: Vec<f64> = (0..n)
        .map(|i| predictions.row(i)[predicted[i] as usize])
        .collect();
    let top5 = (k > TOP_K).then(|| top_k::top_k_hits(predictions, TOP_K));
    SplitMetrics {
        split: split.to_string(),
        role: role.to_string(),
        rows: n,
        log_loss: predictions.log_loss(),
        accuracy: correct as f64 / n.max(1) as f64,
        roc_auc: auc::auc(predictions),
        precision,
        recall,
        f1,
        averaging: averaging.into(),
        expected_calibration_error: expected_calibration_error(&confidences, &hits),
        accuracy_interval: wilson95(correct as usize, n),
        top5_accuracy: top5.map(|hits| hits as f64 / n.max(1) as f64),
        top5_accuracy_interval: top5.and_then(|hits| wilson95(hits, n)),
        macro_f1: Some(classes::macro_f1(&per_class)),
        balanced_accuracy: Some(classes::balanced_accuracy(&per_class)),
        roc_auc_averaging: Some(auc::averaging(k).to_string()),
        classes_absent: classes::absent(&per_class),
        per_class,
        confusion_matrix: confusion,
    }
}

/// One split's scores on one terminal line, as head-train and tune-train print
/// them: role, split, rows, loss, accuracy, (top-5,) AUC, F1 (macro past two
/// classes), and the classes the split lacks.
pub fn summary_line(m: &SplitMetrics) -> String {
    let mut line = format!(
        "{:<10} {:<8} rows {:>6}  loss {:.4}  accuracy {:.4}",
        m.role, m.split, m.rows, m.log_loss, m.accuracy
    );
    if let Some(top5) = m.top5_accuracy {
        line.push_str(&format!("  top-5 {top5:.4}"));
    }
    line.push_str(&format!(
        "  auc {}  {} {:.4}",
        m.roc_auc.map_or("n/a".into(), |a| format!("{a:.4}")),
        if m.averaging == "macro" {
            "macro-f1"
        } else {
            "f1"
        },
        m.f1
    ));
    if !m.classes_absent.is_empty() {
        line.push_str(&format!("  (no row of {})", m.classes_absent.join(", ")));
    }
    line
}
