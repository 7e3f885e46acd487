//! effprobe stage 3: the comparison report. Reads only head-train's and
//! tune-train's outputs (`metrics.json`, `history.csv`, `head.safetensors`
//! metadata, `predictions.csv`; tune-train's runs are the third head kind,
//! top-N fine-tune, from `metrics.json`'s `tune`) and, when given,
//! the feature folder's metadata (feature file footers and extract's `run.json`),
//! and writes the B0..B7 table as markdown, CSV and JSON, the plots as SVG and
//! PNG, and one self-contained HTML page. Never links libtorch.
//!
//! [`render`] is the whole stage; `compare` calls it after its runs.

pub mod classes;
mod error;
pub mod format;
pub mod inputs;
pub mod known;
pub mod plots;
pub mod recommend;
pub mod stats;
pub mod table;
pub mod writers;

use std::path::{Path, PathBuf};

pub use error::{ReportError, Result};
pub use plots::{PlotFile, PlotKind, PLOTS_DIR};
pub use table::{FeatureSources, Row, Table};

use error::io_error;
use inputs::{find_runs, FeatureIndex, RunRecord, RUN_RECORD_FILE};

pub const MARKDOWN_FILE: &str = "report.md";
pub const CSV_FILE: &str = "report.csv";
pub const JSON_FILE: &str = "report.json";
pub const HTML_FILE: &str = "report.html";

/// Where the report reads from.
#[derive(Clone, Debug)]
pub struct ReportInputs {
    /// A folder of head-train or tune-train output folders (or one such folder).
    pub runs: PathBuf,
    /// The extract output folder: feature files and `run.json`.
    pub features: Option<PathBuf>,
}

/// What was written, for the caller to print.
#[derive(Clone, Debug)]
pub struct Written {
    pub table: Table,
    pub markdown: PathBuf,
    pub csv: PathBuf,
    pub json: PathBuf,
    pub html: PathBuf,
    pub plots: Vec<PlotFile>,
}

/// Reads the runs (and features) and builds the table.
pub fn load_table(inputs: &ReportInputs) -> Result<Table> {
    let runs = find_runs(&inputs.runs)?;
    let sources = match &inputs.features {
        Some(dir) => Some(feature_sources(dir)?),
        None => None,
    };
    Ok(Table::build(runs, sources.as_ref()))
}

pub fn feature_sources(dir: &Path) -> Result<FeatureSources> {
    let index = FeatureIndex::scan(dir)?;
    let record_path = dir.join(RUN_RECORD_FILE);
    let record = if record_path.is_file() {
        Some(RunRecord::read(&record_path)?)
    } else {
        None
    };
    Ok(FeatureSources { index, record })
}

/// The whole stage: reads `inputs` and writes every output into `out` (created if needed).
pub fn render(inputs: &ReportInputs, out: &Path) -> Result<Written> {
    let table = load_table(inputs)?;
    write(table, &inputs.runs.display().to_string(), out)
}

/// Writes a built table's outputs into `out`; `source` names the runs in the page.
pub fn write(table: Table, source: &str, out: &Path) -> Result<Written> {
    std::fs::create_dir_all(out).map_err(io_error(out))?;
    let plots = plots::write_all(&table, out)?;
    let output_error = |path: &Path, reason: String| ReportError::Output {
        path: path.to_path_buf(),
        reason,
    };
    let save = |name: &str, text: &str| -> Result<PathBuf> {
        let path = out.join(name);
        contract::atomic::write_atomically(&path, text.as_bytes()).map_err(io_error(&path))?;
        Ok(path)
    };
    let markdown = save(MARKDOWN_FILE, &writers::markdown::markdown(&table, &plots))?;
    let csv_text =
        writers::csv::csv(&table).map_err(|e| output_error(&out.join(CSV_FILE), e.to_string()))?;
    let csv = save(CSV_FILE, &csv_text)?;
    let json_text = writers::json::json(&table, &plots)
        .map_err(|e| output_error(&out.join(JSON_FILE), e.to_string()))?;
    let json = save(JSON_FILE, &json_text)?;
    let html = save(HTML_FILE, &writers::html::html(&table, &plots, source))?;
    Ok(Written {
        table,
        markdown,
        csv,
        json,
        html,
        plots,
    })
}
