//! Shards end to end through the `extract` binary: `--shard auto` from each job
//! engine's variables, two processes given the same shard, and `extract status`
//! telling done, running and missing shards apart, with its exit codes. Runs
//! are caught mid-shard by stopping them (SIGSTOP) once their lock says so.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use contract::{FeatureDataset, Shard, ShardRecord};
use extract::pipeline::shard::ENGINE_VARIABLES;

const EXTRACT: &str = env!("CARGO_BIN_EXE_extract");

/// Environment variables a run is given.
type Variables<'a> = &'a [(&'a str, &'a str)];

/// Random Lite0 on the CPU, one thread, one image per pass: slow enough at
/// `input_size` to be caught while running.
fn command(data: &Path, out: &Path, shard: &str, input_size: u32) -> Command {
    let mut command = Command::new(EXTRACT);
    for name in ENGINE_VARIABLES {
        command.env_remove(name);
    }
    command
        .args([
            "--variant",
            "lite0",
            "--weights",
            "random:3",
            "--device",
            "cpu",
        ])
        .args(["--threads", "1", "--batch-size", "1", "--chunk-rows", "4"])
        .args(["--input-size", &input_size.to_string(), "--shard", shard])
        .arg("--data")
        .arg(data)
        .arg("--out")
        .arg(out)
        .stdin(Stdio::null());
    command
}

fn succeed(mut command: Command) -> Output {
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "extract failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn status(out: &Path) -> (i32, String) {
    let output = Command::new(EXTRACT)
        .args(["status", "--out"])
        .arg(out)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.code().unwrap_or(-1), text)
}

