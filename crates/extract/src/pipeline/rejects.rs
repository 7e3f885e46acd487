use std::path::Path;

use dataset::Problem;

use super::ExtractError;

/// A file left out, at scan time (not an image, unreadable) or at decode time
/// (corrupt, truncated, too large).
#[derive(Clone, Debug, PartialEq)]
pub struct Reject {
    pub path: String,
    pub key: Option<String>,
    pub stage: &'static str,
    pub reason: String,
}

impl Reject {
    pub fn from_scan(problem: &Problem) -> Self {
        Reject {
            path: problem.path.clone(),
            key: None,
            stage: "scan",
            reason: problem.reason.clone(),
        }
    }
}

fn csv_field(value: &str) -> String {
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_string()
    }
}

/// `path,stage,reason,key` as RFC 4180 CSV, written atomically.
pub fn write(path: &Path, rejects: &[Reject]) -> Result<(), ExtractError> {
    let mut text = String::from("path,stage,reason,key\n");
    for reject in rejects {
        text.push_str(&format!(
            "{},{},{},{}\n",
            csv_field(&reject.path),
            reject.stage,
            csv_field(&reject.reason),
            reject.key.as_deref().unwrap_or("")
        ));
    }
    super::write_atomically(path, text.as_bytes())
}
