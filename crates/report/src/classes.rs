//! The evaluation split class by class: what a model with many classes is
//! judged by first. Everything here comes from a run's `metrics.json` (the
//! confusion matrix every schema records; per-class scores, top-5 accuracy,
//! macro-F1 and balanced accuracy since schema 4) and, for older runs, is
//! recomputed with the metrics crate from the confusion matrix or
//! `predictions.csv`: the same code that wrote the newer ones.

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;

use contract::metrics::{ClassMetrics, SplitMetrics, TOP_K};
use contract::predictions::Predictions;
use metrics::classes;
use metrics::interval::wilson95;
use metrics::Interval;

/// More classes than this: the most confused pairs instead of a matrix plot.
pub const CONFUSION_PLOT_MAX_CLASSES: usize = 30;
/// Pairs listed per run when there is no matrix plot.
pub const CONFUSED_PAIRS: usize = 20;

/// The per-class scores of one run on its evaluation split.
#[derive(Clone, Debug, Default)]
pub struct ClassView {
    pub classes: Vec<ClassMetrics>,
    /// `confusion[true][predicted]`, in class order.
    pub confusion: Vec<Vec<u64>>,
}

/// In `report.json` and `report.csv`: `{CLASS: {support, predicted, precision,
/// recall, f1}}` in class order (one `per_class.CLASS.FIELD` column each).
impl Serialize for ClassView {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Scores {
            support: u64,
            predicted: u64,
            precision: Option<f64>,
            recall: Option<f64>,
            f1: Option<f64>,
        }
        let mut map = serializer.serialize_map(Some(self.classes.len()))?;
        for c in &self.classes {
            map.serialize_entry(
                &c.class,
                &Scores {
                    support: c.support,
                    predicted: c.predicted,
                    precision: c.precision,
                    recall: c.recall,
                    f1: c.f1,
                },
            )?;
        }
        map.end()
    }
}

impl ClassView {
    /// Off-diagonal cells, most frequent first: `(true, predicted, count)`.
    pub fn most_confused(&self, limit: usize) -> Vec<(usize, usize, u64)> {
        classes::most_confused(&self.confusion, limit)
    }

    /// The class most often predicted for `class`'s images instead of it.
    pub fn most_often_instead(&self, class: usize) -> Option<(usize, u64)> {
        self.confusion
            .get(class)?
            .iter()
            .enumerate()
            .filter(|&(p, &n)| p != class && n > 0)
            .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(&a.0)))
            .map(|(p, &n)| (p, n))
    }
}

/// What the report shows of a run's evaluation split beyond accuracy and loss.
#[derive(Clone, Debug, Default)]
pub struct EvaluationDetail {
    pub view: ClassView,
    pub macro_f1: f64,
    pub balanced_accuracy: f64,
    pub top5_accuracy: Option<f64>,
    pub top5_accuracy_interval: Option<Interval>,
    pub classes_absent: Vec<String>,
}

/// The detail of `evaluation` (a split of a run whose classes are `names`),
/// recomputing from the confusion matrix, or from `predictions` for top-5
/// accuracy, what a run older than schema 4 did not record.
pub fn evaluation_detail(
    evaluation: &SplitMetrics,
    names: &[String],
    predictions: Option<&Predictions>,
) -> EvaluationDetail {
    let per_class = if evaluation.per_class.is_empty() {
        classes::per_class(&evaluation.confusion_matrix, names)
    } else {
        evaluation.per_class.clone()
    };
    let (top5_accuracy, top5_accuracy_interval) = match (evaluation.top5_accuracy, predictions) {
        (Some(top5), _) => (Some(top5), evaluation.top5_accuracy_interval),
        (None, Some(predictions)) if names.len() > TOP_K => {
            let scored = metrics::Predictions::from(predictions);
            let hits = metrics::top_k::top_k_hits(&scored, TOP_K);
            let n = scored.len();
            (Some(hits as f64 / n.max(1) as f64), wilson95(hits, n))
        }
        _ => (None, None),
    };
    EvaluationDetail {
        macro_f1: evaluation
            .macro_f1
            .unwrap_or_else(|| classes::macro_f1(&per_class)),
        balanced_accuracy: evaluation
            .balanced_accuracy
            .unwrap_or_else(|| classes::balanced_accuracy(&per_class)),
        top5_accuracy,
        top5_accuracy_interval,
        classes_absent: classes::absent(&per_class),
        view: ClassView {
            classes: per_class,
            confusion: evaluation.confusion_matrix.clone(),
        },
    }
}
