//! Shared drawing pieces: fonts, colours, styles and the category bar panel.

use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

pub type DrawResult = Result<(), String>;

pub fn error<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

pub const FONT: &str = "sans-serif";

/// plotters' `ab_glyph` text needs its fonts registered by name; the SVG keeps
/// the family name and lets the viewer choose, the bitmap uses these.
pub fn register_fonts() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The embedded DejaVu files are valid TrueType: a failure here is a broken build.
        plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular())
            .map_err(|_| ())
            .expect("embedded DejaVu Sans parses");
        plotters::style::register_font(FONT, FontStyle::Bold, dejavu::sans::bold())
            .map_err(|_| ())
            .expect("embedded DejaVu Sans Bold parses");
    });
}

/// Tableau 10, the matplotlib default cycle: readable and colour-blind friendlier.
pub const BLUE: RGBColor = RGBColor(31, 119, 180);
pub const ORANGE: RGBColor = RGBColor(255, 127, 14);
pub const GREEN: RGBColor = RGBColor(44, 160, 44);
pub const RED: RGBColor = RGBColor(214, 39, 40);
pub const PURPLE: RGBColor = RGBColor(148, 103, 189);
pub const PALETTE: [RGBColor; 5] = [BLUE, ORANGE, GREEN, RED, PURPLE];

pub fn title_style() -> TextStyle<'static> {
    (FONT, 22).into_font().style(FontStyle::Bold).color(&BLACK)
}

pub fn label_style() -> TextStyle<'static> {
    (FONT, 15).into_font().color(&BLACK)
}

pub fn small_style() -> TextStyle<'static> {
    (FONT, 13).into_font().color(&BLACK)
}

/// Names for integer positions on an `f64` axis spanning `-0.5..n-0.5`.
pub fn category_formatter(labels: &[String]) -> impl Fn(&f64) -> String + '_ {
    move |x: &f64| {
        let nearest = x.round();
        if (x - nearest).abs() < 1e-6 && nearest >= 0.0 {
            labels.get(nearest as usize).cloned().unwrap_or_default()
        } else {
            String::new()
        }
    }
}

pub struct Bars<'a> {
    pub title: &'a str,
    pub y_label: &'a str,
    pub labels: &'a [String],
    pub values: &'a [f64],
    /// A 95% interval per bar, drawn as an error bar.
    pub intervals: Option<&'a [Option<(f64, f64)>]>,
    pub color: RGBColor,
    pub value_text: &'a dyn Fn(f64) -> String,
    /// Fixed y range; otherwise 0 to 15 % above the largest value (or interval).
    pub y_range: Option<(f64, f64)>,
    /// A log y axis (values spanning decades).
    pub log: bool,
}

/// Ticks asked of plotters on value axes.
pub const VALUE_TICKS: usize = 6;

/// Pixels left and right of a bar panel's plotting area: its margins and the
/// value axis.
const BAR_PANEL_MARGIN: u32 = 12;
const BAR_PANEL_Y_LABELS: u32 = 72;

/// How wide `text` is drawn in `style`, in pixels (a rough guess if the font
/// cannot say).
pub fn text_width(text: &str, style: &TextStyle) -> u32 {
    style
        .font
        .box_size(text)
        .map_or(text.chars().count() as u32 * 9, |(w, _)| w)
}

/// When category labels are too wide to stand side by side under `width` pixels
/// of plotting area (many runs, or `B0 top-1 fine-tune`), the height they need
/// turned upright; `None` when they fit across.
fn upright_labels_height(labels: &[String], width: u32) -> Option<u32> {
    let style = label_style();
    let widest = labels
        .iter()
        .map(|l| text_width(l, &style))
        .max()
        .unwrap_or(0);
    let per_category = width / labels.len().max(1) as u32;
    (widest + 8 > per_category).then_some(widest + 16)
}