fn signal(child: &Child, name: &str) {
    let ok = Command::new("kill")
        .args([name, &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill {name} {}", child.id());
}

/// Waits until `child` holds the lock of `shard` in `out` (its lock file names
/// it as running), then stops it there: a run caught mid-shard.
fn stop_once_running(child: &mut Child, out: &Path, shard: &str) {
    stop_once_running_and(child, out, shard, || true)
}

/// [`stop_once_running`], waiting also for `and` to hold while it runs.
fn stop_once_running_and(child: &mut Child, out: &Path, shard: &str, and: impl Fn() -> bool) {
    let shard: Shard = shard.parse().unwrap();
    let lock = out.join(format!(".lock-{}", shard.tag()));
    let wanted = format!("\"pid\":{},", child.id());
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let text = std::fs::read_to_string(&lock).unwrap_or_default();
        if text.contains(&wanted) && text.contains("\"running\":true") && and() {
            signal(child, "-STOP");
            return;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("extract ended ({status}) before it was seen running shard {shard}");
        }
        assert!(
            Instant::now() < deadline,
            "{} never held its lock",
            child.id()
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Rows by key: (path, feature bits).
fn content(path: &Path) -> BTreeMap<String, (String, Vec<u32>)> {
    let all = FeatureDataset::open(path).unwrap().read_all().unwrap();
    (0..all.len())
        .map(|i| {
            let bits = all.feature(i).iter().map(|v| v.to_bits()).collect();
            (all.keys[i].clone(), (all.paths[i].clone(), bits))
        })
        .collect()
}

fn record(out: &Path, shard: &str) -> ShardRecord {
    ShardRecord::read(&ShardRecord::path(
        &out.join("lite0"),
        shard.parse().unwrap(),
    ))
    .unwrap()
}

#[test]
fn shard_auto_reads_each_engine_and_says_where_it_came_from() {
    let data = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    testkit::write_cats_and_dogs(data.path(), 6);
    let engines: [(Variables, &str, &str); 5] = [
        (
            &[
                ("SLURM_ARRAY_TASK_ID", "3"),
                ("SLURM_ARRAY_TASK_MIN", "1"),
                ("SLURM_ARRAY_TASK_MAX", "3"),
                ("SLURM_ARRAY_TASK_STEP", "2"),
                ("SLURM_ARRAY_TASK_COUNT", "2"),
            ],
            "1/2",
            "SLURM_ARRAY_TASK_ID=3 of SLURM_ARRAY_TASK_MIN=1",
        ),
        (
            &[("SLURM_ARRAY_TASK_ID", "1"), ("EFFPROBE_NUM_SHARDS", "2")],
            "1/2",
            "SLURM_ARRAY_TASK_ID=1, EFFPROBE_NUM_SHARDS=2",
        ),
        (
            &[
                ("SLURM_PROCID", "0"),
                ("SLURM_NTASKS", "2"),
                ("SLURM_STEP_ID", "0"),
            ],
            "0/2",
            "SLURM_PROCID=0, SLURM_NTASKS=2",
        ),
        (
            &[("JOB_COMPLETION_INDEX", "1"), ("EFFPROBE_NUM_SHARDS", "2")],
            "1/2",
            "JOB_COMPLETION_INDEX=1, EFFPROBE_NUM_SHARDS=2",
        ),
        (
            &[("RANK", "0"), ("WORLD_SIZE", "2")],
            "0/2",
            "RANK=0, WORLD_SIZE=2",
        ),
    ];
    for (variables, shard, source) in engines {
        let mut run = command(data.path(), out.path(), "auto", 32);
        run.envs(variables.iter().copied());
        let stderr = String::from_utf8_lossy(&succeed(run).stderr).into_owned();
        assert!(
            stderr.contains(&format!("extract: shard {shard} from {source}")),
            "{variables:?}: {stderr}"
        );
        let record = record(out.path(), shard);
        assert_eq!(record.shard, shard);
        assert!(record.shard_from.starts_with(source), "{record:?}");
    }
    let (code, text) = status(out.path());
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("lite0: 2 shards: done 0,1"), "{text}");
}

#[test]
fn shard_auto_without_an_engine_or_with_values_that_disagree_exits_2_before_any_work() {
    let data = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    testkit::write_cats_and_dogs(data.path(), 2);
    let cases: [(Variables, &str); 4] = [
        (&[], "looked for SLURM_ARRAY_TASK_ID"),
        (
            &[("JOB_COMPLETION_INDEX", "4"), ("EFFPROBE_NUM_SHARDS", "4")],
            "4/4: K must be below N",
        ),
        (
            &[("JOB_COMPLETION_INDEX", "1")],
            "EFFPROBE_NUM_SHARDS is not",
        ),
        (
            &[
                ("RANK", "1"),
                ("WORLD_SIZE", "2"),
                ("JOB_COMPLETION_INDEX", "0"),
                ("EFFPROBE_NUM_SHARDS", "2"),
            ],
            "two shards",
        ),
    ];
    for (variables, message) in cases {
        let mut run = command(data.path(), out.path(), "auto", 32);
        run.envs(variables.iter().copied());
        let output = run.output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{variables:?}: {stderr}");
        assert!(stderr.contains(message), "{variables:?}: {stderr}");
    }
    let written: Vec<PathBuf> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(written.is_empty(), "nothing is started: {written:?}");
    let output = command(data.path(), out.path(), "4/4", 32)
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(2),
        "a bad --shard K/N is a usage error"
    );
}

#[test]
fn two_processes_given_the_same_shard_never_corrupt_it() {
    let data = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let alone = tempfile::tempdir().unwrap();
    testkit::write_cats_and_dogs(data.path(), 16);
    let reference = content(&{
        succeed(command(data.path(), alone.path(), "1/2", 160));
        alone.path().join("lite0/shard-00001-of-00002.parquet")
    });

    // A retried pod beside the one it replaces: the second is refused while the
    // first holds the shard, and says who holds it.
    let mut first = command(data.path(), out.path(), "1/2", 160)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    stop_once_running(&mut first, out.path(), "1/2");
    let second = command(data.path(), out.path(), "1/2", 160)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("already writing") && stderr.contains(&format!("pid {}", first.id())),
        "{stderr}"
    );
    let (code, text) = status(out.path());
    assert_eq!(code, 3, "shard 0 never ran: {text}");
    assert!(
        text.contains(&format!("shard 1 running: pid {}", first.id())),
        "{text}"
    );
    signal(&first, "-CONT");
    assert!(first.wait().unwrap().success());
    let part = out.path().join("lite0/shard-00001-of-00002.parquet");
    assert_eq!(content(&part), reference);
    succeed(command(data.path(), out.path(), "0/2", 160));

    // The same shard run again after it was done: redone from the cache, its
    // record withdrawn while it runs and published again, the part unchanged.
    let mut again = command(data.path(), out.path(), "1/2", 160)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let done = ShardRecord::path(&out.path().join("lite0"), "1/2".parse().unwrap());
    // Fails (the run ends first) unless the record is withdrawn while it runs.
    stop_once_running_and(&mut again, out.path(), "1/2", || !done.exists());
    let (code, text) = status(out.path());
    assert_eq!(code, 4, "{text}");
    signal(&again, "-CONT");
    assert!(again.wait().unwrap().success());
    assert_eq!(content(&part), reference);
    let record = record(out.path(), "1/2");
    assert_eq!((record.cached, record.computed), (record.rows, 0));
    assert_eq!(record.part_bytes, std::fs::metadata(&part).unwrap().len());
    let leftovers: Vec<String> = std::fs::read_dir(out.path().join("lite0"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "temporaries left: {leftovers:?}");
}

#[test]
fn status_tells_done_running_and_missing_shards_apart_with_its_exit_codes() {
    let data = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    testkit::write_cats_and_dogs(data.path(), 16);
    let (code, text) = status(out.path());
    assert_eq!(code, 1, "nothing started yet: {text}");
    assert!(text.contains("no shards here"), "{text}");
    let (code, _) = status(&out.path().join("absent"));
    assert_eq!(code, 2, "a --out that is no folder is a bad command line");

    for shard in ["0/4", "2/4"] {
        succeed(command(data.path(), out.path(), shard, 32));
    }
    let mut running = command(data.path(), out.path(), "1/4", 160)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    stop_once_running(&mut running, out.path(), "1/4");
    let (code, text) = status(out.path());
    assert_eq!(code, 3, "{text}");
    assert!(
        text.contains("lite0: 4 shards: done 0,2; running 1; missing 3")
            && text.contains("missing shards of 4: 3 "),
        "{text}"
    );

    // A task killed mid-shard: missing, with what is known of it.
    running.kill().unwrap();
    running.wait().unwrap();
    let (code, text) = status(out.path());
    assert_eq!(code, 3, "{text}");
    assert!(
        text.contains("done 0,2; running none; missing 1,3")
            && text.contains(&format!("shard 1 missing: pid {} on", running.id()))
            && text.contains("stopped without finishing")
            && text.contains("missing shards of 4: 1,3 "),
        "{text}"
    );

    for shard in ["1/4", "3/4"] {
        succeed(command(data.path(), out.path(), shard, 32));
    }
    let (code, text) = status(out.path());
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("lite0: 4 shards: done 0-3; running none; missing none"),
        "{text}"
    );
    assert!(!text.contains("missing shards"), "{text}");

    // A shard of another N beside them: not one dataset.
    succeed(command(data.path(), out.path(), "0/2", 32));
    let (code, text) = status(out.path());
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("N = 2 and 4"), "{text}");
}
