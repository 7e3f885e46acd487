//! Half a dataset never trains silently: `head-train` and `tune-train` over a
//! folder of `extract --shard` parts with a shard not done stop and name it;
//! `--allow-partial` trains on the done ones and says so in metrics.json.

use std::path::Path;
use std::process::{Command, Output};

use effprobe_tests::{read_json, release_binaries};

fn write_jpeg(path: &Path, seed: u32) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let image = image::RgbImage::from_fn(40 + seed % 13, 30 + seed % 7, |x, y| {
        let class = if seed >= 1000 { 120 } else { 0 };
        image::Rgb([
            (x * 5 + seed * 3) as u8,
            (y * 7 + seed + class) as u8,
            (x * y + seed * 11) as u8,
        ])
    });
    image
        .save_with_format(path, image::ImageFormat::Jpeg)
        .unwrap();
}

fn run(bin: &Path, tool: &str, args: &[&str]) -> Output {
    Command::new(bin.join(tool))
        .args(args)
        .env_remove("RUST_BACKTRACE")
        .output()
        .unwrap()
}

fn extract_shard(bin: &Path, data: &Path, out: &Path, shard: &str) {
    let output = run(
        bin,
        "extract",
        &[
            "--variant",
            "lite0",
            "--weights",
            "random:5",
            "--device",
            "cpu",
            "--input-size",
            "64",
            "--quiet",
            "--shard",
            shard,
            "--data",
            data.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn trainers_refuse_an_incomplete_shard_set_and_allow_partial_is_recorded() {
    let Some(bin) = release_binaries() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    for i in 0..90 {
        write_jpeg(&data.join(format!("cats/{i}.jpg")), i);
        write_jpeg(&data.join(format!("dogs/{i}.jpg")), 1000 + i);
    }
    let out = dir.path().join("features");
    for shard in ["0/3", "1/3"] {
        extract_shard(&bin, &data, &out, shard);
    }
    let features = out.join("lite0");
    let features = features.to_str().unwrap();
    let runs = dir.path().join("runs");
    let run_dir = |name: &str| runs.join(name).to_str().unwrap().to_string();

    for tool in ["head-train", "tune-train"] {
        let output = run(&bin, tool, &[features, "--out", &run_dir(tool)]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{tool}: {stderr}");
        assert!(
            stderr.contains("shard 2 of 3 is not done")
                && stderr.contains("extract --shard K/N")
                && stderr.contains("--allow-partial"),
            "{tool}: {stderr}"
        );
        assert!(!runs.join(tool).exists(), "{tool} wrote nothing");
    }

    let partial = run_dir("partial");
    let output = run(
        &bin,
        "head-train",
        &[features, "--out", &partial, "--allow-partial"],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("is missing shards 2 of 3; trained on shards 0,1"),
        "{stderr}"
    );
    let metrics = read_json(&runs.join("partial/metrics.json"));
    assert_eq!(
        metrics["partial_shards"],
        serde_json::json!([{"input": features, "shards": 3, "read": "0,1", "missing": "2"}])
    );
    let record = |k: u32| {
        contract::ShardRecord::read(&contract::ShardRecord::path(
            &out.join("lite0"),
            contract::Shard::new(k, 3).unwrap(),
        ))
        .unwrap()
    };
    assert_eq!(
        metrics["features"]["rows"],
        record(0).rows + record(1).rows,
        "only the done shards' rows"
    );

    extract_shard(&bin, &data, &out, "2/3");
    let complete = run_dir("complete");
    let output = run(&bin, "head-train", &[features, "--out", &complete]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metrics = read_json(&runs.join("complete/metrics.json"));
    assert!(metrics.get("partial_shards").is_none(), "{metrics}");
    assert_eq!(metrics["features"]["rows"], 180);
}
