//! The confusion matrix of each run on the evaluation split, one panel per run:
//! rows the true class, columns the predicted one, each cell shaded by its
//! share of the true class's images (so a rare class reads as clearly as a
//! common one) and labelled with its count where it is large enough to hold it.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::draw::{
    error, label_style, small_style, text_width, title_style, DrawResult, BLUE, FONT,
};
use super::ticks;
use crate::table::{head_noun, Row, Table};

pub const WIDTH: u32 = 1200;
const LEGEND_HEIGHT: u32 = 96;
const TITLE_HEIGHT: u32 = 34;
const MARGIN: u32 = 24;
/// Room for the axis caption beside the class names.
const CAPTION: u32 = 24;
/// Longest class name drawn, in characters.
const NAME_CHARS: usize = 18;
/// Cells this wide or wider carry their count.
const COUNT_CELL: u32 = 18;

/// The rows with a confusion matrix to draw.
pub fn rows(table: &Table) -> Vec<&Row> {
    table
        .rows
        .iter()
        .filter(|r| !r.per_class.confusion.is_empty())
        .collect()
}

/// Panels per line: three small matrices, two medium, one large.
fn columns(classes: usize) -> u32 {
    match classes {
        0..=6 => 3,
        7..=15 => 2,
        _ => 1,
    }
}

/// Room for the class names left of and under the matrix: the widest name
/// drawn, and its axis caption.
fn names_band(table: &Table) -> u32 {
    let widest = rows(table)
        .iter()
        .flat_map(|r| &r.per_class.classes)
        .map(|c| text_width(&short(&c.class), &small_style()))
        .max()
        .unwrap_or(0);
    (widest + 10).clamp(30, 150) + CAPTION
}

/// The matrix's side in pixels.
fn side(classes: usize, names: u32) -> u32 {
    let panel = WIDTH / columns(classes);
    (panel - names - 2 * MARGIN)
        .min((28 * classes as u32).max(160))
        .min(720)
}

fn panel_height(classes: usize, names: u32) -> u32 {
    TITLE_HEIGHT + side(classes, names) + names + MARGIN
}

/// The plot's size for `table`.
pub fn size(table: &Table) -> (u32, u32) {
    let classes = table.classes();
    let panels = rows(table).len().max(1) as u32;
    let lines = panels.div_ceil(columns(classes));
    (
        WIDTH,
        LEGEND_HEIGHT + lines * panel_height(classes, names_band(table)),
    )
}

pub fn confusion<DB: DrawingBackend>(table: &Table, root: &DrawingArea<DB, Shift>) -> DrawResult {
    let (top, grid) = root.split_vertically(LEGEND_HEIGHT);
    legend(&top, &table.evaluation_split())?;
    let classes = table.classes();
    let rows = rows(table);
    let columns = columns(classes);
    let lines = (rows.len() as u32).div_ceil(columns).max(1);
    let panels = grid.split_evenly((lines as usize, columns as usize));
    let names = names_band(table);
    for (row, panel) in rows.iter().zip(&panels) {
        matrix_panel(row, panel, side(classes, names) as i32, names as i32)?;
    }
    Ok(())
}

/// The row of a class the split has no image of.
const ABSENT: RGBColor = RGBColor(225, 225, 225);

/// White for none of the class's images, the palette's blue for all of them.
fn shade(share: f64) -> RGBColor {
    let t = share.clamp(0.0, 1.0);
    let mix = |full: u8| (255.0 - (255.0 - full as f64) * t).round() as u8;
    RGBColor(mix(BLUE.0), mix(BLUE.1), mix(BLUE.2))
}

fn legend<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, split: &str) -> DrawResult {
    let (width, _) = area.dim_in_pixel();
    area.draw(&Text::new(
        format!(
            "Confusion matrices on the {split} split: rows the true class, columns the predicted"
        ),
        (width as i32 / 2, 8),
        title_style().pos(Pos::new(HPos::Center, VPos::Top)),
    ))
    .map_err(error)?;
    let axis = ticks::Axis::new("share of the true class", 0.0, 1.0, 6, false);
    let (left, bar_width, y) = (width as i32 / 2 - 150, 300, 44);
    for step in 0..bar_width {
        let color = shade(step as f64 / (bar_width - 1) as f64);
        area.draw(&Rectangle::new(
            [(left + step, y), (left + step + 1, y + 14)],
            color.filled(),
        ))
        .map_err(error)?;
    }
    area.draw(&Rectangle::new(
        [(left, y), (left + bar_width, y + 14)],
        BLACK.stroke_width(1),
    ))
    .map_err(error)?;
    for (value, label) in axis.ticks() {
        let x = left + (value * (bar_width - 1) as f64).round() as i32;
        area.draw(&PathElement::new(
            vec![(x, y + 14), (x, y + 19)],
            BLACK.stroke_width(1),
        ))
        .map_err(error)?;
        area.draw(&Text::new(
            label.clone(),
            (x, y + 21),
            small_style().pos(Pos::new(HPos::Center, VPos::Top)),
        ))
        .map_err(error)?;
    }
    area.draw(&Text::new(
        "share of the true class's images",
        (left - 12, y + 7),
        label_style().pos(Pos::new(HPos::Right, VPos::Center)),
    ))
    .map_err(error)
}

