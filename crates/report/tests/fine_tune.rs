//! tune-train runs beside head-train runs of the same variants, rendered from
//! files: each tune run is a committed head-train fixture run (make_fixtures.rs)
//! rewritten as tune-train writes its records (metrics.json schema 3, optimizer
//! `adamw`, a `tune` object shaped as a real Lite0 run's; the same four files
//! and a `tune.safetensors` the report does not read), with sharper
//! probabilities and its evaluation scores recomputed from them. The table shows
//! both kinds per variant, labelled `top-N fine-tune`, and every Δ, ratio and
//! McNemar test stays within one kind.

use std::collections::HashMap;
use std::path::Path;

use contract::predictions::Predictions;
use report::ReportInputs;
use serde_json::{json, Value};

mod common;

use common::{copy_files, evaluation, fixtures, read_json};

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * a.abs().max(b.abs()).max(1.0)
}

/// A fine-tune made from a fixture probe: `(run, from, blocks tuned, sharpening,
/// training seconds)`. The b2 top-2 run scores best of all, alone in its kind.
const TUNES: [(&str, &str, u64, f64, f64); 4] = [
    ("b0-top1", "b0", 1, 1.0, 2.5),
    ("b1-top1", "b1", 1, 1.0, 3.5),
    ("b2-top1", "b2", 1, 1.0, 4.5),
    ("b2-top2", "b2", 2, 3.0, 7.25),
];
/// Early-stopped: fewer epochs than the Adam probes' 10.
const TUNE_EPOCHS: usize = 6;
const TUNE_BATCH: u64 = 32;

/// Evaluation scores of two-class predictions at threshold 0.5, as head-train
/// and tune-train compute them.
fn evaluation_scores(predictions: &Predictions) -> Value {
    let n = predictions.rows.len();
    let mut confusion = [[0u64; 2]; 2];
    let mut loss = 0.0;
    for row in &predictions.rows {
        let predicted = usize::from(row.probabilities[1] >= 0.5);
        confusion[row.label as usize][predicted] += 1;
        loss -= row.probabilities[row.label as usize].ln();
    }
    let (tp, fp, fn_) = (
        confusion[1][1] as f64,
        confusion[0][1] as f64,
        confusion[1][0] as f64,
    );
    let precision = tp / (tp + fp);
    let recall = tp / (tp + fn_);
    let score = |label: u32| -> Vec<f64> {
        predictions
            .rows
            .iter()
            .filter(|r| r.label == label)
            .map(|r| r.probabilities[1])
            .collect()
    };
    let (positives, negatives) = (score(1), score(0));
    let mut wins = 0.0;
    for p in &positives {
        for q in &negatives {
            wins += if p > q {
                1.0
            } else if p == q {
                0.5
            } else {
                0.0
            };
        }
    }
    json!({
        "log_loss": loss / n as f64,
        "accuracy": (confusion[0][0] + confusion[1][1]) as f64 / n as f64,
        "roc_auc": wins / (positives.len() * negatives.len()) as f64,
        "precision": precision,
        "recall": recall,
        "f1": 2.0 * precision * recall / (precision + recall),
        "confusion_matrix": confusion,
    })
}

/// Per image key, whether the run's predictions get it right (threshold 0.5).
fn hits(dir: &Path) -> HashMap<String, bool> {
    Predictions::read(&dir.join("predictions.csv"))
        .unwrap()
        .rows
        .iter()
        .map(|r| {
            let predicted = u32::from(r.probabilities[1] >= 0.5);
            (r.key.clone(), predicted == r.label)
        })
        .collect()
}

