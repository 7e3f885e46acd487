//! The predictions table: CSV (default) or JSON lines, one row per input in the
//! order given, rejected inputs included with their reason.

use std::io::Write;

use super::Prediction;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `path,key,predicted,p_CLASS...,error` (RFC 4180).
    Csv,
    /// One object per line: `{"path","key","predicted","probabilities":{CLASS: p}}`,
    /// or `{"path","key","error"}` for a rejected input.
    Jsonl,
}

pub fn write(
    out: &mut dyn Write,
    format: Format,
    classes: &[String],
    predictions: &[Prediction],
) -> std::io::Result<()> {
    match format {
        Format::Csv => write_csv(out, classes, predictions),
        Format::Jsonl => write_jsonl(out, classes, predictions),
    }
}

fn csv_field(value: &str) -> String {
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_string()
    }
}

/// Probabilities are written with Rust's shortest round-trip formatting: reading
/// a value back gives the same f64.
fn write_csv(
    out: &mut dyn Write,
    classes: &[String],
    predictions: &[Prediction],
) -> std::io::Result<()> {
    let mut header = vec!["path".to_string(), "key".into(), "predicted".into()];
    header.extend(classes.iter().map(|c| csv_field(&format!("p_{c}"))));
    header.push("error".into());
    writeln!(out, "{}", header.join(","))?;
    for prediction in predictions {
        let mut fields = vec![
            csv_field(&prediction.path),
            prediction.key.clone().unwrap_or_default(),
        ];
        match &prediction.outcome {
            Ok(classified) => {
                fields.push(csv_field(&classes[classified.label]));
                fields.extend(classified.probabilities.iter().map(|p| p.to_string()));
                fields.push(String::new());
            }
            Err(reason) => {
                fields.extend(std::iter::repeat_n(String::new(), classes.len() + 1));
                fields.push(csv_field(reason));
            }
        }
        writeln!(out, "{}", fields.join(","))?;
    }
    Ok(())
}

fn json<T: serde::Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).expect("strings and numbers always serialise")
}

/// Written field by field so that keys keep this order and probabilities keep
/// class order.
fn write_jsonl(
    out: &mut dyn Write,
    classes: &[String],
    predictions: &[Prediction],
) -> std::io::Result<()> {
    for prediction in predictions {
        let mut line = format!(
            "{{\"path\":{},\"key\":{}",
            json(&prediction.path),
            json(&prediction.key)
        );
        match &prediction.outcome {
            Ok(classified) => {
                let probabilities: Vec<String> = classes
                    .iter()
                    .zip(&classified.probabilities)
                    .map(|(class, p)| format!("{}:{}", json(class), json(p)))
                    .collect();
                line.push_str(&format!(
                    ",\"predicted\":{},\"probabilities\":{{{}}}}}",
                    json(&classes[classified.label]),
                    probabilities.join(",")
                ));
            }
            Err(reason) => line.push_str(&format!(",\"error\":{}}}", json(reason))),
        }
        writeln!(out, "{line}")?;
    }
    Ok(())
}
