//! The human-readable table: headers and formatted cells, shared by the markdown
//! and HTML writers so both always show the same numbers.

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
    let headers = [
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
        "ROC-AUC [95%]".to_string(),
        "F1".to_string(),
        "extraction".to_string(),
        "head".to_string(),
        "total".to_string(),
        "time ratio".to_string(),
    ]
    .to_vec();
    let rows = table.rows.iter().map(row_cells).collect();
    Cells { headers, rows }
}

fn row_cells(row: &Row) -> Vec<String> {
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
    vec![
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
        optional(
            row.test_roc_auc
                .map(|auc| with_interval(format::decimal4(auc), row.test_roc_auc_interval)),
        ),
        format::decimal4(row.test_f1),
        optional(row.extraction_seconds.map(format::duration)),
        format::duration(row.head_seconds),
        optional(row.total_seconds.map(format::duration)),
        optional(row.time_ratio.map(format::ratio)),
    ]
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
