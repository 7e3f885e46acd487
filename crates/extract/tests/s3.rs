//! `--data s3://…` end to end against a real S3-compatible server (moto in
//! server mode, from tools/requirements.txt) on 127.0.0.1, started and stopped by
//! each test: WebDataset shards, loose image folders and a manifest read from the
//! bucket give the same feature files as the same files on local disk (random
//! B0), a cache built from a local copy carries over, nothing is unpacked to
//! local disk, and a missing bucket, a denied request and a truncated object are
//! one-line errors or rejects naming the object.

use std::collections::BTreeMap;
use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const EXTRACT: &str = env!("CARGO_BIN_EXE_extract");

/// Any one command of these tests: far above what it needs, so a hang fails
/// instead of stalling the suite.
const COMMAND_LIMIT: Duration = Duration::from_secs(300);

/// A moto server on a free port of 127.0.0.1, stopped when dropped.
struct S3Server {
    child: Child,
    endpoint: String,
    log: PathBuf,
}

impl S3Server {
    /// Starts one and waits (at most 60 s) until it answers. `enforce_auth`:
    /// every request must carry credentials moto's IAM knows, so the test keys
    /// are refused (a denied request, as from a real bucket with wrong keys).
    fn start(python: &Path, dir: &Path, enforce_auth: bool) -> S3Server {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let log = dir.join(format!("moto-{port}.log"));
        let mut command = Command::new(python);
        command
            .args(["-m", "moto.server", "-H", "127.0.0.1", "-p"])
            .arg(port.to_string())
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::create(&log).unwrap());
        if enforce_auth {
            command.env("INITIAL_NO_AUTH_ACTION_COUNT", "0");
        }
        let child = command.spawn().unwrap();
        let server = S3Server {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            log,
        };
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "moto did not start in 60 s: {}",
                std::fs::read_to_string(&server.log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        server
    }

    /// The standard AWS variables pointing at this server, and nothing else
    /// of the caller's AWS configuration.
    fn configure(&self, command: &mut Command) {
        for (name, _) in std::env::vars() {
            if name.starts_with("AWS_") {
                command.env_remove(name);
            }
        }
        command
            .env("AWS_ENDPOINT_URL", &self.endpoint)
            .env("AWS_ACCESS_KEY_ID", "effprobe-test")
            .env("AWS_SECRET_ACCESS_KEY", "effprobe-test-secret")
            .env("AWS_REGION", "us-east-1");
    }