/// The fixture runs plus the fine-tunes of [`TUNES`], under `runs`.
fn runs_with_fine_tunes(runs: &Path) {
    for entry in std::fs::read_dir(fixtures().join("runs")).unwrap() {
        let from = entry.unwrap().path();
        copy_files(&from, &runs.join(from.file_name().unwrap()));
    }
    for (run, from, blocks, sharpening, seconds) in TUNES {
        let dir = runs.join(run);
        copy_files(&fixtures().join("runs").join(from), &dir);

        // Fine-tuned: more confident, and right more often.
        let mut predictions = Predictions::read(&dir.join("predictions.csv")).unwrap();
        for row in &mut predictions.rows {
            let p = row.probabilities[1];
            let sign = if row.label == 1 { 1.0 } else { -1.0 };
            let logit = 2.0 * (p / (1.0 - p)).ln() + sharpening * sign;
            let p = 1.0 / (1.0 + (-logit).exp());
            row.probabilities = vec![1.0 - p, p];
        }
        predictions.write(&dir.join("predictions.csv")).unwrap();

        let metrics_path = dir.join("metrics.json");
        let mut metrics = read_json(&metrics_path);
        metrics["schema_version"] = json!(3);
        metrics["tool_version"] = json!("effprobe tune 0.1.0");
        metrics["options"]["optimizer"] = json!("adamw");
        metrics["options"]["lr"] = json!(0.001);
        metrics["options"]["batch_size"] = json!(TUNE_BATCH);
        let chosen = metrics["chosen"].as_u64().unwrap() as usize;
        metrics["candidates"][chosen]["epochs"] = json!(TUNE_EPOCHS);
        metrics["candidates"][chosen]["best_epoch"] = json!(TUNE_EPOCHS - 2);
        metrics["timing"]["training_seconds"] = json!(seconds);
        metrics["timing"]["chosen_head_seconds"] = json!(seconds);
        let scores = evaluation_scores(&predictions);
        for split in metrics["splits"].as_array_mut().unwrap() {
            if split["role"] == "evaluation" {
                for (key, value) in scores.as_object().unwrap() {
                    split[key] = value.clone();
                }
            }
        }
        let total_blocks = 16;
        metrics["tune"] = json!({
            "cut": {
                "top_blocks": blocks,
                "first_block": total_blocks - blocks,
                "total_blocks": total_blocks,
                "shape": [192, 7, 7],
            },
            "weight_decay": 0.01,
            "schedule": "cosine",
            "update_batch_norm": false,
            "device": "cpu",
            "trainable_parameters": 1_018_881 * blocks,
            "activations": format!("features/.cache/{from}-top{blocks}-0123456789abcdef"),
            "sweep_weight_decay": [],
        });
        std::fs::write(
            &metrics_path,
            serde_json::to_string_pretty(&metrics).unwrap(),
        )
        .unwrap();

        // history.csv: the epochs run.
        let history = std::fs::read_to_string(dir.join("history.csv")).unwrap();
        let kept: Vec<&str> = history.lines().take(1 + TUNE_EPOCHS).collect();
        std::fs::write(dir.join("history.csv"), kept.join("\n") + "\n").unwrap();
        // The tuned blocks: tune-train's extra file, which the report does not read.
        std::fs::write(dir.join("tune.safetensors"), b"not read by report").unwrap();
    }
}

