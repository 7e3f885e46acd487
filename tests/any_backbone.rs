//! Exported TorchScript backbones through every stage, beside the native
//! EfficientNet: one decode feeds both at their own input sizes, the cache is
//! keyed by the module's blake3, a rerun computes nothing, a shard and bf16 work,
//! head-train trains on the module's features, `extract predict` and `extract
//! export` reproduce its probabilities with the identity checked, and every
//! misuse (a replaced module, a missing sidecar, another input size,
//! `--tune-top`, `--weights` for a module) is a one-line error before any image
//! is decoded.
//!
//! Modules are made by tools/export_backbone.py from seeded random weights
//! (timm's `resnet18`, small and quick on a CPU); conformance to timm's own
//! features is tests/timm_conformance.rs.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use contract::FeatureDataset;
use effprobe_tests::{
    export_backbone, features_by_key, predict_on_cpu, prediction_gap, read_json, release_binaries,
    run_tool, workspace_file, PredictionGap,
};

/// 12 ants and 12 bees from hymenoptera's train and val, as split folders.
fn sample(dir: &Path) -> Option<PathBuf> {
    let shared = testkit::shared_dataset("hymenoptera")?;
    for split in ["train", "val"] {
        for class in ["ants", "bees"] {
            let class_dir = |root: &Path| root.join(split).join(class);
            testkit::copy_photos(&class_dir(&shared), 0, 12, &class_dir(dir));
        }
    }
    Some(dir.to_path_buf())
}

/// One exported random resnet18 for every test of this file: exporting runs
/// Python and timm, so it happens once.
fn exported() -> Option<&'static Path> {
    static MODULE: OnceLock<Option<(tempfile::TempDir, PathBuf)>> = OnceLock::new();
    MODULE
        .get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            let module = export_backbone("resnet18", "random:3", dir.path(), "r18")?;
            Some((dir, module))
        })
        .as_ref()
        .map(|(_, module)| module.as_path())
}

/// The one-line error of a command that must fail with exit code `code`.
fn fails(bin: &Path, tool: &str, args: &[&str], code: i32) -> String {
    let output = Command::new(bin.join(tool)).args(args).output().unwrap();
    let message = String::from_utf8_lossy(&output.stderr).to_string();
    assert_eq!(
        output.status.code(),
        Some(code),
        "{tool} {args:?}: {message}"
    );
    message
}

fn lite0() -> Option<String> {
    let path = workspace_file("data/weights/lite0.safetensors");
    if path.exists() {
        Some(path.display().to_string())
    } else {
        testkit::skip_or_fail(&format!("{} missing: run scripts/setup", path.display()))
    }
}

