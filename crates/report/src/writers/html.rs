//! `report.html`: one self-contained page (inline CSS and SVG, nothing fetched).

use super::cells::{cells, footnotes, is_numeric_column};
use crate::classes::{CONFUSED_PAIRS, CONFUSION_PLOT_MAX_CLASSES};
use crate::format::{self, MISSING};
use crate::plots::PlotFile;
use crate::table::{head_noun, Row, Table};

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
section.classes { margin: 24px 0; }
section.classes p.lead { margin: 0 0 8px; font-size: 13px; }
details { background: #fff; border: 1px solid #ddd; border-radius: 6px; margin: 8px 0; padding: 6px 12px; }
details summary { cursor: pointer; font-size: 14px; padding: 4px 0; }
details .table-wrap { border: none; margin: 6px 0 4px; max-height: 560px; overflow-y: auto; }
table.per-class { width: auto; min-width: 60%; }
table.per-class th { position: sticky; top: 0; }
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

    // Many classes: the per-class view is what is read first; two classes keep
    // the comparison's plots first.
    let many = table.classes() > 2;
    if many {
        class_sections(table, &mut out);
    }
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
    if !many {
        class_sections(table, &mut out);
    }
    out.push_str("</main>\n</body>\n</html>\n");
    out
}

/// A run as a section names it: `EfficientNet-B0 (Adam head)`.
fn run_title(row: &Row) -> String {
    format!("{} ({})", row.model, head_noun(&row.head))
}

/// Per class for every run (the first open), and past
/// [`CONFUSION_PLOT_MAX_CLASSES`] the most confused pairs, which replace the
/// matrix plot.
fn class_sections(table: &Table, out: &mut String) {
    let split = table.evaluation_split();
    let rows: Vec<&Row> = table
        .rows
        .iter()
        .filter(|r| !r.per_class.classes.is_empty())
        .collect();
    if rows.is_empty() {
        return;
    }
    out.push_str(&format!(
        "<section class=\"classes\" id=\"per-class\">\n<h2>Per class on the {split} split</h2>\n\
         <p class=\"lead\">Each run's precision, recall and F1 per class, worst F1 first; \
         support: the class's {split} images; predicted: images predicted as it; {MISSING}: \
         undefined (never predicted, or no image).</p>\n"
    ));
    for (i, row) in rows.iter().enumerate() {
        let view = &row.per_class;
        out.push_str(&format!(
            "<details{}><summary><strong>{}</strong>: macro-F1 {}, balanced accuracy {}, {} classes</summary>\n",
            if i == 0 { " open" } else { "" },
            escape(&run_title(row)),
            format::decimal4(row.test_macro_f1),
            format::decimal4(row.test_balanced_accuracy),
            view.classes.len()
        ));
        out.push_str(
            "<div class=\"table-wrap\"><table class=\"per-class\"><thead><tr><th>class</th>\
             <th class=\"num\">support</th><th class=\"num\">predicted</th>\
             <th class=\"num\">precision</th><th class=\"num\">recall</th>\
             <th class=\"num\">F1</th><th>most often predicted instead</th></tr></thead>\n<tbody>\n",
        );
        let mut order: Vec<usize> = (0..view.classes.len()).collect();
        order.sort_by(|&a, &b| {
            let f1 = |c: usize| view.classes[c].f1.unwrap_or(f64::INFINITY);
            f1(a).total_cmp(&f1(b)).then(a.cmp(&b))
        });
        let score = |v: Option<f64>| v.map_or(MISSING.to_string(), format::decimal4);
        for c in order {
            let class = &view.classes[c];
            let instead = view
                .most_often_instead(c)
                .map_or(MISSING.to_string(), |(p, n)| {
                    format!("{} ({n})", view.classes[p].class)
                });
            out.push_str(&format!(
                "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>\n",
                escape(&class.class),
                class.support,
                class.predicted,
                score(class.precision),
                score(class.recall),
                score(class.f1),
                escape(&instead)
            ));
        }
        out.push_str("</tbody>\n</table></div>\n</details>\n");
    }
    out.push_str("</section>\n");

    if table.classes() <= CONFUSION_PLOT_MAX_CLASSES {
        return;
    }
    out.push_str(&format!(
        "<section class=\"classes\" id=\"confused-pairs\">\n<h2>Most confused pairs on the {split} split</h2>\n\
         <p class=\"lead\">{} classes are too many for a readable confusion matrix: per run, the \
         {CONFUSED_PAIRS} most frequent mistakes (true class predicted as another), with their \
         share of the true class's images.</p>\n",
        table.classes()
    ));
    for (i, row) in rows.iter().enumerate() {
        let view = &row.per_class;
        out.push_str(&format!(
            "<details{}><summary><strong>{}</strong></summary>\n<div class=\"table-wrap\"><table class=\"per-class\">\
             <thead><tr><th>true class</th><th>predicted as</th><th class=\"num\">images</th>\
             <th class=\"num\">share of the class</th></tr></thead>\n<tbody>\n",
            if i == 0 { " open" } else { "" },
            escape(&run_title(row))
        ));
        for (t, p, n) in view.most_confused(CONFUSED_PAIRS) {
            let support = view.classes[t].support.max(1);
            out.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td class=\"num\">{n}</td><td class=\"num\">{}</td></tr>\n",
                escape(&view.classes[t].class),
                escape(&view.classes[p].class),
                format::decimal4(n as f64 / support as f64)
            ));
        }
        out.push_str("</tbody>\n</table></div>\n</details>\n");
    }
    out.push_str("</section>\n");
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
