//! The comparison table: one row per head-train or tune-train run, with
//! differences and time ratios against a baseline row (B0 of the same head kind,
//! else that kind's first row). A row's kind ([`head_kind`]) is head-train's
//! optimiser (`adam`, `lbfgs`) or `topN` for a run that fine-tuned the last N
//! blocks; rows are grouped, compared and recommended within their kind.

use std::path::Path;

use serde::Serialize;

use crate::classes::{evaluation_detail, ClassView};
use crate::inputs::{FeatureIndex, HeadRun, HistoryRow, RunRecord};
use crate::known;
use crate::recommend::Recommendation;
use crate::stats::{self, Interval, Paired};

#[derive(Clone, Debug, Serialize)]
pub struct Table {
    pub rows: Vec<Row>,
    /// Present when the features folder held extract's `run.json`.
    pub extraction: Option<ExtractionSummary>,
    /// Caveats worth reading next to the numbers (cache hits, missing metadata).
    pub notes: Vec<String>,
    /// What to choose, and why; absent when too little is known (no extraction
    /// times, a single model).
    pub recommendation: Option<Recommendation>,
}

/// The extract run as a whole: decoding is shared by every variant (one decode per image).
#[derive(Clone, Debug, Serialize)]
pub struct ExtractionSummary {
    pub images: usize,
    pub decoded: usize,
    pub decode_cpu_seconds: f64,
    pub wall_seconds: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ParameterSource {
    /// `effprobe.extra.backbone_parameters` in the feature file.
    FeatureMetadata,
    /// The reference implementations' counts in [`crate::known`].
    ReferenceTable,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Row {
    /// The run folder's name.
    pub run: String,
    pub variant: String,
    pub model: String,
    /// `adam` or `lbfgs` (head-train's `--optimizer`), or `topN` (tune-train, the
    /// last N blocks fine-tuned): see [`head_label`].
    pub head: String,
    /// The run this row's differences and ratio are against.
    pub baseline: String,
    pub image_size: u32,
    /// Training batch size (head-train's or tune-train's); null for the full-batch solver.
    pub batch_size: Option<usize>,
    /// Backbone batch size during extraction (from `run.json`).
    pub extract_batch_size: Option<usize>,
    pub weights_bytes: Option<u64>,
    /// The backbone's parameters, without the classifier.
    pub parameters: Option<u64>,
    pub parameters_source: Option<ParameterSource>,
    /// The split the head was scored on (`test`, or `val` for datasets without test).
    pub evaluation_split: String,
    pub evaluation_rows: usize,
    pub test_loss: f64,
    /// 95% percentile-bootstrap interval over the test rows.
    pub test_loss_interval: Option<Interval>,
    pub test_loss_difference: f64,
    pub test_accuracy: f64,
    /// 95% Wilson score interval.
    pub test_accuracy_interval: Option<Interval>,
    pub test_accuracy_difference: f64,
    pub test_roc_auc: Option<f64>,
    /// 95% percentile-bootstrap interval over the test rows.
    pub test_roc_auc_interval: Option<Interval>,
    pub test_f1: f64,
    /// McNemar's exact test against the previous row of the same head kind, on
    /// the images both were scored on.
    pub versus_previous: Option<Paired>,
    /// The backbone's forward passes over every image, once: the feature file's
    /// measured seconds per image × its rows, else extract's `backbone_seconds`.
    pub extraction_seconds: Option<f64>,
    /// Images that time covers: every row, or those the last extract run computed.
    pub extraction_images: Option<usize>,
    /// `training_seconds` of head-train (every candidate and any refit) or of
    /// tune-train (every candidate: the top blocks and the head over the cached
    /// activations).
    pub head_seconds: f64,
    /// Extraction + head; unknown when the extraction time is.
    pub total_seconds: Option<f64>,
    /// `total_seconds` over the baseline's.
    pub time_ratio: Option<f64>,
    /// Epochs the retraining estimate counts: an Adam head's or a fine-tune's
    /// own; for the full-batch solver (no epochs) those of the comparison's Adam
    /// heads, else the seed's 10.
    pub epochs: usize,
    /// Estimate: extraction seconds × epochs, what retraining through the frozen
    /// backbone every epoch (the seed's way) would have cost.
    pub estimated_retraining_seconds: Option<f64>,
    /// The kept head was refit on fit ∪ selection (`--sweep-l2 auto`): its
    /// history is the chosen candidate's before the refit.
    pub refit: bool,
    /// Classes of the features.
    pub classes: usize,
    /// Share of test images whose class is among the five most probable; null
    /// for five classes or fewer (and for runs older than metrics.json schema 4
    /// without `predictions.csv`).
    pub test_top5_accuracy: Option<f64>,
    /// 95% Wilson score interval.
    pub test_top5_accuracy_interval: Option<Interval>,
    /// Mean F1 over the classes present in truth or prediction.
    pub test_macro_f1: f64,
    /// Mean recall over the classes present in the test split.
    pub test_balanced_accuracy: f64,
    /// How `test_roc_auc` averages: `binary` (class 1) or `macro-ovr`.
    pub test_roc_auc_averaging: String,
    /// Classes with no test image: their recall is undefined, and balanced
    /// accuracy and the macro ROC-AUC leave them out.
    pub test_classes_absent: Vec<String>,
    /// Per class on the test split: support, predicted, precision, recall, F1.
    pub per_class: ClassView,
    #[serde(skip)]
    pub history: Vec<HistoryRow>,
    /// Per test image (key), whether the head got it right.
    #[serde(skip)]
    pub hits: Vec<(String, bool)>,
}

impl Row {
    /// Label for axes: `B0`, plus the head kind when the table mixes kinds.
    pub fn label(&self, mixed_heads: bool) -> String {
        let short = known::short_name(&self.variant);
        if mixed_heads {
            format!("{short} {}", head_label(&self.head))
        } else {
            short
        }
    }

    pub fn is_full_batch(&self) -> bool {
        is_full_batch(&self.head)
    }

    /// A tune-train run (kind `topN`).
    pub fn is_fine_tune(&self) -> bool {
        fine_tuned_blocks(&self.head).is_some()
    }
}

/// The table's model column: EfficientNet's own names for native variants; an
/// exported module's architecture (timm's name) with the user's id beside it when
/// the two differ, so two exports of one architecture stay apart.
fn model_name(variant: &str, architecture: Option<&str>) -> String {
    match architecture {
        Some(model) if model == variant => model.to_string(),
        Some(model) => format!("{model} ({variant})"),
        None => known::display_name(variant),
    }
}

/// The full-batch solver's kind: no batches, no epochs.
pub fn is_full_batch(head: &str) -> bool {
    head == "lbfgs"
}

/// The N of a fine-tune kind `topN` (`stage` for the last stage, whatever its
/// length); `None` for head-train's kinds.
pub fn fine_tuned_blocks(head: &str) -> Option<&str> {
    if head == LAST_STAGE {
        return Some(LAST_STAGE);
    }
    head.strip_prefix("top")
        .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// The kind of a fine-tune of exactly the last stage: B0's is one block, B7's
/// four, and they belong in one comparison.
pub const LAST_STAGE: &str = "stage";

/// How a row's kind is shown: `Adam`, `L-BFGS`, `top-N fine-tune`.
pub fn head_label(head: &str) -> String {
    match head {
        "adam" => "Adam".into(),
        "lbfgs" => "L-BFGS".into(),
        LAST_STAGE => "last-stage fine-tune".into(),
        other => match fine_tuned_blocks(other) {
            Some(blocks) => format!("top-{blocks} fine-tune"),
            None => other.into(),
        },
    }
}

/// The kind as prose and legends name one run of it: `Adam head`, `L-BFGS head`,
/// `top-1 fine-tune`.
pub fn head_noun(head: &str) -> String {
    if fine_tuned_blocks(head).is_some() {
        head_label(head)
    } else {
        format!("{} head", head_label(head))
    }
}

/// Table order of the kinds: Adam, L-BFGS, the fine-tunes by blocks tuned, then
/// any other by name.
fn kind_order(head: &str) -> (u8, u64) {
    match head {
        "adam" => (0, 0),
        "lbfgs" => (1, 0),
        LAST_STAGE => (2, 0),
        other => match fine_tuned_blocks(other).and_then(|n| n.parse().ok()) {
            Some(blocks) => (2, blocks),
            None => (3, 0),
        },
    }
}

/// A run's kind: head-train's optimiser (`adam`, `lbfgs`), or `topN` for a
/// tune-train run that fine-tuned the last N blocks.
pub fn head_kind(metrics: &contract::HeadMetrics) -> String {
    match &metrics.tune {
        Some(tune) if tune.cut.last_stage => LAST_STAGE.to_string(),
        Some(tune) => format!("top{}", tune.cut.top_blocks),
        None => metrics.options.optimizer.as_str().to_string(),
    }
}

/// What the report knows of the features, when given a features folder.
#[derive(Clone, Debug, Default)]
pub struct FeatureSources {
    pub index: FeatureIndex,
    pub record: Option<RunRecord>,
}

impl Table {
    /// The most classes of any row (every row's, when the runs share features).
    pub fn classes(&self) -> usize {
        self.rows.iter().map(|r| r.classes).max().unwrap_or(0)
    }

    pub fn mixed_heads(&self) -> bool {
        self.rows.iter().any(|r| r.head != self.rows[0].head)
    }

    pub fn evaluation_split(&self) -> String {
        evaluation_split_of(&self.rows)
    }

    pub fn build(runs: Vec<HeadRun>, features: Option<&FeatureSources>) -> Table {
        let mut notes = Vec::new();
        let mut rows: Vec<Row> = runs
            .into_iter()
            .map(|run| row(run, features, &mut notes))
            .collect();
        rows.sort_by_cached_key(|r| {
            (
                kind_order(&r.head),
                r.head.clone(),
                known::variant_rank(&r.variant),
                r.variant.clone(),
                r.run.clone(),
            )
        });
        compare_with_baselines(&mut rows);
        retraining_estimates(&mut rows, &mut notes);
        compare_with_previous(&mut rows);
        let recommendation = crate::recommend::recommend(&rows, &evaluation_split_of(&rows));
        if let Some(sources) = features {
            for (path, reason) in &sources.index.skipped {
                notes.push(format!(
                    "{} is not a feature file: {reason}",
                    path.display()
                ));
            }
        }
        Table {
            recommendation,
            rows,
            extraction: features
                .and_then(|f| f.record.as_ref())
                .map(|r| ExtractionSummary {
                    images: r.images,
                    decoded: r.decoded,
                    decode_cpu_seconds: r.decode_seconds,
                    wall_seconds: r.wall_seconds,
                }),
            notes,
        }
    }
}

fn row(run: HeadRun, features: Option<&FeatureSources>, notes: &mut Vec<String>) -> Row {
    let metrics = &run.metrics;
    let variant = metrics.features.variant.clone();
    let blake3 = &metrics.features.weights_blake3;
    let evaluation = metrics
        .evaluation()
        .cloned()
        .expect("HeadRun::read checks the evaluation split exists");
    let epochs = metrics.chosen_candidate().map_or(0, |c| c.epochs);
    let head = head_kind(metrics);

    let feature_info = features.and_then(|f| f.index.find(&variant, blake3));
    let extract = features
        .and_then(|f| f.record.as_ref())
        .and_then(|r| r.variant(&variant, blake3));
    let measured = feature_info.and_then(|f| Some((f.meta.backbone_seconds_per_image()?, f.rows)));
    if features.is_some() && extract.is_none() && measured.is_none() {
        notes.push(format!(
            "{}: the features folder's run.json has no record of {variant} with these weights; extraction time unknown",
            run.name
        ));
    }
    if let (Some(record), None) = (extract, measured) {
        if record.computed < record.rows {
            notes.push(format!(
                "{}: extraction time covers the {} of {} images computed in the last extract run (the rest came from its cache)",
                run.name, record.computed, record.rows
            ));
        }
    }

    let (parameters, parameters_source) =
        match feature_info.and_then(|f| f.meta.backbone_parameters()) {
            Some(count) => (Some(count), Some(ParameterSource::FeatureMetadata)),
            None => match known::parameters(&variant) {
                Some(known) => (Some(known.backbone), Some(ParameterSource::ReferenceTable)),
                None => (None, None),
            },
        };
    let weights_bytes = feature_info
        .and_then(|f| f.meta.weights_bytes())
        .or_else(|| file_size(&metrics.features.weights_source));

    let (extraction_seconds, extraction_images) = match (measured, extract) {
        (Some((per_image, rows)), _) => (Some(per_image * rows as f64), Some(rows)),
        (None, Some(record)) => (Some(record.backbone_seconds), Some(record.computed)),
        (None, None) => (None, None),
    };
    let head_seconds = metrics.timing.training_seconds;
    let correct = (evaluation.accuracy * evaluation.rows as f64).round() as usize;
    let (loss_interval, auc_interval) = match &run.predictions {
        Some(predictions) => stats::score_intervals(predictions),
        None => {
            notes.push(format!(
                "{}: no predictions.csv (written by head-train since schema 2), so no loss or ROC-AUC intervals and no paired test",
                run.name
            ));
            (None, None)
        }
    };
    let hits = run
        .predictions
        .as_ref()
        .map(|p| stats::hits(p, metrics.threshold))
        .unwrap_or_default();
    let detail = evaluation_detail(
        &evaluation,
        &metrics.features.classes,
        run.predictions.as_ref(),
    );
    let classes = metrics.features.classes.len();
    Row {
        run: run.name.clone(),
        model: model_name(&variant, feature_info.and_then(|f| f.meta.backbone_model())),
        variant,
        baseline: String::new(),
        image_size: run.head.input_size,
        batch_size: (!is_full_batch(&head)).then_some(metrics.options.batch_size),
        head,
        extract_batch_size: extract.map(|r| r.batch_size),
        weights_bytes,
        parameters,
        parameters_source,
        evaluation_split: evaluation.split,
        evaluation_rows: evaluation.rows,
        test_loss: evaluation.log_loss,
        test_loss_interval: loss_interval,
        test_loss_difference: 0.0,
        test_accuracy: evaluation.accuracy,
        test_accuracy_interval: stats::wilson(correct, evaluation.rows, stats::Z95),
        test_accuracy_difference: 0.0,
        test_roc_auc: evaluation.roc_auc,
        test_roc_auc_interval: auc_interval,
        test_f1: evaluation.f1,
        versus_previous: None,
        extraction_seconds,
        extraction_images,
        head_seconds,
        total_seconds: extraction_seconds.map(|e| e + head_seconds),
        time_ratio: None,
        epochs,
        estimated_retraining_seconds: None,
        refit: metrics.refit_on_fit_and_selection,
        classes,
        test_top5_accuracy: detail.top5_accuracy,
        test_top5_accuracy_interval: detail.top5_accuracy_interval,
        test_macro_f1: detail.macro_f1,
        test_balanced_accuracy: detail.balanced_accuracy,
        test_roc_auc_averaging: metrics::auc::averaging(classes).to_string(),
        test_classes_absent: detail.classes_absent,
        per_class: detail.view,
        history: run.history,
        hits,
    }
}

/// A weights source that names a file on this machine: its size.
fn file_size(source: &str) -> Option<u64> {
    let path = Path::new(source);
    path.is_file()
        .then(|| std::fs::metadata(path).ok().map(|m| m.len()))
        .flatten()
}

fn compare_with_baselines(rows: &mut [Row]) {
    let baselines: Vec<usize> = rows
        .iter()
        .map(|row| {
            let same_head = |r: &&Row| r.head == row.head;
            let kind: Vec<usize> = (0..rows.len()).filter(|&i| same_head(&&rows[i])).collect();
            kind.iter()
                .copied()
                .find(|&i| rows[i].variant.eq_ignore_ascii_case("b0"))
                .unwrap_or(kind[0])
        })
        .collect();
    let snapshot: Vec<(String, f64, f64, Option<f64>)> = rows
        .iter()
        .map(|r| (r.run.clone(), r.test_loss, r.test_accuracy, r.total_seconds))
        .collect();
    for (row, &baseline) in rows.iter_mut().zip(&baselines) {
        let (name, loss, accuracy, seconds) = &snapshot[baseline];
        row.baseline = name.clone();
        row.test_loss_difference = row.test_loss - loss;
        row.test_accuracy_difference = row.test_accuracy - accuracy;
        row.time_ratio = match (row.total_seconds, seconds) {
            (Some(ours), Some(theirs)) if *theirs > 0.0 => Some(ours / theirs),
            _ => None,
        };
    }
}

/// Retraining through the backbone costs its seconds × epochs. The full-batch
/// solver has no epochs: its rows count the comparison's Adam epochs (a
/// fine-tune's epochs are its own, and not lent).
fn retraining_estimates(rows: &mut [Row], notes: &mut Vec<String>) {
    let adam_epochs = rows
        .iter()
        .filter(|r| r.head == "adam")
        .map(|r| r.epochs)
        .max();
    let mut borrowed = false;
    for row in rows.iter_mut() {
        if row.is_full_batch() {
            row.epochs = adam_epochs.unwrap_or(SEED_EPOCHS);
            borrowed = true;
        }
        row.estimated_retraining_seconds = row.extraction_seconds.map(|s| s * row.epochs as f64);
    }
    if borrowed {
        notes.push(match adam_epochs {
            Some(epochs) => format!("The full-batch solver has no epochs: its retraining estimate counts the Adam heads' {epochs}."),
            None => format!("The full-batch solver has no epochs: its retraining estimate counts the seed's {SEED_EPOCHS}."),
        });
    }
}

/// The seed's head trained 10 epochs.
pub const SEED_EPOCHS: usize = 10;

/// McNemar against the previous model of the same head kind (rows are sorted by
/// head kind, then variant).
fn compare_with_previous(rows: &mut [Row]) {
    for i in 1..rows.len() {
        if rows[i].head != rows[i - 1].head {
            continue;
        }
        let previous = &rows[i - 1];
        rows[i].versus_previous = stats::paired(&rows[i].hits, &previous.hits, &previous.run);
    }
}

/// The split every row was scored on (`test`, `val`), or `evaluation` when they differ.
fn evaluation_split_of(rows: &[Row]) -> String {
    let first = rows
        .first()
        .map(|r| r.evaluation_split.clone())
        .unwrap_or_default();
    if rows.iter().all(|r| r.evaluation_split == first) {
        first
    } else {
        "evaluation".to_string()
    }
}