#[test]
fn fine_tunes_are_a_third_head_kind_beside_the_probes() {
    let work = tempfile::tempdir().unwrap();
    let runs = work.path().join("runs");
    runs_with_fine_tunes(&runs);
    let out = work.path().join("report");
    let written = report::render(
        &ReportInputs {
            runs: runs.clone(),
            features: Some(fixtures().join("features")),
        },
        &out,
    )
    .expect("report renders");

    let report = read_json(&out.join("report.json"));
    let rows = report["rows"].as_array().unwrap();
    let order: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r["run"].as_str().unwrap(), r["head"].as_str().unwrap()))
        .collect();
    assert_eq!(
        order,
        [
            ("b0", "adam"),
            ("b1", "adam"),
            ("b2", "adam"),
            ("b0-lbfgs", "lbfgs"),
            ("b2-lbfgs", "lbfgs"),
            ("b0-top1", "top1"),
            ("b1-top1", "top1"),
            ("b2-top1", "top1"),
            ("b2-top2", "top2"),
        ],
        "kinds in order (Adam, L-BFGS, fine-tunes by blocks), each B0 first"
    );
    let row = |run: &str| rows.iter().find(|r| r["run"] == run).unwrap();

    // Each variant has a probe row and a fine-tune row; the same backbone pass
    // (extraction time, sizes) stands behind both.
    let record = read_json(&fixtures().join("features/run.json"));
    for (run, from, _, _, seconds) in TUNES {
        let (tune, probe) = (row(run), row(from));
        assert_eq!(tune["variant"], probe["variant"], "{run}");
        assert_eq!(tune["model"], probe["model"], "{run}");
        for key in ["image_size", "weights_bytes", "parameters"] {
            assert_eq!(tune[key], probe[key], "{run} {key}");
        }
        let metrics = read_json(&runs.join(run).join("metrics.json"));
        let evaluation = evaluation(&metrics);
        for (ours, theirs) in [
            ("test_loss", "log_loss"),
            ("test_accuracy", "accuracy"),
            ("test_roc_auc", "roc_auc"),
            ("test_f1", "f1"),
        ] {
            assert_eq!(tune[ours], evaluation[theirs], "{run} {ours}");
        }
        let extraction = record["variants"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["variant"] == from)
            .unwrap()["backbone_seconds"]
            .as_f64()
            .unwrap();
        assert_eq!(tune["extraction_seconds"], probe["extraction_seconds"]);
        assert_eq!(tune["extraction_seconds"].as_f64(), Some(extraction));
        // Batch size shown; the time column is tune-train's training_seconds.
        assert_eq!(tune["batch_size"].as_u64(), Some(TUNE_BATCH), "{run}");
        assert_eq!(tune["head_seconds"].as_f64(), Some(seconds), "{run}");
        assert!(close(
            tune["total_seconds"].as_f64().unwrap(),
            extraction + seconds
        ));
        // Its own epochs for the retraining estimate.
        assert_eq!(tune["epochs"].as_u64(), Some(TUNE_EPOCHS as u64), "{run}");
        assert!(close(
            tune["estimated_retraining_seconds"].as_f64().unwrap(),
            extraction * TUNE_EPOCHS as f64
        ));
    }
    // The full-batch solver still borrows the Adam heads' 10 epochs, not a fine-tune's.
    assert_eq!(row("b0-lbfgs")["epochs"].as_u64(), Some(10));

    // Baselines within the kind: B0 of it, else its first row.
    for (run, baseline) in [
        ("b1", "b0"),
        ("b2-lbfgs", "b0-lbfgs"),
        ("b0-top1", "b0-top1"),
        ("b1-top1", "b0-top1"),
        ("b2-top1", "b0-top1"),
        ("b2-top2", "b2-top2"),
    ] {
        let r = row(run);
        let base = row(baseline);
        assert_eq!(r["baseline"], baseline, "{run}");
        let difference = r["test_loss"].as_f64().unwrap() - base["test_loss"].as_f64().unwrap();
        assert!(close(
            r["test_loss_difference"].as_f64().unwrap(),
            difference
        ));
        let ratio = r["total_seconds"].as_f64().unwrap() / base["total_seconds"].as_f64().unwrap();
        assert!(close(r["time_ratio"].as_f64().unwrap(), ratio), "{run}");
    }

    // McNemar pairs a row with the row above only when both are of one kind,
    // with the counts the two prediction files give.
    let mut paired = 0;
    for (i, r) in rows.iter().enumerate() {
        let test = &r["versus_previous"];
        let previous = i.checked_sub(1).map(|j| &rows[j]);
        match previous.filter(|p| p["head"] == r["head"]) {
            None => assert!(test.is_null(), "{}: paired across kinds: {test}", r["run"]),
            Some(previous) => {
                assert_eq!(test["against"], previous["run"], "{}", r["run"]);
                let against = &rows.iter().find(|x| x["run"] == test["against"]).unwrap()["head"];
                assert_eq!(against, &r["head"], "{}", r["run"]);
                let this = hits(&runs.join(r["run"].as_str().unwrap()));
                let other = hits(&runs.join(previous["run"].as_str().unwrap()));
                let only = |a: &HashMap<String, bool>, b: &HashMap<String, bool>| {
                    a.iter().filter(|(k, hit)| **hit && !b[*k]).count() as u64
                };
                let (only_this, only_other) = (only(&this, &other), only(&other, &this));
                assert_eq!(test["images"].as_u64(), Some(this.len() as u64));
                assert_eq!(test["only_this"].as_u64(), Some(only_this), "{}", r["run"]);
                assert_eq!(
                    test["only_other"].as_u64(),
                    Some(only_other),
                    "{}",
                    r["run"]
                );
                let p = report::stats::mcnemar_exact(only_this as usize, only_other as usize);
                assert_eq!(test["p_value"].as_f64(), Some(p), "{}", r["run"]);
                paired += 1;
            }
        }
    }
    // b1, b2; b2-lbfgs; b1-top1, b2-top1.
    assert_eq!(paired, 5);
    assert!(row("b0-top1")["versus_previous"].is_null());
    assert!(row("b2-top2")["versus_previous"].is_null());

    // The recommendation weighs one kind with two runs or more: b2-top2 has the
    // lowest loss of all but nothing of its kind to be weighed against.
    let best = rows
        .iter()
        .min_by(|a, b| {
            a["test_loss"]
                .as_f64()
                .unwrap()
                .total_cmp(&b["test_loss"].as_f64().unwrap())
        })
        .unwrap();
    assert_eq!(best["run"], "b2-top2");
    let recommendation = &report["recommendation"];
    let kind = recommendation["head"].as_str().unwrap();
    assert_ne!(kind, "top2", "{recommendation}");
    let label = report::table::head_label(kind);
    let text = recommendation["text"].as_str().unwrap();
    assert!(
        text.starts_with(&format!("Among the {label} ")),
        "{kind}: {text}"
    );
    for run in recommendation["front"].as_array().unwrap() {
        assert_eq!(row(run.as_str().unwrap())["head"], kind, "{recommendation}");
    }

    // The markdown (and the HTML's same cells): labels, batch size, the time column.
    let markdown = std::fs::read_to_string(&written.markdown).unwrap();
    let b0_tune = row("b0-top1");
    for line in [
        "| EfficientNet-B0 | Adam | 224×224 | 16 |".to_string(),
        "| EfficientNet-B0 | L-BFGS | 224×224 | full |".to_string(),
        format!(
            "| EfficientNet-B0 | top-1 fine-tune | 224×224 | {TUNE_BATCH} | 21.4 MB | 4,007,548 | {:.4} ",
            b0_tune["test_loss"].as_f64().unwrap()
        ),
        format!(
            "| {} | {} | {} | 1.00× |",
            report::format::duration(4.125),
            report::format::duration(2.5),
            report::format::duration(4.125 + 2.5)
        ),
        "| EfficientNet-B1 | top-1 fine-tune | 240×240 |".to_string(),
        "| EfficientNet-B2 | top-1 fine-tune | 260×260 |".to_string(),
        "| EfficientNet-B2 | top-2 fine-tune | 260×260 |".to_string(),
    ] {
        assert!(markdown.contains(&line), "missing\n{line}\nin\n{markdown}");
    }
    let footnotes: Vec<&str> = report["footnotes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    assert!(
        footnotes
            .iter()
            .any(|n| n.starts_with("top-N fine-tune: tune-train trained the last N blocks")),
        "{footnotes:?}"
    );
    let html = std::fs::read_to_string(&written.html).unwrap();
    assert!(html.contains("<td>top-1 fine-tune</td>"), "{html}");
    assert!(html.contains("<td>top-2 fine-tune</td>"));
    assert!(html.contains("fine-tuned top blocks on the cached activations"));

    // The CSV: the kind as the JSON has it.
    let mut csv = csv::Reader::from_path(&written.csv).unwrap();
    let headers = csv.headers().unwrap().clone();
    let head = headers.iter().position(|h| h == "head").unwrap();
    let kinds: Vec<String> = csv
        .records()
        .map(|r| r.unwrap()[head].to_string())
        .collect();
    assert_eq!(
        kinds,
        order.iter().map(|(_, k)| k.to_string()).collect::<Vec<_>>()
    );

    // Plots name the kind: axis labels, the scatter's series, the history panels.
    let plot = |name: &str| {
        &written
            .plots
            .iter()
            .find(|p| p.name == name)
            .unwrap_or_else(|| panic!("no plot {name}"))
            .svg
    };
    let drawn = |svg: &str, text: &str| {
        svg.contains(&format!(">{text}<")) || svg.contains(&format!("\n{text}\n</text>"))
    };
    for name in ["accuracy_loss", "time"] {
        for label in [
            "B0 Adam",
            "B0 L-BFGS",
            "B0 top-1 fine-tune",
            "B2 top-2 fine-tune",
        ] {
            assert!(drawn(plot(name), label), "{name}: {label}");
        }
    }
    for series in [
        "Adam head",
        "L-BFGS head",
        "top-1 fine-tune",
        "top-2 fine-tune",
    ] {
        assert!(
            drawn(plot("accuracy_vs_parameters"), series),
            "scatter: {series}"
        );
    }
    for title in [
        "EfficientNet-B0 (Adam head)",
        "EfficientNet-B0 (top-1 fine-tune)",
        "EfficientNet-B2 (top-2 fine-tune)",
    ] {
        assert!(drawn(plot("history"), title), "history: {title}");
    }
    assert!(drawn(
        plot("time"),
        "ours: training on cached features (head; fine-tune: top blocks + head)"
    ));
    // Nine labels as wide as `B0 top-1 fine-tune` cannot stand side by side in a
    // half-width panel: they stand upright instead of overlapping.
    assert!(
        plot("accuracy_loss").contains("rotate(270"),
        "accuracy_loss labels upright"
    );
    for plot in &written.plots {
        for (axis, labels) in &plot.axes {
            if let Some(problem) = report::plots::ticks::unreadable(labels) {
                panic!("{} {axis}: {problem}", plot.name);
            }
        }
    }
}
