use plotters::coord::Shift;
use plotters::prelude::*;

use super::draw::{bar_panel, empty_panel, Bars, DrawResult, BLUE, GREEN, ORANGE, PURPLE};
use crate::format;
use crate::known;
use crate::plots::capitalized;
use crate::table::{Row, Table};

/// Weights size (MB) and parameter count (millions), one bar per variant.
pub fn size_and_parameters<DB: DrawingBackend>(
    table: &Table,
    root: &DrawingArea<DB, Shift>,
) -> DrawResult {
    let mut variants: Vec<&Row> = Vec::new();
    for row in &table.rows {
        if !variants.iter().any(|r| r.variant == row.variant) {
            variants.push(row);
        }
    }
    let panels = root.split_evenly((1, 2));
    let known_values = |value: fn(&Row) -> Option<f64>| -> (Vec<String>, Vec<f64>) {
        variants
            .iter()
            .filter_map(|row| Some((known::short_name(&row.variant), value(row)?)))
            .unzip()
    };

    let (labels, sizes) = known_values(|r| r.weights_bytes.map(|b| b as f64 / 1e6));
    if sizes.is_empty() {
        empty_panel(
            &panels[0],
            "Weights file size",
            "not recorded in the feature files",
        )?;
    } else {
        bar_panel(
            &panels[0],
            &Bars {
                title: "Weights file size",
                y_label: "MB",
                labels: &labels,
                values: &sizes,
                color: PURPLE,
                value_text: &|v| format::fixed(v, 1),
                y_range: None,
                intervals: None,
                log: false,
            },
        )?;
    }

    let (labels, parameters) = known_values(|r| r.parameters.map(|p| p as f64 / 1e6));
    if parameters.is_empty() {
        empty_panel(&panels[1], "Parameters", "unknown for these variants")
    } else {
        bar_panel(
            &panels[1],
            &Bars {
                title: "Backbone parameters",
                y_label: "millions",
                labels: &labels,
                values: &parameters,
                color: GREEN,
                value_text: &|v| format::fixed(v, 2),
                y_range: None,
                intervals: None,
                log: false,
            },
        )
    }
}

/// Evaluation accuracy and log-loss, one bar per run.
pub fn accuracy_and_loss<DB: DrawingBackend>(
    table: &Table,
    root: &DrawingArea<DB, Shift>,
) -> DrawResult {
    let mixed = table.mixed_heads();
    let labels: Vec<String> = table.rows.iter().map(|r| r.label(mixed)).collect();
    let split = table.evaluation_split();
    let panels = root.split_evenly((1, 2));
    let accuracies: Vec<f64> = table.rows.iter().map(|r| r.test_accuracy).collect();
    let accuracy_intervals: Vec<Option<(f64, f64)>> = table
        .rows
        .iter()
        .map(|r| r.test_accuracy_interval.map(|i| (i.low, i.high)))
        .collect();
    bar_panel(
        &panels[0],
        &Bars {
            title: &format!("{} accuracy (95% Wilson)", capitalized(&split)),
            y_label: "accuracy",
            labels: &labels,
            values: &accuracies,
            intervals: Some(&accuracy_intervals),
            color: BLUE,
            value_text: &format::decimal4,
            y_range: Some((0.0, 1.15)),
            log: false,
        },
    )?;
    let losses: Vec<f64> = table.rows.iter().map(|r| r.test_loss).collect();
    let loss_intervals: Vec<Option<(f64, f64)>> = table
        .rows
        .iter()
        .map(|r| r.test_loss_interval.map(|i| (i.low, i.high)))
        .collect();
    bar_panel(
        &panels[1],
        &Bars {
            title: &format!("{} log-loss (95% bootstrap)", capitalized(&split)),
            y_label: "log-loss",
            labels: &labels,
            values: &losses,
            intervals: Some(&loss_intervals),
            color: ORANGE,
            value_text: &|v| format::significant3(v),
            y_range: None,
            log: super::ticks::spans_decades(losses.iter().copied()),
        },
    )
}
