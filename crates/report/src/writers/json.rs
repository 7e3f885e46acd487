use serde::Serialize;

use super::cells::footnotes;
use crate::table::Table;

/// Bumped on any change a reader of the previous `report.json` would misread.
pub const REPORT_SCHEMA_VERSION: u32 = 1;

#[derive(Serialize)]
struct ReportJson<'a> {
    schema_version: u32,
    tool_version: String,
    evaluation_split: String,
    #[serde(flatten)]
    table: &'a Table,
    footnotes: Vec<String>,
}

/// `report.json`: the table's rows unformatted, the extraction summary and the notes.
pub fn json(table: &Table) -> serde_json::Result<String> {
    serde_json::to_string_pretty(&ReportJson {
        schema_version: REPORT_SCHEMA_VERSION,
        tool_version: format!("effprobe report {}", env!("CARGO_PKG_VERSION")),
        evaluation_split: table.evaluation_split(),
        table,
        footnotes: footnotes(table),
    })
}
