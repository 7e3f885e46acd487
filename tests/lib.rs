//! Helpers for the cross-crate tests: the release binaries and the scripts that
//! chain them. The binaries belong to other packages, so they are found in the
//! workspace's target folder (`scripts/test` builds them first).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

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

/// Runs `bin/tool args`, which must succeed (its stderr in the panic otherwise).
pub fn run_tool(bin: &Path, tool: &str, args: &[&str]) -> Output {
    let output = Command::new(bin.join(tool))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot start {tool}: {e}"));
    assert!(
        output.status.success(),
        "{tool} {args:?} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// `extract predict` of the head (or tune run) in `head` over the images under
/// `images`, on the CPU, into the CSV `out`.
pub fn predict_on_cpu(bin: &Path, head: &Path, images: &Path, out: &Path) {
    run_tool(
        bin,
        "extract",
        &[
            "predict",
            "--head",
            head.to_str().unwrap(),
            "--device",
            "cpu",
            "--quiet",
            "--out",
            out.to_str().unwrap(),
            images.to_str().unwrap(),
        ],
    );
}

/// How `extract predict`'s CSV (`predicted`, column `p_CLASS`) compares with the
/// probabilities a head-train or tune-train run wrote for the same images.
pub struct PredictionGap {
    /// Rows of `predicted` compared.
    pub compared: usize,
    /// Rows of the run's predictions.csv.
    pub run_rows: usize,
    /// The largest |p_predict - p_run|.
    pub worst: f64,
}

/// key → p(class 1) of a head-train or tune-train run's predictions.csv.
pub fn run_probabilities(run: &Path) -> HashMap<String, f64> {
    let path = run.join("predictions.csv");
    csv::Reader::from_path(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .records()
        .map(|r| {
            let r = r.expect("predictions.csv row");
            // key, ..., p(class 1) in the fourth column.
            (r[0].to_string(), r[3].parse().expect("a probability"))
        })
        .collect()
}

pub fn prediction_gap(run: &Path, predicted: &Path, class: &str) -> PredictionGap {
    let expected = run_probabilities(run);
    let mut predictions = csv::Reader::from_path(predicted)
        .unwrap_or_else(|e| panic!("{}: {e}", predicted.display()));
    let header = predictions.headers().expect("a header").clone();
    let column = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no {name} column in {}", predicted.display()))
    };
    let (key, probability) = (column("key"), column(&format!("p_{class}")));
    let mut gap = PredictionGap {
        compared: 0,
        run_rows: expected.len(),
        worst: 0.0,
    };
    for record in predictions.records() {
        let record = record.expect("predicted row");
        let p: f64 = record[probability].parse().expect("a probability");
        gap.worst = gap.worst.max((p - expected[&record[key]]).abs());
        gap.compared += 1;
    }
    gap
}
