//! The report's plots, drawn by plotters as SVG (inlined in the HTML) and
//! rasterised to PNG from that same SVG.

mod bars;
mod confusion;
mod draw;
mod encode_png;
mod history;
mod scatter;
pub mod ticks;
mod time;

use std::path::Path;

use contract::atomic::write_atomically;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::error::{io_error, ReportError, Result};
use crate::table::{Row, Table};

/// The folder under the output where plot files go.
pub const PLOTS_DIR: &str = "plots";

/// One plot as written: both files, relative to the output folder, and the SVG text.
#[derive(Clone, Debug)]
pub struct PlotFile {
    pub name: &'static str,
    pub title: String,
    pub caption: String,
    pub svg_path: String,
    pub png_path: String,
    pub svg: String,
    /// Every value axis drawn: (axis name, its tick labels).
    pub axes: Vec<(String, Vec<String>)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlotKind {
    SizeAndParameters,
    AccuracyAndLoss,
    AccuracyVsParameters,
    History,
    Time,
    /// Each run's confusion matrix, for at most
    /// [`crate::classes::CONFUSION_PLOT_MAX_CLASSES`] classes (past that the
    /// page lists the most confused pairs).
    Confusion,
}

impl PlotKind {
    pub const ALL: [PlotKind; 6] = [
        PlotKind::SizeAndParameters,
        PlotKind::AccuracyAndLoss,
        PlotKind::AccuracyVsParameters,
        PlotKind::History,
        PlotKind::Time,
        PlotKind::Confusion,
    ];

    /// Whether `table` gets this plot: every plot but the confusion matrices,
    /// drawn up to 30 classes when some run has one.
    pub fn applies(self, table: &Table) -> bool {
        match self {
            PlotKind::Confusion => {
                table.classes() <= crate::classes::CONFUSION_PLOT_MAX_CLASSES
                    && !confusion::rows(table).is_empty()
            }
            _ => true,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            PlotKind::SizeAndParameters => "size_parameters",
            PlotKind::AccuracyAndLoss => "accuracy_loss",
            PlotKind::AccuracyVsParameters => "accuracy_vs_parameters",
            PlotKind::History => "history",
            PlotKind::Time => "time",
            PlotKind::Confusion => "confusion",
        }
    }

    fn title(self, table: &Table) -> String {
        let split = table.evaluation_split();
        match self {
            PlotKind::SizeAndParameters => "Weights file size and parameter count".into(),
            PlotKind::AccuracyAndLoss => format!("{} accuracy and loss", capitalized(&split)),
            PlotKind::AccuracyVsParameters => {
                format!("{} accuracy against parameter count", capitalized(&split))
            }
            PlotKind::History => "Training history: loss and accuracy per epoch".into(),
            PlotKind::Time => "Time: ours against retraining through the backbone".into(),
            PlotKind::Confusion => format!("{} confusion matrices", capitalized(&split)),
        }
    }

    fn caption(self, table: &Table) -> String {
        match self {
            PlotKind::Confusion => format!(
                "One panel per run: how the {} images of each class (rows) were predicted \
                 (columns), shaded by the share of the class's images, counts in the cells that \
                 hold them; the diagonal, outlined, is right; a grey row: no image of that class. \
                 Per-class scores: the per-class tables and report.csv.",
                table.evaluation_split()
            ),
            PlotKind::SizeAndParameters => {
                "Per variant: the weights file in MB and the backbone's parameters (without the classifier).".into()
            }
            PlotKind::AccuracyAndLoss => format!(
                "The kept head scored once on the {} split: accuracy (higher is better) and log-loss (lower is better).",
                table.evaluation_split()
            ),
            PlotKind::AccuracyVsParameters => {
                "Each point a run; x the backbone's parameters in millions; a line joins the sizes of one \
                 family (EfficientNet B0..B7, Lite0..Lite4), other backbones stand alone.".into()
            }
            PlotKind::History => format!(
                "One panel per run: train and validation (selection split) loss on the left axis (log when it spans decades), accuracy on the right. Adam: per epoch; L-BFGS: per iteration{}; after --sweep-l2 auto, the chosen strength's run before its refit.",
                if table.rows.iter().any(Row::is_fine_tune) {
                    "; top-N fine-tune: per epoch, the kept candidate's"
                } else {
                    ""
                }
            ),
            PlotKind::Time => {
                let (fine_tunes, fine_tune_estimate) = if table.rows.iter().any(Row::is_fine_tune) {
                    (
                        " (for a top-N fine-tune, its blocks and head on the activations the same pass cached)",
                        "; for a fine-tune the forward passes alone, without its backward pass",
                    )
                } else {
                    ("", "")
                };
                if table.rows.iter().any(|r| r.extraction_seconds.is_some()) {
                    format!("Ours: the backbone once per image (extraction) plus head training on the cached features{fine_tunes}. Estimate: the measured backbone time × the epochs (the Adam heads' for the full-batch solver), what retraining through the frozen backbone every epoch (the seed's way) costs on this machine{fine_tune_estimate}. Crosses: the seed's published GPU training times, B0 9.8 min and B7 307 min (its other rows were not available to this project).")
                } else {
                    "Head training only: no extract run.json was given (--features), so extraction and the retraining estimate are unknown.".into()
                }
            }
        }
    }

