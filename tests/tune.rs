//! Top-block fine-tuning end to end on real photos (../shared hymenoptera) with
//! the pretrained Lite0: `extract --tune-top stage` caches activations Python can
//! read, `tune-train` writes head-train's records plus its tune file and repeats
//! bit for bit for a seed and thread count, and `extract predict` / `export`
//! reproduce its evaluation probabilities.

use std::path::{Path, PathBuf};
use std::process::Command;

use effprobe_tests::{
    predict_on_cpu, prediction_gap, read_json, release_binaries, run_probabilities, run_tool,
    workspace_file, PredictionGap,
};

fn tune_train(bin: &Path, features: &Path, out: &Path, extra: &[&str]) {
    let mut args = vec![
        features.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--device",
        "cpu",
        "--quiet",
    ];
    args.extend_from_slice(extra);
    run_tool(bin, "tune-train", &args);
}

#[test]
fn fine_tuning_the_last_stage_of_lite0_on_hymenoptera() {
    let (Some(bin), Some(data), Some(python)) = (
        release_binaries(),
        testkit::shared_dataset("hymenoptera"),
        testkit::python(),
    ) else {
        return;
    };
    let weights = workspace_file("data/weights/lite0.safetensors");
    let work = tempfile::tempdir().unwrap();
    let features = work.path().join("features");
    let lite0 = format!("lite0={}", weights.display());
    let extract_args = [
        "--data",
        data.to_str().unwrap(),
        "--variant",
        "lite0",
        "--weights",
        &lite0,
        "--out",
        features.to_str().unwrap(),
        "--device",
        "cpu",
        "--quiet",
        "--tune-top",
        "stage",
    ];
    run_tool(&bin, "extract", &extract_args);

    // The cache: recorded in run.json with its size, readable without effprobe.
    let record = read_json(&features.join("run.json"));
    let activations = &record["variants"][0]["activations"];
    assert_eq!(activations["cut"]["shape"], serde_json::json!([192, 7, 7]));
    assert_eq!(activations["cut"]["first_block"], 15);
    assert_eq!(activations["bytes_per_image"], 192 * 7 * 7 * 2);
    let rows = record["variants"][0]["rows"].as_u64().unwrap();
    assert_eq!(activations["rows"].as_u64(), Some(rows));
    let dir = activations["dir"].as_str().unwrap();
    let script = workspace_file("tests/python/read_activations.py");
    let table = features.join("lite0.parquet");
    let read: serde_json::Value = serde_json::from_str(
        testkit::run_python(&python, &script, &[table.to_str().unwrap(), dir]).trim(),
    )
    .unwrap();
    assert_eq!(read["rows"].as_u64(), Some(rows), "{read}");
    assert_eq!(read["shapes"], serde_json::json!([[192, 7, 7]]));
    assert_eq!(read["dtypes"], serde_json::json!(["float16"]));
    assert_eq!(read["every_key_present"], true);
    assert_eq!(read["finite"], true);

    // A rerun computes nothing: features and activations both come from the cache.
    run_tool(&bin, "extract", &extract_args);
    let again = read_json(&features.join("run.json"));
    assert_eq!(again["variants"][0]["computed"], 0, "{again}");

    // tune-train: head-train's records, the tune kind recorded.
    let tuned = work.path().join("tuned");
    tune_train(&bin, &table, &tuned, &["--epochs", "3", "--threads", "2"]);
    let metrics = read_json(&tuned.join("metrics.json"));
    assert_eq!(
        metrics["schema_version"],
        contract::metrics::METRICS_SCHEMA_VERSION
    );
    assert_eq!(metrics["options"]["optimizer"], "adamw");
    assert_eq!(metrics["tune"]["cut"]["top_blocks"], 1);
    assert_eq!(metrics["roles"]["selection"]["split"], "holdout");
    assert_eq!(metrics["roles"]["evaluation"]["split"], "val");
    let history = std::fs::read_to_string(tuned.join("history.csv")).unwrap();
    assert_eq!(history.lines().count(), 1 + 3);
    let accuracy = metrics["splits"][2]["accuracy"].as_f64().unwrap();
    assert!(
        accuracy > 0.8,
        "val accuracy {accuracy}: fine-tuning learnt nothing"
    );

    // Same seed and thread count: the same bytes.
    let twin = work.path().join("twin");
    tune_train(&bin, &table, &twin, &["--epochs", "3", "--threads", "2"]);
    for file in ["tune.safetensors", "head.safetensors", "predictions.csv"] {
        assert!(
            std::fs::read(tuned.join(file)).unwrap() == std::fs::read(twin.join(file)).unwrap(),
            "{file} differs between two runs with the same seed and threads"
        );
    }

    // predict on the evaluation images reproduces tune-train's probabilities.
    let predicted = work.path().join("predicted.csv");
    predict_on_cpu(&bin, &tuned, &data.join("val"), &predicted);
    let PredictionGap {
        compared,
        run_rows,
        worst,
    } = prediction_gap(&tuned, &predicted, "bees");
    assert_eq!(compared, run_rows);
    eprintln!("predict vs tune-train: max |Δp| {worst:.2e} over {compared} images");
    assert!(worst <= 1e-5, "predict vs tune-train: max |Δp| {worst:e}");

    // A replaced tune file is refused, naming it.
    std::fs::copy(
        tuned.join("head.safetensors"),
        work.path().join("head.safetensors"),
    )
    .unwrap();
    let mut other = std::fs::read(twin.join("tune.safetensors")).unwrap();
    let last = other.len() - 1;
    other[last] ^= 1;
    std::fs::write(work.path().join("tune.safetensors"), other).unwrap();
    let refused = Command::new(bin.join("extract"))
        .args([
            "predict",
            "--head",
            work.path().to_str().unwrap(),
            "--device",
            "cpu",
        ])
        .arg(data.join("val/ants"))
        .output()
        .unwrap();
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success() && message.contains("tune.safetensors"),
        "{message}"
    );

    // report: the tune run is a third head kind beside a probe of the same features.
    let runs = work.path().join("runs");
    let probe = runs.join("lite0-adam");
    run_tool(
        &bin,
        "head-train",
        &[
            table.to_str().unwrap(),
            "--out",
            probe.to_str().unwrap(),
            "--quiet",
        ],
    );
    let fine_tune = runs.join("lite0-top1");
    std::fs::create_dir_all(&fine_tune).unwrap();
    for entry in std::fs::read_dir(&tuned).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, fine_tune.join(path.file_name().unwrap())).unwrap();
    }
    let report = work.path().join("report");
    run_tool(
        &bin,
        "report",
        &[
            runs.to_str().unwrap(),
            "--features",
            features.to_str().unwrap(),
            "--out",
            report.to_str().unwrap(),
            "--quiet",
        ],
    );
    let rendered = read_json(&report.join("report.json"));
    let kinds: Vec<(&str, &str)> = rendered["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["variant"].as_str().unwrap(), r["head"].as_str().unwrap()))
        .collect();
    assert_eq!(kinds, [("lite0", "adam"), ("lite0", "stage")], "{rendered}");
    let markdown = std::fs::read_to_string(report.join("report.md")).unwrap();
    assert!(
        markdown.contains("| EfficientNet-Lite0 | last-stage fine-tune |"),
        "{markdown}"
    );

    // export: one TorchScript module of the tuned network.
    let module = work.path().join("tuned.pt");
    run_tool(
        &bin,
        "extract",
        &[
            "export",
            "--head",
            tuned.to_str().unwrap(),
            "--device",
            "cpu",
            "--out",
            module.to_str().unwrap(),
        ],
    );
    let sidecar = read_json(&PathBuf::from(format!("{}.json", module.display())));
    let recipe: contract::Preprocessing =
        serde_json::from_value(sidecar["preprocessing"].clone()).unwrap();
    let mut photos: Vec<PathBuf> = ["ants", "bees"]
        .iter()
        .flat_map(|class| {
            let mut names: Vec<PathBuf> = std::fs::read_dir(data.join("val").join(class))
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            names.sort();
            names.into_iter().take(4)
        })
        .collect();
    photos.sort();
    let mut pixels = Vec::new();
    let mut keys = Vec::new();
    for photo in &photos {
        let bytes = std::fs::read(photo).unwrap();
        keys.push(dataset::inspect::content_key(&bytes));
        let rgb =
            extract::preprocess::decode_rgb(&bytes, extract::preprocess::DecodeLimits::default())
                .unwrap();
        pixels.extend(extract::preprocess::resize_for_input(&rgb, &recipe).unwrap());
    }
    let side = i64::from(recipe.input_size);
    let input = tch::Tensor::from_slice(&pixels).view([photos.len() as i64, side, side, 3]);
    let probabilities = tch::CModule::load(&module)
        .unwrap()
        .forward_ts(&[input])
        .unwrap();
    let probabilities: Vec<f32> = Vec::try_from(probabilities.flatten(0, -1)).unwrap();
    let expected = run_probabilities(&tuned);
    let mut worst = 0f64;
    for (i, key) in keys.iter().enumerate() {
        worst = worst.max((f64::from(probabilities[i * 2 + 1]) - expected[key]).abs());
    }
    eprintln!(
        "export vs tune-train: max |Δp| {worst:.2e} over {} images",
        keys.len()
    );
    assert!(worst <= 1e-5, "export vs tune-train: max |Δp| {worst:e}");
}

