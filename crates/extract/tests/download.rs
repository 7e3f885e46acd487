//! Weights by default: `extract --variant b0` with no weights named, against a
//! Hugging Face hub that the test serves on 127.0.0.1 (tests/python/hub_server.py:
//! the API's file list with the LFS sha256, `resolve/<rev>/<file>` with the
//! headers hf-hub reads, a redirect to the LFS storage, ranges). The repo holds a
//! random EfficientNet-B0 in timm's naming and its config.json, written by timm's
//! own save_for_hf. Nothing here reaches beyond the loopback address.
//!
//! Without --download, the missing weights stop the run before any image is
//! touched with the one command that gets them; that command, run, downloads and
//! extracts; a second run needs no server; a corrupted download is refused in one
//! line and leaves nothing a later run would load.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use contract::FeatureDataset;
use sha2::{Digest, Sha256};

const EXTRACT: &str = env!("CARGO_BIN_EXE_extract");
const REPO: &str = "timm/efficientnet_b0.ra_in1k";

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/hub_server.py")
}

/// The test's hub: a child process, killed when dropped.
struct Hub {
    child: Child,
    endpoint: String,
    log: PathBuf,
}

impl Hub {
    fn start(python: &Path, repo_files: &Path, corrupt: bool, log: PathBuf) -> Hub {
        let mut command = Command::new(python);
        command
            .arg(script())
            .args(["serve", repo_files.to_str().unwrap(), REPO])
            .args(["--lifetime", "300", "--log", log.to_str().unwrap()])
            .stdout(Stdio::piped());
        if corrupt {
            command.arg("--corrupt");
        }
        let mut child = command.spawn().expect("start the test hub");
        let mut port = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut port)
            .unwrap();
        let port: u16 = port.trim().parse().expect("the hub prints its port");
        Hub {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            log,
        }
    }

    fn requests(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An environment in which the hub is `endpoint` and the cache lives in `hf_home`,
/// whatever the machine's own settings.
fn hub_environment(command: &mut Command, hf_home: &Path, endpoint: &str) {
    command.env("HF_HOME", hf_home).env("HF_ENDPOINT", endpoint);
    for key in [
        "HF_HUB_CACHE",
        "HF_TOKEN",
        "XDG_CACHE_HOME",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ] {
        command.env_remove(key);
    }
}

fn extract(data: &Path, out: &Path, hf_home: &Path, endpoint: &str, extra: &[&str]) -> Output {
    let mut command = Command::new(EXTRACT);
    command
        .args(["--variant", "b0", "--device", "cpu", "--batch-size", "4"])
        .args(extra)
        .arg("--data")
        .arg(data)
        .arg("--out")
        .arg(out);
    hub_environment(&mut command, hf_home, endpoint);
    command.output().unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn write_jpeg(path: &Path, seed: u32) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    image::RgbImage::from_fn(48 + seed % 11, 40 + seed % 5, |x, y| {
        image::Rgb([
            (x * 5 + seed * 3) as u8,
            (y * 7 + seed) as u8,
            (x * y) as u8,
        ])
    })
    .save_with_format(path, image::ImageFormat::Jpeg)
    .unwrap();
}

fn sha256_hex(path: &Path) -> String {
    format!("{:x}", Sha256::digest(std::fs::read(path).unwrap()))
}

/// Rows by key, feature bits included.
fn features(path: &Path) -> (String, Vec<(String, Vec<u32>)>) {
    let dataset = FeatureDataset::open(path).unwrap();
    let source = dataset.meta().weights.source.clone();
    let all = dataset.read_all().unwrap();
    let mut rows: Vec<_> = (0..all.len())
        .map(|i| {
            let bits = all.feature(i).iter().map(|v| v.to_bits()).collect();
            (all.keys[i].clone(), bits)
        })
        .collect();
    rows.sort();
    (source, rows)
}

#[test]
fn canonical_weights_missing_then_downloaded_verified_and_reused_offline() {
    let Some(python) = testkit::python() else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let repo_files = work.path().join("repo");
    testkit::run_python(
        &python,
        &script(),
        &[
            "write",
            repo_files.to_str().unwrap(),
            "efficientnet_b0.ra_in1k",
        ],
    );
    let data = work.path().join("photos");
    for i in 0..3 {
        write_jpeg(&data.join(format!("ants/{i}.jpg")), i);
        write_jpeg(&data.join(format!("bees/{i}.jpg")), 100 + i);
    }
    let hf_home = work.path().join("hf-home");
    let hub_cache = hf_home.join("hub");
    let cache_repo = hub_cache.join("models--timm--efficientnet_b0.ra_in1k");
    // Port 9 (discard): nothing listens, so any request would fail.
    let nowhere = "http://127.0.0.1:9";

    // 1. Nothing named, nothing cached, no --download: one line with the command.
    let out = work.path().join("features-refused");
    let refused = extract(&data, &out, &hf_home, nowhere, &[]);
    let message = stderr(&refused);
    assert_eq!(refused.status.code(), Some(1), "{message}");
    assert_eq!(message.trim().lines().count(), 1, "{message}");
    assert!(
        message.contains(&format!("b0's canonical timm weights {REPO}")),
        "{message}"
    );
    assert!(
        message.contains(&format!(
            "not in the Hugging Face cache at {}",
            hub_cache.display()
        )),
        "{message}"
    );
    let command = message
        .split_once("get them with: ")
        .and_then(|(_, rest)| rest.split_once(" (or name other weights"))
        .map(|(command, _)| command.to_string())
        .unwrap_or_else(|| panic!("no command in: {message}"));
    assert!(
        command.starts_with(EXTRACT) && command.ends_with(" --download"),
        "{command}"
    );
    assert!(!out.join(".cache").exists() && !out.join("b0.parquet").exists());

    // 2. A hub that sends wrong bytes: refused in one line, nothing kept.
    let corrupt = Hub::start(&python, &repo_files, true, work.path().join("corrupt.log"));
    let bad = extract(&data, &out, &hf_home, &corrupt.endpoint, &["--download"]);
    let message = stderr(&bad);
    assert_eq!(bad.status.code(), Some(1), "{message}");
    assert_eq!(message.trim().lines().count(), 1, "{message}");
    assert!(
        message.contains("is not the file the hub lists") && message.contains("sha256"),
        "{message}"
    );
    assert!(
        message.contains("nothing was kept in the cache"),
        "{message}"
    );
    assert!(
        corrupt.requests().contains("/lfs/"),
        "the weights were really fetched: {}",
        corrupt.requests()
    );
    drop(corrupt);
    assert!(
        backbone::hub_cache::resolve(REPO, &hub_cache).is_err(),
        "a corrupted download left a loadable cache entry"
    );
    let leftovers: Vec<_> = std::fs::read_dir(&hub_cache)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(".effprobe-download-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let still_refused = extract(&data, &out, &hf_home, nowhere, &[]);
    assert!(stderr(&still_refused).contains("not in the Hugging Face cache"));

    // 3. The printed command against a good hub: downloaded, verified, extracted.
    let hub = Hub::start(&python, &repo_files, false, work.path().join("hub.log"));
    let mut rerun = Command::new("sh");
    rerun.args(["-c", &command]);
    hub_environment(&mut rerun, &hf_home, &hub.endpoint);
    let fetched = rerun.output().unwrap();
    let message = stderr(&fetched);
    assert!(fetched.status.success(), "{message}");
    assert!(
        message.contains(&format!("extract: downloaded {REPO} at revision ")),
        "{message}"
    );
    assert!(message.contains("sha256 verified"), "{message}");
    let requests = hub.requests();
    assert!(requests.contains("?blobs=true"), "{requests}");
    drop(hub);

    // The hub cache layout, as huggingface_hub writes it.
    let revision = std::fs::read_to_string(cache_repo.join("refs/main")).unwrap();
    assert_eq!(revision.len(), 40, "{revision:?}");
    let snapshot = cache_repo.join("snapshots").join(&revision);
    let weights_sha256 = sha256_hex(&repo_files.join("model.safetensors"));
    let link = std::fs::read_link(snapshot.join("model.safetensors")).unwrap();
    assert_eq!(link, Path::new("../../blobs").join(&weights_sha256));
    assert_eq!(
        sha256_hex(&cache_repo.join("blobs").join(&weights_sha256)),
        weights_sha256
    );
    assert_eq!(
        std::fs::read(snapshot.join("config.json")).unwrap(),
        std::fs::read(repo_files.join("config.json")).unwrap()
    );
    assert!(std::fs::symlink_metadata(snapshot.join("config.json"))
        .unwrap()
        .file_type()
        .is_symlink());
    assert!(
        !snapshot.join("README.md").exists(),
        "only the weights and config"
    );
    let says_which = format!(
        "extract: b0 uses the canonical timm weights {REPO}: {}",
        snapshot.join("model.safetensors").display()
    );
    assert!(message.contains(&says_which), "{message}");
    let (source, downloaded_rows) = features(&out.join("b0.parquet"));
    assert_eq!(source, REPO, "the feature file names the cache entry");
    assert_eq!(downloaded_rows.len(), 6);

    // 4. Again with the hub gone: the cache entry alone, --download or not.
    for extra in [&[][..], &["--download"][..]] {
        let again = work.path().join(format!("features-again{}", extra.len()));
        let offline = extract(&data, &again, &hf_home, nowhere, extra);
        let message = stderr(&offline);
        assert!(offline.status.success(), "{message}");
        assert!(message.contains(&says_which), "{message}");
        assert!(!message.contains("downloaded"), "{message}");
        assert_eq!(
            features(&again.join("b0.parquet")),
            (REPO.to_string(), downloaded_rows.clone())
        );
    }
}
