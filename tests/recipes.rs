//! The scale-out recipes in contrib/ hold together: the Kubernetes Indexed Job
//! parses (PyYAML) and has what `--shard auto` and a shared output need; the
//! sbatch script parses (bash -n) and its array matches its shard count. (The
//! sbatch script itself runs on a real Slurm in tests/slurm.rs.)

use std::process::Command;

use effprobe_tests::{release_binaries, workspace_file};
use serde_json::Value;

fn indexed_job() -> Option<Value> {
    let python = testkit::python()?;
    let manifest = workspace_file("contrib/k8s/extract-indexed-job.yaml");
    let script = workspace_file("tests/python/yaml_to_json.py");
    let documents: Value = serde_json::from_str(&testkit::run_python(
        &python,
        &script,
        &[manifest.to_str()?],
    ))
    .unwrap();
    let documents = documents.as_array().unwrap();
    assert_eq!(documents.len(), 1, "one Job in the manifest");
    Some(documents[0].clone())
}

/// `--flag VALUE` in an argument list.
fn value_of<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    let at = args.iter().position(|a| a == flag)?;
    args.get(at + 1).map(String::as_str)
}

#[test]
fn the_indexed_job_shards_by_completion_index_onto_a_shared_volume() {
    let Some(job) = indexed_job() else {
        return;
    };
    assert_eq!(job["apiVersion"], "batch/v1");
    assert_eq!(job["kind"], "Job");
    let spec = &job["spec"];
    assert_eq!(spec["completionMode"], "Indexed");
    let completions = spec["completions"].as_u64().expect("completions");
    let parallelism = spec["parallelism"].as_u64().expect("parallelism");
    assert!(parallelism >= 1 && parallelism <= completions);
    let pod = &spec["template"]["spec"];
    assert_eq!(
        pod["restartPolicy"], "Never",
        "a failed shard is retried by the Job"
    );
    let containers = pod["containers"].as_array().unwrap();
    assert_eq!(containers.len(), 1);
    let container = &containers[0];
    let command: Vec<String> = container["command"]
        .as_array()
        .expect("command")
        .iter()
        .map(|a| a.as_str().expect("command words are strings").to_string())
        .collect();
    assert_eq!(command[0], "extract");
    assert_eq!(value_of(&command, "--shard"), Some("auto"));
    let num_shards = container["env"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "EFFPROBE_NUM_SHARDS")
        .expect("EFFPROBE_NUM_SHARDS in env")["value"]
        .as_str()
        .expect("env values are strings")
        .to_string();
    assert_eq!(
        num_shards,
        completions.to_string(),
        "EFFPROBE_NUM_SHARDS = completions"
    );
    let resources = &container["resources"];
    assert_eq!(resources["limits"]["nvidia.com/gpu"], 1, "one GPU per pod");
    assert_eq!(
        value_of(&command, "--threads"),
        resources["requests"]["cpu"].as_str(),
        "--threads = the cpu request"
    );

    // --out and --data lie on mounted volumes that the pod declares.
    let volumes: Vec<&str> = pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    let mounts = container["volumeMounts"].as_array().unwrap();
    for mount in mounts {
        assert!(
            volumes.contains(&mount["name"].as_str().unwrap()),
            "{mount}"
        );
    }
    let mount_of = |path: &str| {
        mounts
            .iter()
            .find(|m| path.starts_with(m["mountPath"].as_str().unwrap()))
            .unwrap_or_else(|| panic!("{path} is on no mounted volume"))
    };
    let out = value_of(&command, "--out").expect("--out");
    assert_ne!(mount_of(out)["readOnly"], true, "--out must be writable");
    mount_of(value_of(&command, "--data").expect("--data"));

    // Every flag is one extract knows.
    let Some(bin) = release_binaries() else {
        return;
    };
    let help = Command::new(bin.join("extract"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    for flag in command.iter().filter(|a| a.starts_with("--")) {
        assert!(
            help.contains(&format!("{flag} ")),
            "extract --help lacks {flag}"
        );
    }
}

#[test]
fn the_sbatch_recipe_parses_and_its_array_matches_its_shard_count() {
    let script = workspace_file("contrib/slurm/extract.sbatch");
    let syntax = Command::new("bash")
        .arg("-n")
        .arg(&script)
        .output()
        .unwrap();
    assert!(
        syntax.status.success(),
        "{}",
        String::from_utf8_lossy(&syntax.stderr)
    );
    let text = std::fs::read_to_string(&script).unwrap();
    let directive = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("#SBATCH --{name}")))
            .unwrap_or_else(|| panic!("no #SBATCH --{name}"))
            .trim_start_matches('=')
            .trim()
            .to_string()
    };
    // --array=0-7%4: indices 0..N-1, a throttle.
    let array = directive("array");
    let (range, throttle) = array.split_once('%').expect("a throttle (%)");
    assert!(throttle.parse::<u32>().is_ok(), "{array}");
    let last: u32 = range
        .strip_prefix("0-")
        .expect("the array starts at shard 0")
        .parse()
        .unwrap();
    assert!(
        text.contains(&format!(
            "EFFPROBE_NUM_SHARDS=\"${{EFFPROBE_NUM_SHARDS:-{}}}\"",
            last + 1
        )),
        "the default EFFPROBE_NUM_SHARDS must be the array's size, {}",
        last + 1
    );
    assert_eq!(directive("gres"), "gpu:1");
    directive("requeue");
    assert!(text.contains("\"$@\" --shard auto"));
}
