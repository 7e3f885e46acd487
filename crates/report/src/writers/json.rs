use serde::Serialize;

use super::cells::footnotes;
use crate::table::Table;

/// Bumped on any change a reader of the previous `report.json` would misread.
/// 2: intervals, paired tests, the recommendation, unknown totals as null, plots.
pub const REPORT_SCHEMA_VERSION: u32 = 2;

#[derive(Serialize)]
struct ReportJson<'a> {
    schema_version: u32,
    tool_version: String,
    evaluation_split: String,
    #[serde(flatten)]
    table: &'a Table,
    footnotes: Vec<String>,
    /// Each plot's value axes and the tick labels drawn on them.
    plots: Vec<PlotAxes<'a>>,
}

#[derive(Serialize)]
struct PlotAxes<'a> {
    name: &'a str,
    svg: &'a str,
    axes: &'a [(String, Vec<String>)],
}

/// `report.json`: the table's rows unformatted, the extraction summary and the notes.
pub fn json(table: &Table, plots: &[crate::plots::PlotFile]) -> serde_json::Result<String> {
    serde_json::to_string_pretty(&ReportJson {
        schema_version: REPORT_SCHEMA_VERSION,
        tool_version: format!("effprobe report {}", env!("CARGO_PKG_VERSION")),
        evaluation_split: table.evaluation_split(),
        table,
        footnotes: footnotes(table),
        plots: plots
            .iter()
            .map(|p| PlotAxes {
                name: p.name,
                svg: &p.svg_path,
                axes: &p.axes,
            })
            .collect(),
    })
}
