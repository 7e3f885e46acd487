use serde_json::{Map, Value};

use crate::table::Table;

/// `report.csv`: one line per row, every field of [`crate::table::Row`]
/// unformatted (full precision; empty where unknown). Nested values (intervals,
/// the paired test) become `field.part` columns, the same for every row.
pub fn csv(table: &Table) -> Result<String, csv::Error> {
    let rows: Vec<Vec<(String, String)>> = table
        .rows
        .iter()
        .map(|row| {
            let mut cells = Vec::new();
            if let Ok(Value::Object(object)) = serde_json::to_value(row) {
                flatten("", &object, &mut cells);
            }
            cells
        })
        .collect();
    // Columns in first appearance; a parent column that is nested in some row
    // gives way to its parts.
    let mut columns: Vec<String> = Vec::new();
    for (name, _) in rows.iter().flatten() {
        if !columns.contains(name) {
            columns.push(name.clone());
        }
    }
    let nested: Vec<String> = columns
        .iter()
        .filter(|c| {
            columns
                .iter()
                .any(|other| other.starts_with(&format!("{c}.")))
        })
        .cloned()
        .collect();
    columns.retain(|c| !nested.contains(c));
    // Parts of a nested field stand where the field first stood.
    columns.sort_by_key(|c| {
        let parent = c.split('.').next().unwrap_or(c);
        rows.iter()
            .flatten()
            .position(|(name, _)| name == parent || name.starts_with(&format!("{parent}.")))
            .unwrap_or(usize::MAX)
    });
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(&columns)?;
    for row in &rows {
        writer.write_record(columns.iter().map(|c| {
            row.iter()
                .find(|(name, _)| name == c)
                .map_or("", |(_, value)| value.as_str())
        }))?;
    }
    let bytes = writer
        .into_inner()
        .map_err(|e| csv::Error::from(e.into_error()))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

fn flatten(prefix: &str, object: &Map<String, Value>, cells: &mut Vec<(String, String)>) {
    for (key, value) in object {
        let name = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match value {
            Value::Object(inner) => flatten(&name, inner, cells),
            Value::Null => cells.push((name, String::new())),
            Value::String(text) => cells.push((name, text.clone())),
            other => cells.push((name, other.to_string())),
        }
    }
}
