use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::draw::{error, label_style, small_style, title_style, DrawResult, BLUE, FONT, ORANGE};
use super::ticks;
use crate::table::{head_noun, Row, Table};

/// Panels per line of the grid.
pub const COLUMNS: u32 = 3;
const LEGEND_HEIGHT: u32 = 70;

/// One panel per run: loss (left axis, solid) and accuracy (right axis, dashed),
/// train in blue and validation in orange.
pub fn history<DB: DrawingBackend>(table: &Table, root: &DrawingArea<DB, Shift>) -> DrawResult {
    let (top, grid) = root.split_vertically(LEGEND_HEIGHT);
    legend(&top)?;
    let rows = (table.rows.len() as u32).div_ceil(COLUMNS).max(1);
    let panels = grid.split_evenly((rows as usize, COLUMNS as usize));
    let mixed = table.mixed_heads();
    for (row, panel) in table.rows.iter().zip(&panels) {
        run_panel(row, mixed, panel)?;
    }
    Ok(())
}

fn legend<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>) -> DrawResult {
    let (width, _) = area.dim_in_pixel();
    area.draw(&Text::new(
        "Training history: loss and accuracy per epoch",
        (width as i32 / 2, 8),
        title_style().pos(Pos::new(HPos::Center, VPos::Top)),
    ))
    .map_err(error)?;
    let entries = [
        ("train loss", BLUE, false),
        ("val loss", ORANGE, false),
        ("train accuracy", BLUE, true),
        ("val accuracy", ORANGE, true),
    ];
    let mut x = width as i32 / 2 - 330;
    let y = 50;
    for (name, color, dashed) in entries {
        let style = color.stroke_width(3);
        if dashed {
            area.draw(&PathElement::new(vec![(x, y), (x + 10, y)], style))
                .map_err(error)?;
            area.draw(&PathElement::new(vec![(x + 18, y), (x + 28, y)], style))
                .map_err(error)?;
        } else {
            area.draw(&PathElement::new(vec![(x, y), (x + 28, y)], style))
                .map_err(error)?;
        }
        area.draw(&Text::new(
            name,
            (x + 36, y),
            label_style().pos(Pos::new(HPos::Left, VPos::Center)),
        ))
        .map_err(error)?;
        x += 165;
    }
    Ok(())
}

fn run_panel<DB: DrawingBackend>(
    row: &Row,
    mixed: bool,
    area: &DrawingArea<DB, Shift>,
) -> DrawResult {
    let history = &row.history;
    let mut title = if mixed {
        format!("{} ({})", row.model, head_noun(&row.head))
    } else {
        row.model.clone()
    };
    if row.refit {
        title.push_str(", before the refit");
    }
    let last_step = history.iter().map(|h| h.step).max().unwrap_or(1).max(1) as f64;
    let first_step = history.iter().map(|h| h.step).min().unwrap_or(0) as f64;
    let losses: Vec<f64> = history
        .iter()
        .flat_map(|h| [h.train_loss, h.val_loss])
        .filter(|v| v.is_finite() && *v > 0.0)
        .collect();
    let loss_max = losses.iter().copied().fold(0.0, f64::max);
    let loss_min = losses.iter().copied().fold(f64::INFINITY, f64::min);
    let log = ticks::spans_decades(losses.iter().copied());
    let (loss_low, loss_high) = if log {
        (loss_min / 2.0, loss_max * 2.0)
    } else {
        (0.0, if loss_max > 0.0 { loss_max * 1.1 } else { 1.0 })
    };
    let step_name = if row.is_full_batch() {
        "iteration"
    } else {
        "epoch"
    };
    let steps = (last_step - first_step) as usize + 1;
    let x_ticks = steps.clamp(2, 6);
    let x_axis = ticks::Axis::new(step_name, first_step, last_step, x_ticks, false);
    let loss_axis = ticks::Axis::new("loss", loss_low, loss_high, 5, log);
    let accuracy_axis = ticks::Axis::new("accuracy", 0.0, 1.0, 5, false);

    let mut builder = ChartBuilder::on(area);
    builder
        .caption(
            &title,
            (FONT, 16).into_font().style(FontStyle::Bold).color(&BLACK),
        )
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(52)
        .right_y_label_area_size(52);
    let points = |value: fn(&crate::inputs::HistoryRow) -> f64| -> Vec<(f64, f64)> {
        history.iter().map(|h| (h.step as f64, value(h))).collect()
    };
    macro_rules! draw {
        ($chart:ident) => {{
            $chart
                .configure_mesh()
                .x_desc(step_name)
                .y_desc(if log { "loss (log)" } else { "loss" })
                .x_labels(x_ticks)
                .y_labels(5)
                .x_label_formatter(&|x| x_axis.label(x))
                .y_label_formatter(&|y| loss_axis.label(y))
                .label_style(small_style())
                .axis_desc_style(small_style())
                .light_line_style(WHITE.mix(0.0))
                .draw()
                .map_err(error)?;
            $chart
                .configure_secondary_axes()
                .y_desc("accuracy")
                .y_labels(5)
                .y_label_formatter(&|y| accuracy_axis.label(y))
                .label_style(small_style())
                .axis_desc_style(small_style())
                .draw()
                .map_err(error)?;
            let clamp = |points: Vec<(f64, f64)>| -> Vec<(f64, f64)> {
                points
                    .into_iter()
                    .map(|(x, y)| (x, y.max(loss_low)))
                    .collect()
            };
            $chart
                .draw_series(LineSeries::new(
                    clamp(points(|h| h.train_loss)),
                    BLUE.stroke_width(2),
                ))
                .map_err(error)?;
            $chart
                .draw_series(LineSeries::new(
                    clamp(points(|h| h.val_loss)),
                    ORANGE.stroke_width(2),
                ))
                .map_err(error)?;
            $chart
                .draw_secondary_series(DashedLineSeries::new(
                    points(|h| h.train_accuracy),
                    6,
                    4,
                    BLUE.stroke_width(2),
                ))
                .map_err(error)?;
            $chart
                .draw_secondary_series(DashedLineSeries::new(
                    points(|h| h.val_accuracy),
                    6,
                    4,
                    ORANGE.stroke_width(2),
                ))
                .map_err(error)?;
        }};
    }
    if log {
        let mut chart = builder
            .build_cartesian_2d(first_step..last_step, (loss_low..loss_high).log_scale())
            .map_err(error)?
            .set_secondary_coord(first_step..last_step, 0.0..1.0);
        draw!(chart);
    } else {
        let mut chart = builder
            .build_cartesian_2d(first_step..last_step, loss_low..loss_high)
            .map_err(error)?
            .set_secondary_coord(first_step..last_step, 0.0..1.0);
        draw!(chart);
    }
    Ok(())
}