    fn size(self, table: &Table) -> (u32, u32) {
        match self {
            PlotKind::History => {
                let panels = table.rows.len().max(1) as u32;
                let rows = panels.div_ceil(history::COLUMNS);
                (1200, 70 + 300 * rows)
            }
            PlotKind::AccuracyVsParameters => (900, 560),
            PlotKind::Confusion => confusion::size(table),
            _ => (1200, 520),
        }
    }

    fn draw<DB: DrawingBackend>(
        self,
        table: &Table,
        root: &DrawingArea<DB, Shift>,
    ) -> draw::DrawResult {
        root.fill(&WHITE).map_err(draw::error)?;
        match self {
            PlotKind::SizeAndParameters => bars::size_and_parameters(table, root),
            PlotKind::AccuracyAndLoss => bars::accuracy_and_loss(table, root),
            PlotKind::AccuracyVsParameters => scatter::accuracy_vs_parameters(table, root),
            PlotKind::History => history::history(table, root),
            PlotKind::Time => time::time(table, root),
            PlotKind::Confusion => confusion::confusion(table, root),
        }?;
        root.present().map_err(draw::error)
    }
}

/// Draws every plot and writes `plots/NAME.svg` and `plots/NAME.png` under `out`.
pub fn write_all(table: &Table, out: &Path) -> Result<Vec<PlotFile>> {
    draw::register_fonts();
    let dir = out.join(PLOTS_DIR);
    std::fs::create_dir_all(&dir).map_err(io_error(&dir))?;
    PlotKind::ALL
        .iter()
        .filter(|kind| kind.applies(table))
        .map(|&kind| {
            let plot = render(kind, table)?;
            let svg_path = dir.join(format!("{}.svg", kind.name()));
            write_atomically(&svg_path, plot.svg.as_bytes()).map_err(io_error(&svg_path))?;
            let png_path = dir.join(format!("{}.png", kind.name()));
            write_atomically(&png_path, &plot.png).map_err(io_error(&png_path))?;
            Ok(PlotFile {
                name: kind.name(),
                title: kind.title(table),
                caption: kind.caption(table),
                svg_path: format!("{PLOTS_DIR}/{}.svg", kind.name()),
                png_path: format!("{PLOTS_DIR}/{}.png", kind.name()),
                svg: plot.svg,
                axes: plot.axes,
            })
        })
        .collect()
}

/// `test` → `Test`, for titles.
pub fn capitalized(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

struct Rendered {
    svg: String,
    png: Vec<u8>,
    axes: Vec<(String, Vec<String>)>,
}

fn render(kind: PlotKind, table: &Table) -> Result<Rendered> {
    let failed = |reason: String| ReportError::Plot {
        name: kind.name().to_string(),
        reason,
    };
    let (width, height) = kind.size(table);
    let mut svg = String::new();
    ticks::take_drawn();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        kind.draw(table, &root).map_err(failed)?;
    }
    let axes = ticks::take_drawn();
    let png = encode_png::svg_to_png(&svg).map_err(failed)?;
    Ok(Rendered { svg, png, axes })
}
