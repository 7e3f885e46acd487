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

/// A run's place on the plot.
struct Point<'a> {
    parameters_millions: f64,
    accuracy: f64,
    head: &'a str,
    family: Option<&'a str>,
    label: String,
}

/// The lines of one head kind: each scaling family's runs joined in order of size
/// (B0..B7, Lite0..Lite4). Other backbones stand alone: a line from one
/// architecture to an unrelated one would draw a trend that is not there.
fn family_lines(points: &[&Point]) -> Vec<Vec<(f64, f64)>> {
    let mut families: Vec<&str> = points.iter().filter_map(|p| p.family).collect();
    families.sort_unstable();
    families.dedup();
    families
        .into_iter()
        .map(|family| {
            let mut line: Vec<(f64, f64)> = points
                .iter()
                .filter(|p| p.family == Some(family))
                .map(|p| (p.parameters_millions, p.accuracy))
                .collect();
            line.sort_by(|a, b| a.0.total_cmp(&b.0));
            line
        })
        .filter(|line| line.len() > 1)
        .collect()
}

/// Accuracy (y) against the backbone's parameters in millions (x), a colour per
/// head kind, a line through each scaling family.
pub fn accuracy_vs_parameters<DB: DrawingBackend>(
    table: &Table,
    root: &DrawingArea<DB, Shift>,
) -> DrawResult {
    let split = table.evaluation_split();
    let title = format!("{} accuracy against parameters", capitalized(&split));
    let points: Vec<Point> = table
        .rows
        .iter()
        .filter_map(|r| {
            Some(Point {
                parameters_millions: r.parameters? as f64 / 1e6,
                accuracy: r.test_accuracy,
                head: r.head.as_str(),
                family: known::scaling_family(&r.model),
                label: known::short_name(&r.variant),
            })
        })
        .collect();
    if points.is_empty() {
        return empty_panel(root, &title, "parameter counts unknown for these variants");
    }
    let x_max = points
        .iter()
        .map(|p| p.parameters_millions)
        .fold(0.0, f64::max)
        * 1.15;
    let y_min = points.iter().map(|p| p.accuracy).fold(1.0, f64::min);
    let y_max = points.iter().map(|p| p.accuracy).fold(0.0, f64::max);
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

    let mut heads: Vec<&str> = points.iter().map(|p| p.head).collect();
    heads.dedup();
    for (index, head) in heads.iter().enumerate() {
        let color = PALETTE[index % PALETTE.len()];
        let runs: Vec<&Point> = points.iter().filter(|p| p.head == *head).collect();
        for line in family_lines(&runs) {
            chart
                .draw_series(LineSeries::new(line, color.stroke_width(2)))
                .map_err(error)?;
        }
        chart
            .draw_series(
                runs.iter()
                    .map(|p| Circle::new((p.parameters_millions, p.accuracy), 6, color.filled())),
            )
            .map_err(error)?
            .label(head_noun(head))
            .legend(move |(x, y)| Circle::new((x + 10, y), 5, color.filled()));
    }
    chart
        .draw_series(
            points
                .iter()
                .map(|p| text_above((p.parameters_millions, p.accuracy), lift, p.label.clone())),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn point(model: &str, parameters_millions: f64, accuracy: f64) -> Point<'_> {
        Point {
            parameters_millions,
            accuracy,
            head: "lbfgs",
            family: known::scaling_family(model),
            label: model.to_string(),
        }
    }

    #[test]
    fn lines_join_a_family_in_order_of_size_and_leave_other_backbones_alone() {
        let points = [
            point("EfficientNet-Lite1", 4.1, 0.90),
            point("resnet18 (r18)", 11.2, 0.61),
            point("vit_tiny_patch16_224 (vit)", 5.5, 0.63),
            point("EfficientNet-Lite0", 3.4, 0.95),
            point("EfficientNet-B0", 4.0, 0.93),
            point("efficientnet_b3 (b3)", 10.7, 0.94),
        ];
        let runs: Vec<&Point> = points.iter().collect();
        assert_eq!(family_lines(&runs), vec![vec![(3.4, 0.95), (4.1, 0.90)]]);
        let b = [
            point("EfficientNet-B2", 7.7, 0.9),
            point("EfficientNet-B0", 4.0, 0.8),
        ];
        let runs: Vec<&Point> = b.iter().collect();
        assert_eq!(family_lines(&runs), vec![vec![(4.0, 0.8), (7.7, 0.9)]]);
    }
}