/// One bar per category with its value printed above it and, when given, its
/// interval as an error bar.
pub fn bar_panel<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, bars: &Bars) -> DrawResult {
    let count = bars.labels.len().max(1);
    let (area_width, _) = area.dim_in_pixel();
    let plot_width = area_width.saturating_sub(2 * BAR_PANEL_MARGIN + BAR_PANEL_Y_LABELS);
    let upright = upright_labels_height(bars.labels, plot_width);
    let highest = |i: usize| {
        bars.intervals
            .and_then(|intervals| intervals.get(i).copied().flatten())
            .map_or(bars.values[i], |(_, high)| high.max(bars.values[i]))
    };
    let top = (0..bars.values.len()).map(highest).fold(0.0f64, f64::max);
    let smallest = bars
        .values
        .iter()
        .copied()
        .filter(|v| *v > 0.0)
        .fold(f64::INFINITY, f64::min);
    let (low, high) = match (bars.y_range, bars.log) {
        (Some(range), _) => range,
        (None, true) => (smallest / 3.0, top * 3.0),
        (None, false) => (0.0, if top > 0.0 { top * 1.15 } else { 1.0 }),
    };
    let axis = super::ticks::Axis::new(bars.y_label, low, high, VALUE_TICKS, bars.log);
    let no_labels: Vec<String> = Vec::new();
    let formatter = category_formatter(if upright.is_some() {
        &no_labels
    } else {
        bars.labels
    });
    let x_range = -0.5..count as f64 - 0.5;
    let mut builder = ChartBuilder::on(area);
    builder
        .caption(bars.title, title_style())
        .margin(BAR_PANEL_MARGIN)
        .x_label_area_size(upright.unwrap_or(36))
        .y_label_area_size(BAR_PANEL_Y_LABELS);
    macro_rules! finish {
        ($chart:ident, $y_of:expr) => {{
            $chart
                .configure_mesh()
                .disable_x_mesh()
                .x_labels(count)
                .x_label_formatter(&formatter)
                .y_labels(VALUE_TICKS)
                .y_label_formatter(&|v: &f64| axis.label(v))
                .y_desc(bars.y_label)
                .label_style(label_style())
                .axis_desc_style(label_style())
                .light_line_style(WHITE.mix(0.0))
                .draw()
                .map_err(error)?;
            if upright.is_some() {
                // Reading upwards, each ending just under its bar.
                let style = label_style()
                    .transform(FontTransform::Rotate270)
                    .pos(Pos::new(HPos::Right, VPos::Center));
                $chart
                    .draw_series(bars.labels.iter().enumerate().map(|(i, label)| {
                        EmptyElement::at((i as f64, low))
                            + Text::new(label.clone(), (0, 8), style.clone())
                    }))
                    .map_err(error)?;
            }
            $chart
                .draw_series(bars.values.iter().enumerate().map(|(i, &v)| {
                    let x = i as f64;
                    Rectangle::new(
                        [(x - 0.35, low), (x + 0.35, v.max(low))],
                        bars.color.filled(),
                    )
                }))
                .map_err(error)?;
            if let Some(intervals) = bars.intervals {
                $chart
                    .draw_series(intervals.iter().enumerate().filter_map(|(i, interval)| {
                        let (lo, hi) = (*interval)?;
                        Some(ErrorBar::new_vertical(
                            i as f64,
                            lo.max(low),
                            bars.values[i],
                            hi,
                            BLACK.stroke_width(2),
                            14,
                        ))
                    }))
                    .map_err(error)?;
            }
            $chart
                .draw_series(bars.values.iter().enumerate().map(|(i, &v)| {
                    let above = highest(i);
                    text_above((i as f64, above), $y_of(above), (bars.value_text)(v))
                }))
                .map_err(error)?;
        }};
    }
    if bars.log {
        let mut chart = builder
            .build_cartesian_2d(x_range, (low..high).log_scale())
            .map_err(error)?;
        finish!(chart, |v: f64| v * 0.08);
    } else {
        let mut chart = builder
            .build_cartesian_2d(x_range, low..high)
            .map_err(error)?;
        finish!(chart, |_v: f64| (high - low) * 0.01);
    }
    Ok(())
}

/// A label centred just above a point; `lift` is in the chart's y units.
pub fn text_above(at: (f64, f64), lift: f64, text: String) -> Text<'static, (f64, f64), String> {
    Text::new(
        text,
        (at.0, at.1 + lift),
        small_style().pos(Pos::new(HPos::Center, VPos::Bottom)),
    )
}

/// A message in the middle of an empty panel.
pub fn empty_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    message: &str,
) -> DrawResult {
    let (width, height) = area.dim_in_pixel();
    area.draw(&Text::new(
        title.to_string(),
        (width as i32 / 2, 12),
        title_style().pos(Pos::new(HPos::Center, VPos::Top)),
    ))
    .map_err(error)?;
    area.draw(&Text::new(
        message.to_string(),
        (width as i32 / 2, height as i32 / 2),
        label_style().pos(Pos::new(HPos::Center, VPos::Center)),
    ))
    .map_err(error)
}
