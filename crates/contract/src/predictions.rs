//! `predictions.csv`: the kept head's probabilities for every row of the
//! evaluation split, keyed by image; what `report` needs for intervals and paired
//! tests between models scored on the same images.

use std::path::Path;

use crate::records::{open_csv, publish_csv, RecordError};

pub const PREDICTIONS_FILE: &str = "predictions.csv";

/// The predicted class, the one rule every stage applies: two classes, class 1
/// when `p(class 1) >= threshold`; more, the most probable class, the first of
/// them on ties ([`first_argmax`]).
pub fn predicted_class(probabilities: &[f64], threshold: f64) -> usize {
    if probabilities.len() == 2 {
        usize::from(probabilities[1] >= threshold)
    } else {
        first_argmax(probabilities)
    }
}

/// Index of the largest value, the first of equal ones.
pub fn first_argmax(values: &[f64]) -> usize {
    let mut best = 0;
    for (i, v) in values.iter().enumerate() {
        if *v > values[best] {
            best = i;
        }
    }
    best
}
const WHAT: &str = "predictions.csv";

/// One image of the evaluation split.
#[derive(Clone, Debug, PartialEq)]
pub struct PredictionRow {
    /// The image's content key (blake3 hex).
    pub key: String,
    /// Its true label, an index into the classes.
    pub label: u32,
    /// p(class) for every class, in class order.
    pub probabilities: Vec<f64>,
}

/// The evaluation split's predictions: header `key,label,p:CLASS…`.
#[derive(Clone, Debug, PartialEq)]
pub struct Predictions {
    pub classes: Vec<String>,
    pub rows: Vec<PredictionRow>,
}

impl Predictions {
    /// Writes the table atomically.
    pub fn write(&self, path: &Path) -> Result<(), RecordError> {
        publish_csv(path, WHAT, |writer| {
            let mut header = vec!["key".to_string(), "label".to_string()];
            header.extend(self.classes.iter().map(|c| format!("p:{c}")));
            writer.write_record(&header)?;
            for row in &self.rows {
                let mut record = vec![row.key.clone(), row.label.to_string()];
                record.extend(row.probabilities.iter().map(|p| p.to_string()));
                writer.write_record(&record)?;
            }
            Ok(())
        })
    }

    pub fn read(path: &Path) -> Result<Self, RecordError> {
        let malformed = |reason: String| RecordError::Malformed {
            path: path.to_path_buf(),
            what: WHAT,
            reason,
        };
        let mut reader = open_csv(path, WHAT)?;
        let header: Vec<String> = reader
            .headers()
            .map_err(|e| malformed(e.to_string()))?
            .iter()
            .map(str::to_string)
            .collect();
        if header.len() < 4 || header[0] != "key" || header[1] != "label" {
            return Err(malformed(format!(
                "columns {header:?}, expected key, label, p:CLASS for two or more classes"
            )));
        }
        let classes = header[2..]
            .iter()
            .map(|c| {
                c.strip_prefix("p:")
                    .map(str::to_string)
                    .ok_or_else(|| malformed(format!("column {c:?} is not p:CLASS")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut rows = Vec::new();
        for (line, record) in reader.records().enumerate() {
            let record = record.map_err(|e| malformed(e.to_string()))?;
            let at = |what: &str| malformed(format!("row {}: {what}", line + 1));
            let label: u32 = record[1]
                .parse()
                .map_err(|_| at("label is not an integer"))?;
            if label as usize >= classes.len() {
                return Err(at("label is not one of the classes"));
            }
            let probabilities = record
                .iter()
                .skip(2)
                .map(|p| {
                    p.parse::<f64>()
                        .map_err(|_| at("a probability is not a number"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            rows.push(PredictionRow {
                key: record[0].to_string(),
                label,
                probabilities,
            });
        }
        Ok(Predictions { classes, rows })
    }
}
