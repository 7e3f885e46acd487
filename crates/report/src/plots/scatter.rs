use plotters::coord::Shift;
use plotters::prelude::*;

use super::draw::{
    empty_panel, error, label_style, small_style, text_above, title_style, DrawResult, PALETTE,
    VALUE_TICKS,
};
use super::ticks::Axis;
use crate::known;
use crate::plots::capitalized;
use crate::table::{head_noun, Table};

/// Accuracy (y) against the backbone's parameters in millions (x), a series per head kind.
pub fn accuracy_vs_parameters<DB: DrawingBackend>(
    table: &Table,
    root: &DrawingArea<DB, Shift>,
) -> DrawResult {
    let split = table.evaluation_split();
    let title = format!("{} accuracy against parameters", capitalized(&split));
    let points: Vec<(f64, f64, &str, String)> = table
        .rows
        .iter()
        .filter_map(|r| {
            Some((
                r.parameters? as f64 / 1e6,
                r.test_accuracy,
                r.head.as_str(),
                known::short_name(&r.variant),
            ))
        })
        .collect();
    if points.is_empty() {
        return empty_panel(root, &title, "parameter counts unknown for these variants");
    }
    let x_max = points.iter().map(|p| p.0).fold(0.0, f64::max) * 1.15;
    let y_min = points.iter().map(|p| p.1).fold(1.0, f64::min);
    let y_max = points.iter().map(|p| p.1).fold(0.0, f64::max);
    let pad = ((y_max - y_min) * 0.25).max(0.01);
    let (y_range_start, y_range_end) = ((y_min - pad).max(0.0), (y_max + pad).min(1.0));
    let y_range = y_range_start..y_range_end;
    let lift = (y_range.end - y_range.start) * 0.03;

    let mut chart = ChartBuilder::on(root)
        .caption(&title, title_style())
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(72)
        .build_cartesian_2d(0.0..x_max, y_range)
        .map_err(error)?;
    let x_axis = Axis::new("parameters", 0.0, x_max, VALUE_TICKS, false);
    let y_axis = Axis::new("accuracy", y_range_start, y_range_end, VALUE_TICKS, false);
    chart
        .configure_mesh()
        .x_desc("backbone parameters (millions)")
        .y_desc("accuracy")
        .light_line_style(WHITE.mix(0.0))
        .x_labels(VALUE_TICKS)
        .y_labels(VALUE_TICKS)
        .x_label_formatter(&|x| x_axis.label(x))
        .y_label_formatter(&|y| y_axis.label(y))
        .label_style(label_style())
        .axis_desc_style(label_style())
        .draw()
        .map_err(error)?;

    let mut heads: Vec<&str> = points.iter().map(|p| p.2).collect();
    heads.dedup();
    for (index, head) in heads.iter().enumerate() {
        let color = PALETTE[index % PALETTE.len()];
        let series: Vec<(f64, f64)> = points
            .iter()
            .filter(|p| p.2 == *head)
            .map(|p| (p.0, p.1))
            .collect();
        chart
            .draw_series(LineSeries::new(series.clone(), color.stroke_width(2)))
            .map_err(error)?
            .label(head_noun(head))
            .legend(move |(x, y)| Circle::new((x + 10, y), 5, color.filled()));
        chart
            .draw_series(series.iter().map(|&p| Circle::new(p, 6, color.filled())))
            .map_err(error)?;
    }
    chart
        .draw_series(
            points
                .iter()
                .map(|p| text_above((p.0, p.1), lift, p.3.clone())),
        )
        .map_err(error)?;
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .label_font(small_style())
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK.mix(0.3))
        .draw()
        .map_err(error)?;
    Ok(())
}