/// tune-train scores its roles with head-train's code: on ten classes (one,
/// `arrow`, without test images) its evaluation names the missing class and
/// divides nothing by zero, and `--threshold val-f1`, a two-class rule, is
/// refused by both trainers alike, before any training.
#[test]
fn tune_train_on_ten_classes_scores_as_head_train_and_refuses_val_f1() {
    let (Some(bin), Some(python)) = (release_binaries(), testkit::python()) else {
        return;
    };
    let weights = workspace_file("data/weights/lite0.safetensors");
    if !weights.exists() {
        testkit::skip_or_fail::<()>("data/weights/lite0.safetensors missing: run scripts/setup");
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("shapes");
    testkit::run_python(
        &python,
        &workspace_file("tools/make_classes_data.py"),
        &[
            data.to_str().unwrap(),
            "--train",
            "6",
            "--val",
            "2",
            "--test",
            "2",
            "--absent-from-test",
            "arrow",
        ],
    );
    let features = work.path().join("features");
    let lite0 = format!("lite0={}", weights.display());
    run_tool(
        &bin,
        "extract",
        &[
            "--data",
            data.to_str().unwrap(),
            "--variant",
            "lite0",
            "--weights",
            &lite0,
            "--out",
            features.to_str().unwrap(),
            "--device",
            "cpu",
            "--quiet",
            "--tune-top",
            "stage",
        ],
    );
    let table = features.join("lite0.parquet");

    for tool in ["tune-train", "head-train"] {
        let out = work.path().join(format!("refused-{tool}"));
        let output = Command::new(bin.join(tool))
            .arg(&table)
            .args(["--threshold", "val-f1", "--out"])
            .arg(&out)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{tool}: {stderr}");
        assert!(
            stderr.contains(
                "--threshold val-f1 applies to two classes only (these features have 10)"
            ),
            "{tool}: {stderr}"
        );
        assert!(!out.join("metrics.json").exists(), "{tool} wrote results");
    }

    let tuned = work.path().join("tuned");
    tune_train(&bin, &table, &tuned, &["--epochs", "1", "--threads", "2"]);
    let text = std::fs::read_to_string(tuned.join("metrics.json")).unwrap();
    assert!(!text.contains("NaN") && !text.contains("inf"));
    let metrics = read_json(&tuned.join("metrics.json"));
    let evaluation = &metrics["splits"][2];
    assert_eq!(evaluation["role"], "evaluation");
    assert_eq!(evaluation["classes_absent"], serde_json::json!(["arrow"]));
    assert_eq!(evaluation["rows"], 18);
    let arrow = evaluation["per_class"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["class"] == "arrow")
        .unwrap();
    assert_eq!(
        (arrow["support"].as_u64(), arrow["recall"].is_null()),
        (Some(0), true)
    );
    assert!(evaluation["top5_accuracy"].is_number() && evaluation["macro_f1"].is_number());
    assert_eq!(evaluation["roc_auc_averaging"], "macro-ovr");
}