    /// Uploads a folder (or one file) to `s3://bucket/prefix` with boto3.
    fn upload(&self, python: &Path, source: &Path, target: &str) {
        let mut command = Command::new(python);
        command
            .arg(testkit::workspace_root().join("tools/s3_upload.py"))
            .arg(source)
            .arg(target);
        self.configure(&mut command);
        let output = bounded(&mut command);
        assert!(
            output.status.success(),
            "upload of {} failed: {}",
            source.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs a command to its end, killing it past COMMAND_LIMIT.
fn bounded(command: &mut Command) -> Output {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipes = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let readers = (
        std::thread::spawn(move || {
            let mut text = Vec::new();
            pipes.0.read_to_end(&mut text).map(|_| text)
        }),
        std::thread::spawn(move || {
            let mut text = Vec::new();
            pipes.1.read_to_end(&mut text).map(|_| text)
        }),
    );
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > COMMAND_LIMIT {
            let _ = child.kill();
            panic!("{command:?} ran past {COMMAND_LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Output {
        status,
        stdout: readers.0.join().unwrap().unwrap(),
        stderr: readers.1.join().unwrap().unwrap(),
    }
}

/// moto from tools/requirements.txt, or a visible skip (a failure under CI).
fn python_with_moto() -> Option<PathBuf> {
    let python = testkit::python()?;
    let found = Command::new(&python)
        .args(["-c", "import moto.server, boto3"])
        .output()
        .is_ok_and(|o| o.status.success());
    if found {
        Some(python)
    } else {
        testkit::skip_or_fail(&format!(
            "moto is not installed in {}: run scripts/setup (tools/requirements.txt)",
            python.display()
        ))
    }
}

/// `count` ants and `count` bees from hymenoptera's train split, as class folders.
fn sample(dir: &Path, count: usize) -> Option<()> {
    let shared = testkit::shared_dataset("hymenoptera")?;
    for class in ["ants", "bees"] {
        testkit::copy_photos(
            &shared.join("train").join(class),
            0,
            count,
            &dir.join(class),
        );
    }
    Some(())
}

/// The class folders under `source` as WebDataset shards of 10 (json labels),
/// the `truncate`d one (`SHARD:MEMBER`) cut in the middle of that member.
fn write_shards(python: &Path, source: &Path, out: &Path, truncate: Option<&str>) {
    let script = testkit::workspace_root().join("crates/dataset/tests/python/write_shards.py");
    let mut args = vec![
        source.to_str().unwrap(),
        out.to_str().unwrap(),
        "--per-shard",
        "10",
        "--label",
        "json",
    ];
    if let Some(truncate) = truncate {
        args.extend(["--truncate", truncate]);
    }
    testkit::run_python(python, &script, &args);
}

/// The same images without class folders (`images/CLASS-NAME`), and a CSV
/// manifest of path,label for them.
fn write_manifested(loose: &Path, out: &Path) -> PathBuf {
    std::fs::create_dir_all(out.join("images")).unwrap();
    let mut csv = String::from("path,label\n");
    for class in ["ants", "bees"] {
        let mut names: Vec<_> = std::fs::read_dir(loose.join(class))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        for name in names {
            let file = format!("images/{class}-{name}");
            std::fs::copy(loose.join(class).join(&name), out.join(&file)).unwrap();
            csv.push_str(&format!("{file},{class}\n"));
        }
    }
    let manifest = out.with_extension("csv");
    std::fs::write(&manifest, csv).unwrap();
    manifest
}

/// The extract command with random B0 weights, reading `data`.
fn extract(data: &str, out: &Path, labels: Option<&str>) -> Command {
    let mut command = Command::new(EXTRACT);
    command
        .args([
            "--variant",
            "b0",
            "--weights",
            "random:7",
            "--device",
            "cpu",
        ])
        .args(["--quiet", "--batch-size", "8", "--chunk-rows", "8"])
        .args(["--data", data])
        .arg("--out")
        .arg(out);
    if let Some(labels) = labels {
        command.args(["--labels", labels]);
    }
    command
}

/// Runs it (against `server` when given) and returns run.json.
fn run(mut command: Command, server: Option<&S3Server>, out: &Path) -> serde_json::Value {
    if let Some(server) = server {
        server.configure(&mut command);
    }
    let output = bounded(&mut command);
    assert!(
        output.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).unwrap()).unwrap()
}

/// Rows by key of the B0 features in `out`.
fn content(out: &Path) -> BTreeMap<String, testkit::RowContent> {
    testkit::feature_rows_by_key(&out.join("b0.parquet"))
}

/// (path, stage, reason) of every reject.
fn rejects(out: &Path) -> Vec<(String, String, String)> {
    contract::rejects::read(&out.join("rejects.csv"))
        .unwrap()
        .into_iter()
        .map(|r| (r.path, r.stage, r.reason))
        .collect()
}

#[test]
fn shards_loose_files_and_a_manifest_from_s3_give_the_features_of_local_copies() {
    let Some(python) = python_with_moto() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let loose = dir.path().join("loose");
    if sample(&loose, 24).is_none() {
        return;
    }
    let shards = dir.path().join("shards");
    write_shards(&python, &loose, &shards, None);
    let manifested = dir.path().join("manifested");
    let manifest = write_manifested(&loose, &manifested);

    let server = S3Server::start(&python, dir.path(), false);
    server.upload(&python, &loose, "s3://photos/loose");
    server.upload(&python, &shards, "s3://photos/webdataset/shards");
    server.upload(&python, &manifested, "s3://photos/manifested");
    server.upload(&python, &manifest, "s3://photos/labels/manifested.csv");

    let out = |name: &str| dir.path().join("out").join(name);
    let pattern = "shard-{00000..00004}.tar";
    let cases = [
        (
            "loose files",
            loose.display().to_string(),
            "s3://photos/loose".to_string(),
            None,
            None,
        ),
        (
            "shards",
            shards.join(pattern).display().to_string(),
            format!("s3://photos/webdataset/shards/{pattern}"),
            None,
            None,
        ),
        (
            "manifest",
            manifested.display().to_string(),
            "s3://photos/manifested/".to_string(),
            Some(manifest.display().to_string()),
            Some("s3://photos/labels/manifested.csv".to_string()),
        ),
    ];
    for (name, local, remote, local_labels, remote_labels) in &cases {
        let (from_disk, from_s3) = (out(&format!("{name}-disk")), out(&format!("{name}-s3")));
        run(
            extract(local, &from_disk, local_labels.as_deref()),
            None,
            &from_disk,
        );
        // Nothing goes to local disk but the features: a temp folder of its
        // own stays empty.
        let scratch = dir.path().join(format!("tmp-{name}"));
        std::fs::create_dir_all(&scratch).unwrap();
        let mut command = extract(remote, &from_s3, remote_labels.as_deref());
        command.env("TMPDIR", &scratch);
        let record = run(command, Some(&server), &from_s3);
        assert_eq!(record["variants"][0]["computed"], 48, "{name}: {record}");
        assert_eq!(
            std::fs::read_dir(&scratch).unwrap().count(),
            0,
            "{name}: files written to TMPDIR"
        );
        let (disk, s3) = (content(&from_disk), content(&from_s3));
        assert_eq!(disk.len(), 48, "{name}");
        // Same keys, paths (relative to --data), labels, splits and feature bits.
        assert!(
            disk == s3,
            "{name}: the features read from S3 differ from the local copy's"
        );
    }
    assert_eq!(
        content(&out("shards-s3"))
            .values()
            .filter(|row| row.0.starts_with("shard-00002.tar/"))
            .count(),
        10
    );

    // A cache built from a local copy carries over: the S3 shards in the out
    // folder of the local loose files cost no forward pass.
    let local_cache = out("loose files-disk");
    let record = run(
        extract(&cases[1].2, &local_cache, None),
        Some(&server),
        &local_cache,
    );
    assert_eq!(record["variants"][0]["computed"], 0, "{record}");
    assert_eq!(record["variants"][0]["cached_hits"], 48, "{record}");
}

/// Runs a command expected to fail and returns (exit code, stderr).
fn failing(mut command: Command, server: &S3Server) -> (Option<i32>, String) {
    server.configure(&mut command);
    let output = bounded(&mut command);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!output.status.success(), "{command:?} succeeded: {stderr}");
    (output.status.code(), stderr)
}

#[test]
fn s3_errors_are_one_line_naming_the_object_and_earlier_work_is_kept() {
    let Some(python) = python_with_moto() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let loose = dir.path().join("loose");
    if sample(&loose, 10).is_none() {
        return;
    }
    // Shard 1 is cut in the middle of its third member (the second sample's
    // image): the sample before it is kept.
    let shards = dir.path().join("shards");
    write_shards(&python, &loose, &shards, Some("1:2"));
    let server = S3Server::start(&python, dir.path(), false);
    server.upload(&python, &shards, "s3://photos/cut");
    let out = dir.path().join("out");

    let one_line =
        |what: &str, (code, stderr): (Option<i32>, String), code_wanted, words: &[&str]| {
            assert_eq!(code, Some(code_wanted), "{what}: {stderr}");
            assert_eq!(stderr.trim().lines().count(), 1, "{what}: {stderr}");
            for word in words {
                assert!(stderr.contains(word), "{what}: {word:?} not in {stderr}");
            }
        };
    one_line(
        "missing bucket",
        failing(extract("s3://no-such-bucket/photos", &out, None), &server),
        2,
        &["s3://no-such-bucket/photos", "no such bucket"],
    );
    one_line(
        "missing prefix",
        failing(extract("s3://photos/nothing-here", &out, None), &server),
        2,
        &["s3://photos/nothing-here", "no such object"],
    );
    one_line(
        "missing shard of a pattern",
        failing(
            extract("s3://photos/cut/shard-{00000..00002}.tar", &out, None),
            &server,
        ),
        2,
        &["s3://photos/cut/shard-00002.tar", "no such object"],
    );
    one_line(
        "missing manifest",
        failing(
            extract("s3://photos/cut", &out, Some("s3://photos/labels.csv")),
            &server,
        ),
        2,
        &["s3://photos/labels.csv: no such object (the --labels manifest)"],
    );
    let guarded = S3Server::start(&python, dir.path(), true);
    one_line(
        "denied",
        failing(extract("s3://photos/cut", &out, None), &guarded),
        1,
        &[
            "s3://photos/cut",
            "access denied (InvalidAccessKeyId)",
            "AWS_ACCESS_KEY_ID",
        ],
    );
    drop(guarded);
    assert!(
        !out.join("run.json").exists(),
        "a failed check wrote features"
    );

    // The truncated object: the same rejects and the same features as the same
    // cut shard on local disk.
    let (from_disk, from_s3) = (dir.path().join("disk"), dir.path().join("s3"));
    run(
        extract(&shards.display().to_string(), &from_disk, None),
        None,
        &from_disk,
    );
    run(
        extract("s3://photos/cut", &from_s3, None),
        Some(&server),
        &from_s3,
    );
    let cut = rejects(&from_s3);
    assert!(
        cut.iter()
            .any(|(path, _, reason)| path.starts_with("shard-00001.tar")
                && reason.contains("truncated")
                && reason.contains("the samples before it are kept")),
        "{cut:?}"
    );
    assert_eq!(cut, rejects(&from_disk));
    let (disk, s3) = (content(&from_disk), content(&from_s3));
    // 20 images: shard 0's 10, shard 1's first sample.
    assert_eq!(disk.len(), 11);
    assert!(disk == s3, "the features of the cut shards differ");
}
