use plotters::coord::Shift;
use plotters::prelude::*;

use super::draw::{
    category_formatter, error, label_style, small_style, text_above, title_style, DrawResult, BLUE,
    ORANGE, RED, VALUE_TICKS,
};
use super::ticks::Axis;
use crate::format;
use crate::known;
use crate::table::{Row, Table};

/// Per run, ours (extraction once + head training, stacked) beside the estimated
/// cost of retraining through the backbone every epoch, and the seed's own
/// training time where it published one; minutes once anything passes 3.
pub fn time<DB: DrawingBackend>(table: &Table, root: &DrawingArea<DB, Shift>) -> DrawResult {
    let mixed = table.mixed_heads();
    let labels: Vec<String> = table.rows.iter().map(|r| r.label(mixed)).collect();
    let count = labels.len().max(1);
    let seed: Vec<Option<f64>> = table
        .rows
        .iter()
        .map(|r| known::seed_training_minutes(&r.variant).map(|m| m * 60.0))
        .collect();
    let top_seconds = table
        .rows
        .iter()
        .zip(&seed)
        .map(|(r, s)| {
            r.estimated_retraining_seconds
                .unwrap_or(0.0)
                .max(r.total_seconds.unwrap_or(r.head_seconds))
                .max(s.unwrap_or(0.0))
        })
        .fold(0.0, f64::max);
    let minutes = top_seconds > 180.0;
    let unit = if minutes { 60.0 } else { 1.0 };
    let y_top = if top_seconds > 0.0 {
        top_seconds / unit * 1.4
    } else {
        1.0
    };
    let y_name = if minutes { "minutes" } else { "seconds" };
    let axis = Axis::new(y_name, 0.0, y_top, VALUE_TICKS, false);

    let mut chart = ChartBuilder::on(root)
        .caption(
            "Time per variant: ours against retraining through the backbone",
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
        .y_labels(VALUE_TICKS)
        .y_label_formatter(&|v| axis.label(v))
        .y_desc(y_name)
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
        .filter_map(|(i, r)| Some((i, r.extraction_seconds? / unit)))
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
            let base = r.extraction_seconds.unwrap_or(0.0) / unit;
            Rectangle::new(
                [
                    (ours_left(i), base),
                    (ours_right(i), base + r.head_seconds / unit),
                ],
                ORANGE.filled(),
            )
        }))
        .map_err(error)?
        .label(if table.rows.iter().any(Row::is_fine_tune) {
            "ours: training on cached features (head; fine-tune: top blocks + head)"
        } else {
            "ours: head training on cached features"
        })
        .legend(|(x, y)| Rectangle::new([(x, y - 6), (x + 16, y + 6)], ORANGE.filled()));
    chart
        .draw_series(table.rows.iter().enumerate().map(|(i, r)| {
            let (height, text) = match r.total_seconds {
                Some(total) => (total, format::duration(total)),
                None => (r.head_seconds, "head only".to_string()),
            };
            text_above(
                ((ours_left(i) + ours_right(i)) / 2.0, height / unit),
                y_top * 0.01,
                text,
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
            format!("estimate: backbone time × {epochs} epochs (retraining through the backbone)")
        } else {
            "estimate: backbone time × epochs (retraining through the backbone)".to_string()
        };
        chart
            .draw_series(estimates.iter().map(|&(i, s, _)| {
                Rectangle::new(
                    [(i as f64 + 0.02, 0.0), (i as f64 + 0.38, s / unit)],
                    RED.mix(0.45).filled(),
                )
            }))
            .map_err(error)?
            .label(label)
            .legend(|(x, y)| Rectangle::new([(x, y - 6), (x + 16, y + 6)], RED.mix(0.45).filled()));
        chart
            .draw_series(estimates.iter().map(|&(i, s, _)| {
                text_above(
                    (i as f64 + 0.2, s / unit),
                    y_top * 0.01,
                    format!("~{}", format::duration(s)),
                )
            }))
            .map_err(error)?;
    }
    let published: Vec<(usize, f64)> = seed
        .iter()
        .enumerate()
        .filter_map(|(i, s)| Some((i, (*s)? / unit)))
        .collect();
    if !published.is_empty() {
        chart
            .draw_series(
                published
                    .iter()
                    .map(|&(i, s)| Cross::new((i as f64 + 0.2, s), 9, BLACK.stroke_width(3))),
            )
            .map_err(error)?
            .label("the seed's training time (its article, GPU, 10 epochs)")
            .legend(|(x, y)| Cross::new((x + 8, y), 6, BLACK.stroke_width(3)));
        chart
            .draw_series(published.iter().map(|&(i, s)| {
                text_above(
                    (i as f64 + 0.2, s),
                    y_top * 0.025,
                    format!("seed {}", format::duration(s * unit)),
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
