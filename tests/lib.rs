//! Helpers for the cross-crate tests: the release binaries and the scripts that
//! chain them. The binaries belong to other packages, so they are found in the
//! workspace's target folder (`scripts/test` builds them first).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// `target/release` (or `$EFFPROBE_BIN`), checked to hold every binary.
pub fn release_binaries() -> Option<PathBuf> {
    let dir = std::env::var_os("EFFPROBE_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| testkit::workspace_root().join("target/release"));
    let missing: Vec<&str> = ["extract", "head-train", "report", "tune-train"]
        .into_iter()
        .filter(|tool| !dir.join(tool).exists())
        .collect();
    if missing.is_empty() {
        Some(dir)
    } else {
        testkit::skip_or_fail(&format!(
            "{} lacks {}: run `cargo build --release --workspace` (scripts/test does)",
            dir.display(),
            missing.join(", ")
        ))
    }
}

/// A file under the workspace root.
pub fn workspace_file(relative: &str) -> PathBuf {
    testkit::workspace_root().join(relative)
}

pub fn read_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `tools/export_backbone.py MODEL --weights WEIGHTS --out DIR/NAME.pt`: a timm
/// model exported to TorchScript with its sidecar (NAME.pt.json). `None` (a
/// visible skip, a failure under CI) when Python is missing.
pub fn export_backbone(model: &str, weights: &str, dir: &Path, name: &str) -> Option<PathBuf> {
    let python = testkit::python()?;
    let module = dir.join(format!("{name}.pt"));
    testkit::run_python(
        &python,
        &workspace_file("tools/export_backbone.py"),
        &[
            model,
            "--weights",
            weights,
            "--out",
            module.to_str().expect("utf-8 temp path"),
        ],
    );
    Some(module)
}

/// key → feature row of a feature file (or folder of part files).
pub fn features_by_key(table: &Path) -> HashMap<String, Vec<f32>> {
    let batch = contract::FeatureDataset::open(table)
        .unwrap_or_else(|e| panic!("{}: {e}", table.display()))
        .read_all()
        .expect("feature rows");
    (0..batch.len())
        .map(|row| (batch.keys[row].clone(), batch.feature(row).to_vec()))
        .collect()
}