#[test]
fn a_module_runs_beside_the_native_network_through_every_stage() {
    let (Some(bin), Some(module), Some(lite0)) = (release_binaries(), exported(), lite0()) else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let Some(data) = sample(&work.path().join("data")) else {
        return;
    };
    let features = work.path().join("features");
    let variants = format!("lite0,r18={}", module.display());
    let extract_args = |out: &Path| -> Vec<String> {
        [
            "--variant",
            &variants,
            "--weights",
            &format!("lite0={lite0}"),
            "--data",
            data.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--device",
            "cpu",
            "--batch-size",
            "8",
            "--quiet",
        ]
        .map(String::from)
        .to_vec()
    };
    let args = extract_args(&features);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run_tool(&bin, "extract", &args);

    let record = read_json(&features.join("run.json"));
    let module_record = record["variants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["variant"] == "r18")
        .expect("r18 in run.json");
    assert_eq!(module_record["rows"], 48);
    assert_eq!(module_record["feature_dim"], 512);
    let module_bytes = std::fs::read(module).unwrap();
    assert_eq!(
        module_record["weights_blake3"],
        blake3::hash(&module_bytes).to_hex().to_string(),
        "the module's bytes are its weights' identity"
    );
    let meta = FeatureDataset::open(features.join("r18.parquet"))
        .unwrap()
        .meta()
        .clone();
    assert_eq!(
        meta.backbone_parameters(),
        Some(11_176_512),
        "resnet18 without its fc"
    );
    assert_eq!(meta.weights_bytes(), Some(module_bytes.len() as u64));
    assert_eq!(
        meta.weights_location(),
        Some(std::fs::canonicalize(module).unwrap().to_str().unwrap())
    );
    assert!(
        meta.feature_layer.contains("pre_logits=True"),
        "{}",
        meta.feature_layer
    );
    assert_eq!(
        meta.preprocessing.crop_fraction,
        224.0 / 235.0,
        "timm's crop_pct 0.95"
    );

    // A rerun computes nothing, for the module as for the native network.
    run_tool(&bin, "extract", &args);
    let rerun = read_json(&features.join("run.json"));
    for variant in rerun["variants"].as_array().unwrap() {
        assert_eq!(variant["computed"], 0, "{variant}");
        assert_eq!(variant["cached_hits"], 48, "{variant}");
    }

    // One shard of two holds its share of the same rows, bit for bit.
    let sharded = work.path().join("sharded");
    let mut shard_args = extract_args(&sharded);
    shard_args.extend(["--shard".into(), "0/2".into()]);
    let shard_args: Vec<&str> = shard_args.iter().map(String::as_str).collect();
    run_tool(&bin, "extract", &shard_args);
    let whole = features_by_key(&features.join("r18.parquet"));
    let part = features_by_key(&sharded.join("r18"));
    assert!(!part.is_empty() && part.len() < whole.len());
    for (key, row) in &part {
        assert_eq!(&whole[key], row, "{key}");
    }

    // bf16 on the CPU: the module cast as a whole, features near fp32's.
    let bf16 = work.path().join("bf16");
    let mut bf16_args = extract_args(&bf16);
    bf16_args[1] = format!("r18={}", module.display());
    bf16_args.drain(2..4);
    bf16_args.extend(["--precision".into(), "bf16".into()]);
    let bf16_args: Vec<&str> = bf16_args.iter().map(String::as_str).collect();
    run_tool(&bin, "extract", &bf16_args);
    let reduced = features_by_key(&bf16.join("r18.parquet"));
    let mut worst = 0f64;
    for (key, row) in &reduced {
        let exact = &whole[key];
        let scale = exact.iter().fold(0f32, |m, v| m.max(v.abs())) as f64;
        let error = row
            .iter()
            .zip(exact)
            .fold(0f64, |m, (a, b)| m.max(f64::from((a - b).abs())));
        worst = worst.max(error / scale);
    }
    eprintln!("r18 bf16 vs fp32 on the CPU: max relative error {worst:.2e}");
    assert!(worst < 0.1, "bf16 features stray {worst:.2e} from fp32's");

    // A head on the module's features; predict and export reproduce it.
    let runs = work.path().join("runs");
    let head = runs.join("r18-lbfgs");
    let table = features.join("r18.parquet");
    run_tool(
        &bin,
        "head-train",
        &[
            table.to_str().unwrap(),
            "--optimizer",
            "lbfgs",
            "--out",
            head.to_str().unwrap(),
            "--quiet",
        ],
    );
    let predicted = work.path().join("predicted.csv");
    predict_on_cpu(&bin, &head, &data.join("val"), &predicted);
    let PredictionGap {
        compared, worst, ..
    } = prediction_gap(&head, &predicted, "bees");
    assert_eq!(compared, 24);
    assert!(worst <= 1e-5, "predict vs head-train: max |Δp| {worst:e}");

    let served = work.path().join("served.pt");
    run_tool(
        &bin,
        "extract",
        &[
            "export",
            "--head",
            head.to_str().unwrap(),
            "--out",
            served.to_str().unwrap(),
        ],
    );
    let sidecar = read_json(&PathBuf::from(format!("{}.json", served.display())));
    assert_eq!(sidecar["variant"], "r18");
    assert_eq!(sidecar["input"]["shape"][1], 224);

    // The report reads both families into one table.
    let lite_head = runs.join("lite0-lbfgs");
    run_tool(
        &bin,
        "head-train",
        &[
            features.join("lite0.parquet").to_str().unwrap(),
            "--optimizer",
            "lbfgs",
            "--out",
            lite_head.to_str().unwrap(),
            "--quiet",
        ],
    );
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
    let markdown = std::fs::read_to_string(report.join("report.md")).unwrap();
    assert!(
        markdown.contains("| resnet18 (r18) |") && markdown.contains("| EfficientNet-Lite0 |"),
        "{markdown}"
    );
    assert!(
        markdown.contains("11,176,512"),
        "module parameters in the table"
    );
}

#[test]
fn misused_modules_are_refused_before_any_image_is_read() {
    let (Some(bin), Some(module)) = (release_binaries(), exported()) else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    // No images at all: every refusal must come before the scan.
    let data = work.path().join("no-such-data");
    std::fs::create_dir_all(&data).unwrap();
    let out = work.path().join("out");
    let common = |variant: &str| -> Vec<String> {
        [
            "--variant",
            variant,
            "--data",
            data.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--device",
            "cpu",
        ]
        .map(String::from)
        .to_vec()
    };
    let refused = |extra: &[&str], variant: &str| -> String {
        let mut args = common(variant);
        args.extend(extra.iter().map(|s| s.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        fails(&bin, "extract", &args, 1)
    };
    let entry = format!("r18={}", module.display());

    let message = refused(&["--tune-top", "1"], &entry);
    assert!(
        message.contains("native") && message.contains("r18"),
        "{message}"
    );

    let message = refused(&["--input-size", "200"], &entry);
    assert!(
        message.contains("224") && message.contains("200"),
        "{message}"
    );

    let message = refused(&["--weights", "r18=random:0"], &entry);
    assert!(message.contains("r18"), "{message}");

    // A module replaced after export, and one without its sidecar.
    let copy = work.path().join("copy.pt");
    let mut bytes = std::fs::read(module).unwrap();
    bytes.push(0);
    std::fs::write(&copy, &bytes).unwrap();
    std::fs::copy(
        format!("{}.json", module.display()),
        format!("{}.json", copy.display()),
    )
    .unwrap();
    let message = refused(&[], &format!("r18={}", copy.display()));
    assert!(message.contains("replaced after export"), "{message}");
    std::fs::remove_file(format!("{}.json", copy.display())).unwrap();
    let message = refused(&[], &format!("r18={}", copy.display()));
    assert!(
        message.contains("sidecar") && message.contains("export_backbone.py"),
        "{message}"
    );

    // A bad id is a usage error (exit 2 is clap's; this one is ours: 1 with the rule).
    let message = refused(&[], &format!("../r18={}", module.display()));
    assert!(message.contains("not a usable backbone id"), "{message}");
    assert!(!out.join("run.json").exists(), "nothing was extracted");
}
