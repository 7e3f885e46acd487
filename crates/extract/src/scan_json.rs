//! The scan report as JSON, for scripts.

use serde_json::{json, Value};

use crate::scan::{Layout, ScanReport};

pub fn to_json(report: &ScanReport) -> Value {
    let counts: serde_json::Map<String, Value> = report
        .counts()
        .into_iter()
        .map(|(split, counts)| {
            let per_class: serde_json::Map<String, Value> = report
                .classes
                .iter()
                .cloned()
                .zip(counts.into_iter().map(Value::from))
                .collect();
            (split.to_string(), Value::Object(per_class))
        })
        .collect();
    json!({
        "root": report.root.display().to_string(),
        "layout": match report.layout { Layout::GivenSplits => "given_splits", Layout::Flat => "flat" },
        "classes": report.classes,
        "counts": counts,
        "images": report.images.iter().map(|i| json!({
            "path": i.path, "key": i.key, "label": i.label, "class": i.class, "split": i.split.as_str(),
            "format": i.format, "width": i.width, "height": i.height, "bytes": i.bytes,
        })).collect::<Vec<_>>(),
        "duplicates": report.duplicates.iter().map(|(d, k)| json!({"path": d, "same_as": k})).collect::<Vec<_>>(),
        "problems": report.problems.iter().map(|p| json!({"path": p.path, "reason": p.reason})).collect::<Vec<_>>(),
    })
}
