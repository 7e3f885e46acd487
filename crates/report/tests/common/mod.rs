//! Helpers the report tests share: the committed fixtures and copies of them.

use std::path::{Path, PathBuf};

use serde_json::Value;

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Every file directly in `from`, copied into `to` (created).
pub fn copy_files(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, to.join(path.file_name().unwrap())).unwrap();
    }
}

pub fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The split of a `metrics.json` with the evaluation role.
pub fn evaluation(metrics: &Value) -> Value {
    metrics["splits"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["role"] == "evaluation")
        .unwrap()
        .clone()
}
