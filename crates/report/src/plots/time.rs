use plotters::coord::Shift;
use plotters::prelude::*;

use super::draw::{
    category_formatter, error, label_style, small_style, text_above, title_style, DrawResult, BLUE,
    ORANGE, RED,
};
use crate::format;
use crate::table::Table;

/// Per run, ours (extraction once + head training, stacked) beside the estimated
/// cost of retraining through the backbone every epoch.
pub fn time<DB: DrawingBackend>(table: &Table, root: &DrawingArea<DB, Shift>) -> DrawResult {
    let mixed = table.mixed_heads();
    let labels: Vec<String> = table.rows.iter().map(|r| r.label(mixed)).collect();
    let count = labels.len().max(1);
    let top = table
        .rows
        .iter()
        .map(|r| {
            r.estimated_retraining_seconds
                .unwrap_or(0.0)
                .max(r.total_seconds)
        })
        .fold(0.0, f64::max);
    let y_top = if top > 0.0 { top * 1.4 } else { 1.0 };

    let mut chart = ChartBuilder::on(root)
        .caption(
            "Time per variant: ours against retraining through the backbone (estimate)",
            title_style(),
        )
        .margin(14)
        .x_label_area_size(36)
        .y_label_area_size(80)
        .build_cartesian_2d(-0.5..count as f64 - 0.5, 0.0..y_top)
        .map_err(error)?;
    let formatter = category_formatter(&labels);
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(count)
        .x_label_formatter(&formatter)
        .y_desc("seconds")
        .label_style(label_style())
        .axis_desc_style(label_style())
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(error)?;

    let ours_left = |i: usize| i as f64 - 0.38;
    let ours_right = |i: usize| i as f64 - 0.02;
    let extraction: Vec<(usize, f64)> = table
        .rows
        .iter()
        .enumerate()
        .filter_map(|(i, r)| Some((i, r.extraction_seconds?)))
        .collect();
    if !extraction.is_empty() {
        chart
            .draw_series(extraction.iter().map(|&(i, s)| {
                Rectangle::new([(ours_left(i), 0.0), (ours_right(i), s)], BLUE.filled())
            }))
            .map_err(error)?
            .label("ours: extraction, once per image")
            .legend(|(x, y)| Rectangle::new([(x, y - 6), (x + 16, y + 6)], BLUE.filled()));
    }
    chart
        .draw_series(table.rows.iter().enumerate().map(|(i, r)| {
            let base = r.extraction_seconds.unwrap_or(0.0);
            Rectangle::new(
                [(ours_left(i), base), (ours_right(i), base + r.head_seconds)],
                ORANGE.filled(),
            )
        }))
        .map_err(error)?
        .label("ours: head training on cached features")
        .legend(|(x, y)| Rectangle::new([(x, y - 6), (x + 16, y + 6)], ORANGE.filled()));
    chart
        .draw_series(table.rows.iter().enumerate().map(|(i, r)| {
            text_above(
                ((ours_left(i) + ours_right(i)) / 2.0, r.total_seconds),
                y_top * 0.01,
                format::seconds(r.total_seconds),
            )
        }))
        .map_err(error)?;

    let estimates: Vec<(usize, f64, usize)> = table
        .rows
        .iter()
        .enumerate()
        .filter_map(|(i, r)| Some((i, r.estimated_retraining_seconds?, r.epochs)))
        .collect();
    if !estimates.is_empty() {
        let epochs = estimates[0].2;
        let same_epochs = estimates.iter().all(|e| e.2 == epochs);
        let label = if same_epochs {
            format!(
                "estimate: backbone seconds × {epochs} epochs (retraining through the backbone)"
            )
        } else {
            "estimate: backbone seconds × epochs (retraining through the backbone)".to_string()
        };
        chart
            .draw_series(estimates.iter().map(|&(i, s, _)| {
                Rectangle::new(
                    [(i as f64 + 0.02, 0.0), (i as f64 + 0.38, s)],
                    RED.mix(0.45).filled(),
                )
            }))
            .map_err(error)?
            .label(label)
            .legend(|(x, y)| Rectangle::new([(x, y - 6), (x + 16, y + 6)], RED.mix(0.45).filled()));
        chart
            .draw_series(estimates.iter().map(|&(i, s, _)| {
                text_above(
                    (i as f64 + 0.2, s),
                    y_top * 0.01,
                    format!("~{}", format::seconds(s)),
                )
            }))
            .map_err(error)?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .label_font(small_style())
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK.mix(0.3))
        .draw()
        .map_err(error)
}