/// `name`, cut to [`NAME_CHARS`] characters.
fn short(name: &str) -> String {
    if name.chars().count() <= NAME_CHARS {
        name.to_string()
    } else {
        let cut: String = name.chars().take(NAME_CHARS - 1).collect();
        format!("{cut}…")
    }
}

fn matrix_panel<DB: DrawingBackend>(
    row: &Row,
    area: &DrawingArea<DB, Shift>,
    side: i32,
    names: i32,
) -> DrawResult {
    let view = &row.per_class;
    let classes = view.confusion.len();
    let cell = side / classes.max(1) as i32;
    let side = cell * classes as i32;
    let (width, _) = area.dim_in_pixel();
    let left = (width as i32 - side + names) / 2;
    let top = TITLE_HEIGHT as i32;
    area.draw(&Text::new(
        format!("{} ({})", row.model, head_noun(&row.head)),
        (width as i32 / 2, 6),
        (FONT, 16)
            .into_font()
            .style(FontStyle::Bold)
            .color(&BLACK)
            .pos(Pos::new(HPos::Center, VPos::Top)),
    ))
    .map_err(error)?;
    let count_font = (FONT, (cell as f64 * 0.5).clamp(9.0, 13.0) as u32).into_font();
    for (t, counts) in view.confusion.iter().enumerate() {
        let total: u64 = counts.iter().sum();
        for (p, &count) in counts.iter().enumerate() {
            let share = if total > 0 {
                count as f64 / total as f64
            } else {
                0.0
            };
            let (x, y) = (left + p as i32 * cell, top + t as i32 * cell);
            // A class without images in the split: grey, not "none predicted".
            let fill = if total > 0 { shade(share) } else { ABSENT };
            area.draw(&Rectangle::new(
                [(x, y), (x + cell, y + cell)],
                fill.filled(),
            ))
            .map_err(error)?;
            if count > 0 && cell >= COUNT_CELL as i32 {
                let ink = if share > 0.55 { WHITE } else { BLACK };
                area.draw(&Text::new(
                    count.to_string(),
                    (x + cell / 2, y + cell / 2),
                    count_font
                        .clone()
                        .color(&ink)
                        .pos(Pos::new(HPos::Center, VPos::Center)),
                ))
                .map_err(error)?;
            }
        }
    }
    // The diagonal outlined: where the right answers are.
    for c in 0..classes as i32 {
        let (x, y) = (left + c * cell, top + c * cell);
        area.draw(&Rectangle::new(
            [(x, y), (x + cell, y + cell)],
            BLACK.mix(0.5).stroke_width(1),
        ))
        .map_err(error)?;
    }
    area.draw(&Rectangle::new(
        [(left, top), (left + side, top + side)],
        BLACK.stroke_width(1),
    ))
    .map_err(error)?;
    let name_style = small_style();
    for (c, class) in view.classes.iter().enumerate() {
        let middle = c as i32 * cell + cell / 2;
        area.draw(&Text::new(
            short(&class.class),
            (left - 6, top + middle),
            name_style.pos(Pos::new(HPos::Right, VPos::Center)),
        ))
        .map_err(error)?;
        area.draw(&Text::new(
            short(&class.class),
            (left + middle, top + side + 6),
            name_style
                .transform(FontTransform::Rotate270)
                .pos(Pos::new(HPos::Right, VPos::Center)),
        ))
        .map_err(error)?;
    }
    area.draw(&Text::new(
        "predicted",
        (left + side / 2, top + side + names - 4),
        label_style().pos(Pos::new(HPos::Center, VPos::Bottom)),
    ))
    .map_err(error)?;
    area.draw(&Text::new(
        "true",
        (left - names + 4, top + side / 2),
        label_style()
            .transform(FontTransform::Rotate270)
            .pos(Pos::new(HPos::Center, VPos::Top)),
    ))
    .map_err(error)
}
