//! The human-readable table: headers and formatted cells, shared by the markdown
//! and HTML writers so both always show the same numbers.

use contract::metrics::TOP_K;

use crate::format::{self, MISSING};
use crate::table::{head_label, Row, Table};

pub struct Cells {
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// Columns that hold numbers (right-aligned).
pub fn is_numeric_column(index: usize) -> bool {
    index >= 2
}

pub fn cells(table: &Table) -> Cells {
    let split = table.evaluation_split();
    let columns = Columns::of(table);
    let mut headers = vec![
        "model".to_string(),
        "head".to_string(),
        "image size".to_string(),
        "batch size".to_string(),
        "weights size".to_string(),
        "parameters".to_string(),
        format!("{split} loss [95%]"),
        "Δ loss".to_string(),
        format!("{split} accuracy [95%]"),
        "Δ accuracy".to_string(),
        "vs previous".to_string(),
    ];
    if columns.top5 {
        headers.push(format!("{split} top-5 accuracy [95%]"));
    }
    if columns.many_classes {
        headers.push("balanced accuracy".to_string());
        headers.push("ROC-AUC macro OvR [95%]".to_string());
        headers.push("macro-F1".to_string());
    } else {
        headers.push("ROC-AUC [95%]".to_string());
        headers.push("F1".to_string());
    }
    headers.extend(
        ["extraction", "head", "total", "time ratio"]
            .iter()
            .map(|h| h.to_string()),
    );
    let rows = table.rows.iter().map(|r| row_cells(r, columns)).collect();
    Cells { headers, rows }
}

/// Which columns the table has beyond the two-class ones.
#[derive(Clone, Copy, Debug)]
struct Columns {
    /// More than two classes: balanced accuracy, and macro-F1 and macro ROC-AUC named so.
    many_classes: bool,
    /// More than five classes: top-5 accuracy.
    top5: bool,
}

impl Columns {
    fn of(table: &Table) -> Self {
        let classes = table.classes();
        Columns {
            many_classes: classes > 2,
            top5: classes > TOP_K,
        }
    }
}

fn row_cells(row: &Row, columns: Columns) -> Vec<String> {
    let is_baseline = row.run == row.baseline;
    let difference = |value: f64| {
        if is_baseline {
            MISSING.to_string()
        } else {
            format::signed4(value)
        }
    };
    let optional = |value: Option<String>| value.unwrap_or_else(|| MISSING.to_string());
    let with_interval = |value: String, interval: Option<crate::stats::Interval>| match interval {
        Some(i) => format!("{value} {}", format::interval(i.low, i.high)),
        None => value,
    };
    let versus_previous = match &row.versus_previous {
        Some(test) if test.distinguishable => format!("p = {}", format::p_value(test.p_value)),
        Some(test) => format!("≈ (p = {})", format::p_value(test.p_value)),
        None => MISSING.to_string(),
    };
    let mut cells = vec![
        row.model.clone(),
        head_label(&row.head).to_string(),
        format!("{0}×{0}", row.image_size),
        match row.batch_size {
            Some(size) => format::thousands(size as u64),
            None => "full".to_string(),
        },
        optional(row.weights_bytes.map(format::megabytes)),
        optional(row.parameters.map(format::thousands)),
        with_interval(format::decimal4(row.test_loss), row.test_loss_interval),
        difference(row.test_loss_difference),
        with_interval(
            format::decimal4(row.test_accuracy),
            row.test_accuracy_interval,
        ),
        difference(row.test_accuracy_difference),
        versus_previous,
    ];
    if columns.top5 {
        cells.push(optional(row.test_top5_accuracy.map(|top5| {
            with_interval(format::decimal4(top5), row.test_top5_accuracy_interval)
        })));
    }
    if columns.many_classes {
        cells.push(format::decimal4(row.test_balanced_accuracy));
    }
    cells.push(optional(row.test_roc_auc.map(|auc| {
        with_interval(format::decimal4(auc), row.test_roc_auc_interval)
    })));
    cells.push(format::decimal4(if columns.many_classes {
        row.test_macro_f1
    } else {
        row.test_f1
    }));
    cells.extend([
        optional(row.extraction_seconds.map(format::duration)),
        format::duration(row.head_seconds),
        optional(row.total_seconds.map(format::duration)),
        optional(row.time_ratio.map(format::ratio)),
    ]);
    cells
}

/// Sentences under the table: what the baseline is, where numbers come from, caveats.
pub fn footnotes(table: &Table) -> Vec<String> {
    let mut notes = Vec::new();
    let mut baselines: Vec<&str> = table.rows.iter().map(|r| r.baseline.as_str()).collect();
    baselines.dedup();
    notes.push(format!(
        "Δ and time ratio are against {} (B0 of the same head kind, else its first row).",
        baselines
            .iter()
            .map(|b| format!("`{b}`"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    let split = table.evaluation_split();
    notes.push(format!(
        "[95%]: accuracy's Wilson score interval; loss's and ROC-AUC's percentile bootstrap over \
         the {split} rows (2,000 resamples, fixed seed). vs previous: McNemar's exact test against \
         the row above of the same head kind, on the same {split} images; ≈ marks neighbours it \
         cannot tell apart (p ≥ 0.05)."
    ));
    let classes = table.classes();
    if classes > 2 {
        let top5 = if classes > TOP_K {
            format!(
                "top-5 accuracy: the share of {split} images whose class is among the five most \
                 probable (95% Wilson interval); "
            )
        } else {
            String::new()
        };
        notes.push(format!(
            "{classes} classes: accuracy is top-1 (the most probable class; McNemar compares \
             top-1 hits). {top5}balanced accuracy: the mean recall over the classes in the \
             {split} split; ROC-AUC macro OvR: the mean one-vs-rest AUC over those classes; \
             macro-F1: the mean F1 over the classes present in truth or prediction. Per class: \
             report.html's tables and report.csv's per_class columns."
        ));
    }
    absent_classes_notes(table, &split, &mut notes);
    notes.push(
        "extraction: the backbone's forward pass over every image, once (seconds per image \
         measured when the features were computed, recorded with them, × images; a run served \
         from the cache keeps that cost); head: head-train's training time over the cached \
         features; total = extraction + head, unknown (–) when extraction is."
            .to_string(),
    );
    if table.rows.iter().any(Row::is_fine_tune) {
        notes.push(
            "top-N fine-tune: tune-train trained the last N blocks, the head convolution and a \
             linear classifier over activations cached by the same extraction pass (AdamW); its \
             head time is that training, every candidate of a sweep included."
                .to_string(),
        );
    }
    if let Some(extraction) = table.extraction.as_ref().filter(|e| e.decoded == 0) {
        notes.push(format!(
            "The last extract run decoded none of the {} images: every feature came from its cache.",
            format::thousands(extraction.images as u64)
        ));
    } else if let Some(extraction) = &table.extraction {
        notes.push(format!(
            "Decoding and resizing is shared by all variants (one decode per image): {} of CPU time for {} images decoded of {}; the extract run took {}.",
            format::duration(extraction.decode_cpu_seconds),
            format::thousands(extraction.decoded as u64),
            format::thousands(extraction.images as u64),
            format::duration(extraction.wall_seconds),
        ));
    }
    if table
        .rows
        .iter()
        .any(|r| r.parameters_source == Some(crate::table::ParameterSource::ReferenceTable))
    {
        notes.push(
            "parameters: the backbone without its classifier; where the feature file does not record it, \
             the count of the reference implementation (torchvision 0.26 B0..B7, timm 1.0.31 Lite0..Lite4)."
                .to_string(),
        );
    }
    notes.extend(table.notes.iter().cloned());
    notes
}

/// A class without an image in the evaluation split, said once per set of
/// runs it concerns.
fn absent_classes_notes(table: &Table, split: &str, notes: &mut Vec<String>) {
    let mut groups: Vec<(&[String], Vec<&str>)> = Vec::new();
    for row in table
        .rows
        .iter()
        .filter(|r| !r.test_classes_absent.is_empty())
    {
        match groups
            .iter_mut()
            .find(|(absent, _)| *absent == row.test_classes_absent.as_slice())
        {
            Some((_, runs)) => runs.push(&row.run),
            None => groups.push((&row.test_classes_absent, vec![&row.run])),
        }
    }
    for (absent, runs) in groups {
        let whom = if runs.len() == table.rows.len() {
            "every run".to_string()
        } else {
            runs.iter()
                .map(|r| format!("`{r}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let shown = 12;
        let mut names: Vec<String> = absent.iter().take(shown).cloned().collect();
        if absent.len() > shown {
            names.push(format!("and {} more", absent.len() - shown));
        }
        notes.push(format!(
            "The {split} split has no image of {} class(es) ({whom}): {}. Their recall is \
             undefined (–), and balanced accuracy and ROC-AUC leave them out.",
            absent.len(),
            names.join(", ")
        ));
    }
}
