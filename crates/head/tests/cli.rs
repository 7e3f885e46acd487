//! `head-train` end to end: a train/val-only dataset in part files, outputs on disk.

mod common;

use std::process::Command;

use contract::Split;
use head::SavedHead;

#[test]
fn train_and_val_only_uses_a_holdout_and_writes_all_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let parts = dir.path().join("b0");
    std::fs::create_dir(&parts).unwrap();
    let classes = ["ants", "bees"];
    let dim = 16;
    let rows = common::mixture_rows(
        dim,
        &classes,
        &[(Split::Train, vec![120, 125]), (Split::Val, vec![75, 78])],
        0.5,
        1,
    );
    let (first, second) = rows.split_at(200);
    // extract records where its weights live; the head carries it on for predict.
    let mut meta = common::meta("b0", dim, &classes);
    meta.extra
        .insert(contract::extra::WEIGHTS_LOCATION.into(), "random:5".into());
    common::write(&parts.join("part-000.parquet"), &meta, first.to_vec());
    common::write(&parts.join("part-001.parquet"), &meta, second.to_vec());
    let out = dir.path().join("run");

    let status = Command::new(env!("CARGO_BIN_EXE_head-train"))
        .arg(&parts)
        .args([
            "--out",
            out.to_str().unwrap(),
            "--epochs",
            "7",
            "--lr",
            "0.05",
            "--standardize",
            "--threshold",
            "val-f1",
            "--seed",
            "3",
        ])
        .status()
        .expect("run head-train");
    assert!(status.success());

    let metrics: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("metrics.json")).unwrap()).unwrap();
    assert_eq!(metrics["roles"]["fit"]["split"], "train");
    assert_eq!(metrics["roles"]["selection"]["split"], "holdout");
    assert_eq!(metrics["roles"]["evaluation"]["split"], "val");
    assert_eq!(metrics["roles"]["holdout_fraction"], 0.1);
    let held_out = metrics["roles"]["selection_rows"].as_u64().unwrap();
    assert_eq!(
        metrics["roles"]["fit_rows"].as_u64().unwrap() + held_out,
        245
    );
    assert!(
        (10..=45).contains(&held_out),
        "holdout of {held_out} rows from 245"
    );
    assert_eq!(metrics["roles"]["evaluation_rows"], 153);
    let evaluation = &metrics["splits"][2];
    assert_eq!(evaluation["role"], "evaluation");
    assert!(
        evaluation["accuracy"].as_f64().unwrap() > 0.8,
        "{evaluation}"
    );
    let confusion: u64 = evaluation["confusion_matrix"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r.as_array().unwrap())
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(confusion, 153);
    assert_eq!(metrics["activation"], "sigmoid");
    assert!(metrics["timing"]["epochs_per_second"].as_f64().unwrap() > 0.0);

    let history = std::fs::read_to_string(out.join("history.csv")).unwrap();
    assert_eq!(history.lines().count(), 1 + 7);
    assert!(history.starts_with("step,train_loss,train_accuracy,val_loss,val_accuracy"));

    let saved = SavedHead::read(&out.join("head.safetensors")).unwrap();
    assert_eq!(saved.classes, classes);
    assert_eq!(saved.head.dim, dim);
    assert_eq!(saved.head.weight.len(), dim);
    assert_eq!(saved.variant, "b0");
    assert_eq!(saved.weights_location.as_deref(), Some("random:5"));
    assert_eq!(
        saved.standardization.as_ref().map(|s| s.mean.len()),
        Some(dim)
    );
    assert_eq!(Some(saved.threshold), metrics["threshold"].as_f64());
}

#[test]
fn bad_option_fails_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_head-train"))
        .arg(dir.path().join("missing.parquet"))
        .args(["--out", dir.path().join("run").to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("missing.parquet"));
}
