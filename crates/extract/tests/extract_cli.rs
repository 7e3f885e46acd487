//! The `extract` binary end to end on real photos: counts, cache hits, renames,
//! additions, and a `kill -9` in the middle of a run followed by a resume that
//! ends identical to an uninterrupted run.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use featurefile::FeatureDataset;

const EXTRACT: &str = env!("CARGO_BIN_EXE_extract");

/// 24 ants and 24 bees from hymenoptera's train split, copied so the test may
/// rename and add files.
fn sample(dir: &Path) -> Option<PathBuf> {
    let shared = testkit::shared_dataset("hymenoptera")?;
    for class in ["ants", "bees"] {
        std::fs::create_dir_all(dir.join(class)).unwrap();
        let mut names: Vec<_> = std::fs::read_dir(shared.join("train").join(class))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "jpg"))
            .collect();
        names.sort();
        for path in names.iter().take(24) {
            std::fs::copy(path, dir.join(class).join(path.file_name().unwrap())).unwrap();
        }
    }
    Some(shared)
}

fn extract_command(data: &Path, out: &Path) -> Command {
    let mut command = Command::new(EXTRACT);
    command.args([
        "--variant",
        "b0",
        "--weights",
        "random:7",
        "--device",
        "cpu",
        "--quiet",
    ]);
    command.args(["--batch-size", "4", "--chunk-rows", "4"]);
    command.arg("--data").arg(data).arg("--out").arg(out);
    command
}

fn run_extract(data: &Path, out: &Path) -> serde_json::Value {
    let output = extract_command(data, out).output().unwrap();
    assert!(
        output.status.success(),
        "extract failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).unwrap()).unwrap()
}

/// Rows by key: (path, label, split, feature bits).
fn content(path: &Path) -> std::collections::BTreeMap<String, (String, i32, String, Vec<u32>)> {
    let all = FeatureDataset::open(path).unwrap().read_all().unwrap();
    (0..all.len())
        .map(|i| {
            let bits = all.feature(i).iter().map(|v| v.to_bits()).collect();
            (
                all.keys[i].clone(),
                (
                    all.paths[i].clone(),
                    all.labels[i],
                    all.splits[i].to_string(),
                    bits,
                ),
            )
        })
        .collect()
}

#[test]
fn kill_nine_then_resume_equals_an_uninterrupted_run() {
    let data = tempfile::tempdir().unwrap();
    if sample(data.path()).is_none() {
        return;
    }
    let clean = tempfile::tempdir().unwrap();
    let record = run_extract(data.path(), clean.path());
    assert_eq!(record["images"], 48);
    assert_eq!(record["variants"][0]["computed"], 48);

    let interrupted = tempfile::tempdir().unwrap();
    let mut child = extract_command(data.path(), interrupted.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let cache = interrupted.path().join(".cache");
    let deadline = Instant::now() + Duration::from_secs(120);
    let committed_chunks = || -> usize {
        std::fs::read_dir(&cache)
            .into_iter()
            .flatten()
            .flatten()
            .flat_map(|d| std::fs::read_dir(d.path()).into_iter().flatten().flatten())
            .filter(|f| !f.file_name().to_string_lossy().starts_with('.'))
            .count()
    };
    while committed_chunks() < 2 {
        assert!(Instant::now() < deadline, "no chunk committed in time");
        assert!(
            child.try_wait().unwrap().is_none(),
            "extract finished before it could be killed"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(
        !interrupted.path().join("b0.parquet").exists(),
        "killed before writing the output"
    );

    let resumed = run_extract(data.path(), interrupted.path());
    let computed = resumed["variants"][0]["computed"].as_u64().unwrap();
    let cached = resumed["variants"][0]["cached_hits"].as_u64().unwrap();
    assert!(
        cached >= 8 && computed + cached == 48,
        "resume must reuse committed chunks: {resumed}"
    );
    assert_eq!(
        content(&interrupted.path().join("b0.parquet")),
        content(&clean.path().join("b0.parquet"))
    );
}

#[test]
fn reruns_renames_and_additions() {
    let data = tempfile::tempdir().unwrap();
    let Some(shared) = sample(data.path()) else {
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let scan = Command::new(EXTRACT)
        .arg("scan")
        .arg("--json")
        .arg(data.path())
        .output()
        .unwrap();
    let scanned: serde_json::Value = serde_json::from_slice(&scan.stdout).unwrap();
    let first = run_extract(data.path(), out.path());
    assert_eq!(first["images"], scanned["images"].as_array().unwrap().len());
    let before = content(&out.path().join("b0.parquet"));
    assert_eq!(before.len(), 48);

    let rerun = run_extract(data.path(), out.path());
    assert_eq!(
        (
            rerun["decoded"].as_u64(),
            rerun["variants"][0]["computed"].as_u64()
        ),
        (Some(0), Some(0))
    );
    assert_eq!(rerun["variants"][0]["backbone_seconds"], 0.0);

    for entry in std::fs::read_dir(data.path().join("bees")).unwrap() {
        let path = entry.unwrap().path();
        let renamed = path.with_file_name(format!(
            "renamed-{}",
            path.file_name().unwrap().to_string_lossy()
        ));
        std::fs::rename(&path, renamed).unwrap();
    }
    let after_rename = run_extract(data.path(), out.path());
    assert_eq!(after_rename["variants"][0]["computed"], 0);
    let renamed = content(&out.path().join("b0.parquet"));
    for (key, (path, label, split, bits)) in &renamed {
        let (_, old_label, old_split, old_bits) = &before[key];
        assert_eq!(
            (label, split, bits),
            (old_label, old_split, old_bits),
            "{path}"
        );
    }

    let mut new: Vec<_> = std::fs::read_dir(shared.join("val/ants"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    new.sort();
    for path in new.iter().take(5) {
        std::fs::copy(
            path,
            data.path().join("ants").join(path.file_name().unwrap()),
        )
        .unwrap();
    }
    let added = run_extract(data.path(), out.path());
    assert_eq!(added["variants"][0]["computed"], 5);
    assert_eq!(added["variants"][0]["rows"], 53);
}

#[test]
fn clear_errors_before_any_work() {
    let data = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(data.path().join("a")).unwrap();
    let run = |args: &[&str]| {
        let output = Command::new(EXTRACT)
            .args(args)
            .arg("--data")
            .arg(data.path())
            .output()
            .unwrap();
        assert!(!output.status.success());
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    assert!(run(&["--variant", "b9", "--weights", "random"]).contains("unknown variant"));
    assert!(run(&["--variant", "b0,b1", "--weights", "random"]).contains("write VARIANT=SPEC"));
    let missing = run(&[
        "--variant",
        "b0",
        "--weights",
        "/nonexistent/b0.safetensors",
    ]);
    assert!(missing.contains("/nonexistent/b0.safetensors"), "{missing}");
    let no_gpu = run(&["--variant", "b0", "--weights", "random", "--device", "cuda"]);
    if !tch::Cuda::is_available() {
        assert!(no_gpu.contains("cuda"), "{no_gpu}");
    }
}
