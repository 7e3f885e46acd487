//! `report.html`: one self-contained page (inline CSS and SVG, nothing fetched).

use super::cells::{cells, footnotes, is_numeric_column};
use crate::plots::PlotFile;
use crate::table::{Row, Table};

const STYLE: &str = r#"
body { font-family: system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; margin: 0; color: #1a1a1a; background: #fafafa; }
main { max-width: 1440px; margin: 0 auto; padding: 24px 32px 48px; }
h1 { font-size: 28px; margin: 8px 0 4px; }
h2 { font-size: 20px; margin: 0 0 8px; }
p.lead { color: #555; margin: 0 0 20px; }
#recommendation { background: #fff; border: 1px solid #cde; border-left: 4px solid #1f77b4; border-radius: 6px; padding: 12px 16px; margin: 0 0 20px; }
#recommendation p { margin: 0; line-height: 1.5; }
.table-wrap { overflow-x: auto; background: #fff; border: 1px solid #ddd; border-radius: 6px; }
table { border-collapse: collapse; font-size: 12px; width: 100%; font-variant-numeric: tabular-nums; }
th, td { padding: 4px 6px; border-bottom: 1px solid #eee; white-space: nowrap; }
th { background: #f0f3f7; text-align: left; font-weight: 600; border-bottom: 2px solid #ccd; white-space: normal; vertical-align: bottom; }
td.num, th.num { text-align: right; }
td .interval { display: block; font-size: 11px; color: #666; }
tbody tr:hover { background: #f7fbff; }
ul.notes { font-size: 13px; color: #444; padding-left: 20px; }
code { font-size: 12px; background: #eef; padding: 1px 4px; border-radius: 3px; }
figure { background: #fff; border: 1px solid #ddd; border-radius: 6px; margin: 24px 0; padding: 16px; }
figure svg { display: block; max-width: 100%; height: auto; margin: 0 auto; }
figcaption { font-size: 13px; color: #555; margin-top: 8px; }
"#;

/// A value with its interval (`0.9000 [0.815, 0.948]`) puts the interval on a
/// second, smaller line, so the widest table still fits a laptop screen.
fn cell_html(cell: &str) -> String {
    match cell.split_once(" [") {
        Some((value, interval)) if interval.ends_with(']') => format!(
            "{}<span class=\"interval\">[{}</span>",
            escape(value),
            escape(interval)
        ),
        _ => escape(cell),
    }
}

pub fn html(table: &Table, plots: &[PlotFile], source: &str) -> String {
    let cells = cells(table);
    let mut out =
        String::from("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    // An empty icon keeps the browser from asking for /favicon.ico.
    out.push_str("<link rel=\"icon\" href=\"data:,\">\n<title>effprobe report</title>\n");
    out.push_str(&format!(
        "<style>{STYLE}</style>\n</head>\n<body>\n<main>\n"
    ));
    out.push_str("<h1>effprobe report</h1>\n");
    let trained = if table.rows.iter().any(Row::is_fine_tune) {
        "heads trained on the cached features, fine-tuned top blocks on the cached activations"
    } else {
        "heads trained on the cached features"
    };
    out.push_str(&format!(
        "<p class=\"lead\">{} runs from <code>{}</code>: frozen backbones run once per image, {trained}.</p>\n",
        table.rows.len(),
        escape(source)
    ));

    if let Some(recommendation) = &table.recommendation {
        out.push_str(&format!(
            "<section id=\"recommendation\"><h2>Recommendation</h2>\n<p>{}</p></section>\n",
            escape(&recommendation.text)
        ));
    }
    out.push_str("<div class=\"table-wrap\">\n<table id=\"comparison\">\n<thead><tr>");
    for (i, header) in cells.headers.iter().enumerate() {
        out.push_str(&format!("<th{}>{}</th>", numeric_class(i), escape(header)));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for row in &cells.rows {
        out.push_str("<tr>");
        for (i, cell) in row.iter().enumerate() {
            out.push_str(&format!("<td{}>{}</td>", numeric_class(i), cell_html(cell)));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n</div>\n<ul class=\"notes\">\n");
    for note in footnotes(table) {
        out.push_str(&format!("<li>{}</li>\n", with_code_spans(&escape(&note))));
    }
    out.push_str("</ul>\n");

    for plot in plots {
        out.push_str(&format!(
            "<figure id=\"plot-{}\">\n<h2>{}</h2>\n{}\n<figcaption>{} Files: <code>{}</code>, <code>{}</code>.</figcaption>\n</figure>\n",
            plot.name,
            escape(&plot.title),
            inline_svg(&plot.svg, &plot.title),
            escape(&plot.caption),
            escape(&plot.svg_path),
            escape(&plot.png_path),
        ));
    }
    out.push_str("</main>\n</body>\n</html>\n");
    out
}

fn numeric_class(column: usize) -> &'static str {
    if is_numeric_column(column) {
        " class=\"num\""
    } else {
        ""
    }
}

/// The SVG document as an element of the page: no XML declaration, and an
/// accessible name.
fn inline_svg(svg: &str, title: &str) -> String {
    let body = match svg.find("<svg") {
        Some(start) => &svg[start..],
        None => svg,
    };
    body.replacen(
        "<svg",
        &format!("<svg role=\"img\" aria-label=\"{}\"", escape(title)),
        1,
    )
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `name` in a note becomes <code>name</code>.
fn with_code_spans(text: &str) -> String {
    let mut out = String::new();
    for (i, part) in text.split('`').enumerate() {
        if i % 2 == 1 {
            out.push_str(&format!("<code>{part}</code>"));
        } else {
            out.push_str(part);
        }
    }
    out
}
