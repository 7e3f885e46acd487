//! The comparison table: one row per head-train run, with differences and time
//! ratios against a baseline row (B0 of the same head kind, else that kind's first row).

use std::path::Path;

use serde::Serialize;

use crate::inputs::{FeatureIndex, HeadRun, HistoryRow, RunRecord};
use crate::known;

#[derive(Clone, Debug, Serialize)]
pub struct Table {
    pub rows: Vec<Row>,
    /// Present when the features folder held extract's `run.json`.
    pub extraction: Option<ExtractionSummary>,
    /// Caveats worth reading next to the numbers (cache hits, missing metadata).
    pub notes: Vec<String>,
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

#[derive(Clone, Debug, Serialize)]
pub struct Row {
    /// The run folder's name.
    pub run: String,
    pub variant: String,
    pub model: String,
    /// `adam` or `lbfgs` (head-train's `--optimizer`).
    pub head: String,
    /// The run this row's differences and ratio are against.
    pub baseline: String,
    pub image_size: u32,
    /// Head training batch size; null for the full-batch solver.
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
    pub test_loss_difference: f64,
    pub test_accuracy: f64,
    pub test_accuracy_difference: f64,
    pub test_roc_auc: Option<f64>,
    pub test_f1: f64,
    /// The backbone's forward passes over every image, once: the feature file's
    /// measured seconds per image × its rows, else extract's `backbone_seconds`.
    pub extraction_seconds: Option<f64>,
    /// Images that time covers: every row, or those the last extract run computed.
    pub extraction_images: Option<usize>,
    /// head-train's `training_seconds` (every candidate and any refit).
    pub head_seconds: f64,
    /// Extraction + head.
    pub total_seconds: f64,
    /// `total_seconds` over the baseline's.
    pub time_ratio: Option<f64>,
    /// Epochs the head trained (Adam), or `--epochs` for the full-batch solver.
    pub epochs: usize,
    /// Estimate: extraction seconds × epochs, what retraining through the frozen
    /// backbone every epoch (the seed's way) would have cost.
    pub estimated_retraining_seconds: Option<f64>,
    #[serde(skip)]
    pub history: Vec<HistoryRow>,
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
        self.head == "lbfgs"
    }
}

pub fn head_label(head: &str) -> &str {
    match head {
        "adam" => "Adam",
        "lbfgs" => "L-BFGS",
        other => other,
    }
}

/// What the report knows of the features, when given a features folder.
#[derive(Clone, Debug, Default)]
pub struct FeatureSources {
    pub index: FeatureIndex,
    pub record: Option<RunRecord>,
}

impl Table {
    pub fn mixed_heads(&self) -> bool {
        self.rows.iter().any(|r| r.head != self.rows[0].head)
    }

    pub fn evaluation_split(&self) -> String {
        let first = self
            .rows
            .first()
            .map(|r| r.evaluation_split.clone())
            .unwrap_or_default();
        if self.rows.iter().all(|r| r.evaluation_split == first) {
            first
        } else {
            "evaluation".to_string()
        }
    }

    pub fn build(runs: Vec<HeadRun>, features: Option<&FeatureSources>) -> Table {
        let mut notes = Vec::new();
        let mut rows: Vec<Row> = runs
            .into_iter()
            .map(|run| row(run, features, &mut notes))
            .collect();
        rows.sort_by(|a, b| {
            (&a.head, known::variant_rank(&a.variant), &a.variant, &a.run).cmp(&(
                &b.head,
                known::variant_rank(&b.variant),
                &b.variant,
                &b.run,
            ))
        });
        compare_with_baselines(&mut rows);
        if let Some(sources) = features {
            for (path, reason) in &sources.index.skipped {
                notes.push(format!(
                    "{} is not a feature file: {reason}",
                    path.display()
                ));
            }
        }
        Table {
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
    let chosen_epochs = metrics.chosen_candidate().map_or(0, |c| c.epochs);
    let head = metrics.options.optimizer.as_str().to_string();
    let epochs = if chosen_epochs > 0 {
        chosen_epochs
    } else {
        metrics.options.epochs
    };

    let feature_info = features.and_then(|f| f.index.find(&variant, blake3));
    let extract = features
        .and_then(|f| f.record.as_ref())
        .and_then(|r| r.variant(&variant, blake3));
    if features.is_some() && extract.is_none() {
        notes.push(format!(
            "{}: the features folder's run.json has no record of {variant} with these weights; extraction time unknown",
            run.name
        ));
    }
    let measured = feature_info.and_then(|f| Some((f.meta.backbone_seconds_per_image()?, f.rows)));
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
    Row {
        run: run.name.clone(),
        model: known::display_name(&variant),
        variant,
        baseline: String::new(),
        image_size: run.head.input_size,
        batch_size: (head != "lbfgs").then_some(metrics.options.batch_size),
        head,
        extract_batch_size: extract.map(|r| r.batch_size),
        weights_bytes,
        parameters,
        parameters_source,
        evaluation_split: evaluation.split,
        evaluation_rows: evaluation.rows,
        test_loss: evaluation.log_loss,
        test_loss_difference: 0.0,
        test_accuracy: evaluation.accuracy,
        test_accuracy_difference: 0.0,
        test_roc_auc: evaluation.roc_auc,
        test_f1: evaluation.f1,
        extraction_seconds,
        extraction_images,
        head_seconds,
        total_seconds: extraction_seconds.unwrap_or(0.0) + head_seconds,
        time_ratio: None,
        epochs,
        estimated_retraining_seconds: extraction_seconds.map(|s| s * epochs as f64),
        history: run.history,
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
    let snapshot: Vec<(String, f64, f64, f64)> = rows
        .iter()
        .map(|r| (r.run.clone(), r.test_loss, r.test_accuracy, r.total_seconds))
        .collect();
    for (row, &baseline) in rows.iter_mut().zip(&baselines) {
        let (name, loss, accuracy, seconds) = &snapshot[baseline];
        row.baseline = name.clone();
        row.test_loss_difference = row.test_loss - loss;
        row.test_accuracy_difference = row.test_accuracy - accuracy;
        row.time_ratio = (*seconds > 0.0).then(|| row.total_seconds / seconds);
    }
}
