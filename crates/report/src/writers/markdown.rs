use super::cells::{cells, footnotes, is_numeric_column};
use crate::plots::PlotFile;
use crate::table::Table;

/// `report.md`: the table, its footnotes, and links to the plots.
pub fn markdown(table: &Table, plots: &[PlotFile]) -> String {
    let cells = cells(table);
    let mut out = String::from("# effprobe report\n\n");
    if let Some(recommendation) = &table.recommendation {
        out.push_str(&format!("**Recommendation.** {}\n\n", recommendation.text));
    }
    out.push_str(&markdown_row(&cells.headers));
    let rule: Vec<String> = (0..cells.headers.len())
        .map(|i| if is_numeric_column(i) { "---:" } else { "---" }.to_string())
        .collect();
    out.push_str(&markdown_row(&rule));
    for row in &cells.rows {
        out.push_str(&markdown_row(row));
    }
    out.push('\n');
    for note in footnotes(table) {
        out.push_str(&format!("* {note}\n"));
    }
    if !plots.is_empty() {
        out.push_str("\n## Plots\n\n");
        for plot in plots {
            out.push_str(&format!(
                "![{}]({}) ([PNG]({}))\n\n",
                plot.title, plot.svg_path, plot.png_path
            ));
        }
    }
    out
}

fn markdown_row(cells: &[String]) -> String {
    let escaped: Vec<String> = cells.iter().map(|c| c.replace('|', "\\|")).collect();
    format!("| {} |\n", escaped.join(" | "))
}
