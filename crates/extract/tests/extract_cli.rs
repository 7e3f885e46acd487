//! The `extract` binary end to end on real photos, with the real pretrained
//! EfficientNet-Lite0 and with random B0 weights: counts, cache hits, renames,
//! additions, a `kill -9` in the middle of a run followed by a resume that ends
//! identical to an uninterrupted run, and a folder of every kind of bad file.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use contract::FeatureDataset;

const EXTRACT: &str = env!("CARGO_BIN_EXE_extract");

/// 24 ants and 24 bees from hymenoptera's train split, copied so the test may
/// rename and add files.
fn sample(dir: &Path) -> Option<PathBuf> {
    let shared = testkit::shared_dataset("hymenoptera")?;
    for class in ["ants", "bees"] {
        copy_photos(&shared, class, 24, dir);
    }
    Some(shared)
}

/// A backbone the tests run through the binary.
#[derive(Clone)]
struct Model {
    variant: &'static str,
    weights: String,
}

impl Model {
    fn random_b0() -> Model {
        Model {
            variant: "b0",
            weights: "random:7".into(),
        }
    }

    /// The real pretrained Lite0 converted by scripts/setup.
    fn lite0() -> Option<Model> {
        let path = testkit::workspace_root().join("data/weights/lite0.safetensors");
        if !path.exists() {
            return testkit::skip_or_fail(&format!(
                "{} missing: run scripts/setup",
                path.display()
            ));
        }
        Some(Model {
            variant: "lite0",
            weights: path.display().to_string(),
        })
    }

    fn output(&self, out: &Path) -> PathBuf {
        out.join(format!("{}.parquet", self.variant))
    }
}

fn extract_command(model: &Model, data: &Path, out: &Path) -> Command {
    let mut command = Command::new(EXTRACT);
    command
        .args(["--variant", model.variant, "--weights", &model.weights])
        .args(["--device", "cpu", "--quiet"]);
    command.args(["--batch-size", "4", "--chunk-rows", "4"]);
    command.arg("--data").arg(data).arg("--out").arg(out);
    command
}

fn run_extract(model: &Model, data: &Path, out: &Path) -> serde_json::Value {
    let output = extract_command(model, data, out).output().unwrap();
    assert!(
        output.status.success(),
        "extract failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).unwrap()).unwrap()
}

#[test]
fn kill_nine_then_resume_equals_an_uninterrupted_run_random_b0() {
    kill_nine_then_resume_equals_an_uninterrupted_run(&Model::random_b0());
}

#[test]
fn kill_nine_then_resume_equals_an_uninterrupted_run_lite0() {
    if let Some(model) = Model::lite0() {
        kill_nine_then_resume_equals_an_uninterrupted_run(&model);
    }
}

fn kill_nine_then_resume_equals_an_uninterrupted_run(model: &Model) {
    let data = tempfile::tempdir().unwrap();
    if sample(data.path()).is_none() {
        return;
    }
    let clean = tempfile::tempdir().unwrap();
    let record = run_extract(model, data.path(), clean.path());
    assert_eq!(record["images"], 48);
    assert_eq!(record["variants"][0]["computed"], 48);

    let interrupted = tempfile::tempdir().unwrap();
    let mut child = extract_command(model, data.path(), interrupted.path())
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
            .filter(|f| {
                // Committed chunks: not a temporary (dot) and not a seal or timing file.
                let name = f.file_name().to_string_lossy().into_owned();
                !name.starts_with('.') && name.ends_with(".parquet")
            })
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
        !model.output(interrupted.path()).exists(),
        "killed before writing the output"
    );

    let resumed = run_extract(model, data.path(), interrupted.path());
    let computed = resumed["variants"][0]["computed"].as_u64().unwrap();
    let cached = resumed["variants"][0]["cached_hits"].as_u64().unwrap();
    assert!(
        cached >= 8 && computed + cached == 48,
        "resume must reuse committed chunks: {resumed}"
    );
    assert_eq!(
        testkit::feature_rows_by_key(&model.output(interrupted.path())),
        testkit::feature_rows_by_key(&model.output(clean.path()))
    );
}

#[test]
fn reruns_renames_and_additions_random_b0() {
    reruns_renames_and_additions(&Model::random_b0());
}

#[test]
fn reruns_renames_and_additions_lite0() {
    if let Some(model) = Model::lite0() {
        reruns_renames_and_additions(&model);
    }
}

fn reruns_renames_and_additions(model: &Model) {
    let data = tempfile::tempdir().unwrap();
    let Some(shared) = sample(data.path()) else {
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let scan = Command::new(EXTRACT)
        .args(["scan", "--json", "--data"])
        .arg(data.path())
        .output()
        .unwrap();
    let scanned: serde_json::Value = serde_json::from_slice(&scan.stdout).unwrap();
    let first = run_extract(model, data.path(), out.path());
    assert_eq!(first["images"], scanned["images"].as_array().unwrap().len());
    let before = testkit::feature_rows_by_key(&model.output(out.path()));
    assert_eq!(before.len(), 48);

    let rerun = run_extract(model, data.path(), out.path());
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
    let after_rename = run_extract(model, data.path(), out.path());
    assert_eq!(after_rename["variants"][0]["computed"], 0);
    let renamed = testkit::feature_rows_by_key(&model.output(out.path()));
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
    let added = run_extract(model, data.path(), out.path());
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
    assert!(
        run(&["--variant", "b0,b1", "--weights", "w.safetensors"]).contains("write VARIANT=SPEC")
    );
    let missing = run(&[
        "--variant",
        "b0",
        "--weights",
        "/nonexistent/b0.safetensors",
    ]);
    assert!(missing.contains("/nonexistent/b0.safetensors"), "{missing}");
    // An output that cannot be written fails before weights load or images decode,
    // naming the folder once.
    let blocked = data.path().join("a-file");
    std::fs::write(&blocked, b"").unwrap();
    let out = blocked.join("features");
    let unwritable = run(&[
        "--variant",
        "b0",
        "--weights",
        "random",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(
        unwritable.contains("is not a writable folder"),
        "{unwritable}"
    );
    assert_eq!(
        unwritable.matches("Not a directory").count(),
        1,
        "{unwritable}"
    );
    let output = Command::new(EXTRACT)
        .args([
            "--variant",
            "b0",
            "--weights",
            "random",
            "--data",
            "/nonexistent/dataset",
        ])
        .output()
        .unwrap();
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(
        message.contains("/nonexistent/dataset: no such file or folder (the dataset --data names)"),
        "{message}"
    );
    assert_eq!(
        output.status.code(),
        Some(2),
        "a --data that names nothing is a bad flag"
    );
    let no_gpu = run(&["--variant", "b0", "--weights", "random", "--device", "cuda"]);
    if !tch::Cuda::is_available() {
        assert!(no_gpu.contains("cuda"), "{no_gpu}");
    }
}

/// Copies `count` photos of hymenoptera's train/CLASS into `dir/CLASS`.
fn copy_photos(shared: &Path, class: &str, count: usize, dir: &Path) -> Vec<PathBuf> {
    testkit::copy_photos(
        &shared.join("train").join(class),
        0,
        count,
        &dir.join(class),
    )
}

#[test]
fn a_folder_of_bad_files_keeps_every_good_image_and_names_each_bad_one() {
    let (Some(model), Some(python)) = (Model::lite0(), testkit::python()) else {
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let Some(shared) = testkit::shared_dataset("hymenoptera") else {
        return;
    };
    let photos = copy_photos(&shared, "ants", 3, data.path());
    copy_photos(&shared, "bees", 3, data.path());

    // Awkward but valid kinds, written by PIL: all must be extracted.
    let odd = tempfile::tempdir().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/odd_images.py");
    testkit::run_python(&python, &script, &[odd.path().to_str().unwrap()]);
    let good_odd = ["cmyk.jpg", "rgb16.png", "gray.png", "exif_rotated.jpg"];
    for name in good_odd {
        std::fs::copy(odd.path().join(name), data.path().join("bees").join(name)).unwrap();
    }

    // Bad files, one per kind.
    let photo = std::fs::read(&photos[0]).unwrap();
    let mut state = 12345u32;
    let random: Vec<u8> = (0..4096)
        .map(|_| {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (state >> 16) as u8
        })
        .collect();
    let bad: [(&str, Vec<u8>, &str); 5] = [
        ("ants/empty.jpg", Vec::new(), "empty file"),
        (
            "ants/truncated.jpg",
            photo[..photo.len() / 2].to_vec(),
            "cannot decode jpeg",
        ),
        ("bees/random.jpg", random, "not an image"),
        (
            "bees/notes.txt",
            b"ants and bees\n".to_vec(),
            "not an image",
        ),
        (
            "ants/bomb.png",
            testkit::png_claiming(30_000, 30_000),
            "exceeds the limit",
        ),
    ];
    for (name, bytes, _) in &bad {
        std::fs::write(data.path().join(name), bytes).unwrap();
    }

    let out = tempfile::tempdir().unwrap();
    let record = run_extract(&model, data.path(), out.path());
    let good = 6 + good_odd.len();
    assert_eq!(record["variants"][0]["rows"], good, "{record}");
    assert_eq!(record["rejected"], bad.len(), "{record}");
    let rows = testkit::feature_rows_by_key(&model.output(out.path()));
    for name in good_odd {
        assert!(
            rows.values()
                .any(|(path, ..)| path == &format!("bees/{name}")),
            "{name} was not extracted"
        );
    }
    let rejects = std::fs::read_to_string(out.path().join("rejects.csv")).unwrap();
    for (name, _, reason) in &bad {
        let line = rejects
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("{name} missing from rejects.csv:\n{rejects}"));
        assert!(line.contains(reason), "{name}: {line}");
    }

    // The features record what the report and predict need.
    let meta = FeatureDataset::open(model.output(out.path()))
        .unwrap()
        .meta()
        .clone();
    let weights = PathBuf::from(&model.weights);
    assert_eq!(
        meta.extra["weights_bytes"],
        std::fs::metadata(&weights).unwrap().len().to_string()
    );
    assert_eq!(meta.extra["backbone_parameters"], "3371008");
    assert_eq!(
        meta.extra["weights_location"],
        weights.canonicalize().unwrap().display().to_string()
    );

    // --strict: an error naming the rejects, and still nothing lost.
    let strict = extract_command(&model, data.path(), out.path())
        .arg("--strict")
        .output()
        .unwrap();
    assert!(!strict.status.success());
    let message = String::from_utf8_lossy(&strict.stderr);
    assert!(
        message.contains("5 file(s) rejected and --strict is set"),
        "{message}"
    );
    assert_eq!(
        testkit::feature_rows_by_key(&model.output(out.path())).len(),
        good
    );
}

/// Writes the class folders under `source` as WebDataset shards (json labels) in
/// `out`, with Python's tarfile as webdataset does; `None` when Python is missing.
fn write_shards(source: &Path, out: &Path) -> Option<()> {
    let python = testkit::python()?;
    let script = testkit::workspace_root().join("crates/dataset/tests/python/write_shards.py");
    testkit::run_python(
        &python,
        &script,
        &[
            source.to_str().unwrap(),
            out.to_str().unwrap(),
            "--per-shard",
            "10",
            "--label",
            "json",
        ],
    );
    Some(())
}

#[test]
fn tar_shards_give_the_features_of_the_same_loose_files() {
    let dir = tempfile::tempdir().unwrap();
    let loose = dir.path().join("loose");
    if sample(&loose).is_none() || write_shards(&loose, &dir.path().join("shards")).is_none() {
        return;
    }
    let model = Model::random_b0();
    let from_files = dir.path().join("from-files");
    let from_tars = dir.path().join("from-tars");
    let pattern = dir.path().join("shards/shard-{00000..00004}.tar");
    run_extract(&model, &loose, &from_files);
    let record = run_extract(&model, &pattern, &from_tars);
    assert_eq!(record["dataset_scan"]["layout"], "webdataset");
    assert_eq!(record["variants"][0]["computed"], 48);
    let strip_path = |rows: std::collections::BTreeMap<String, (String, i32, String, Vec<u32>)>| {
        rows.into_iter()
            .map(|(key, (_, label, split, bits))| (key, (label, split, bits)))
            .collect::<std::collections::BTreeMap<_, _>>()
    };
    let files = strip_path(testkit::feature_rows_by_key(&model.output(&from_files)));
    let tars = strip_path(testkit::feature_rows_by_key(&model.output(&from_tars)));
    assert_eq!(files.len(), 48);
    assert!(
        files == tars,
        "the tar shards' features differ from the files'"
    );
    // Re-tarring the same images costs no forward pass: the cache is by content.
    let again = run_extract(&model, &pattern, &from_files);
    assert_eq!(again["variants"][0]["computed"], 0);
    assert_eq!(again["variants"][0]["cached_hits"], 48);
    // --shard K/N splits tar inputs by content key, as it does files.
    let mut rows = 0;
    for shard in ["0/2", "1/2"] {
        let output = extract_command(&model, &pattern, &from_files)
            .args(["--shard", shard])
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let tag = format!("shard-0000{}-of-00002", &shard[..1]);
        let part = from_files.join("b0").join(format!("{tag}.parquet"));
        rows += FeatureDataset::open(&part).unwrap().num_rows();
    }
    assert_eq!(rows, 48);
}

#[test]
fn the_label_map_comes_before_the_first_forward_pass() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // The regression layout: Kaggle's training_set/ + test_set/.
    let Some(shared) = testkit::shared_dataset("hymenoptera") else {
        return;
    };
    for (split, from, count) in [("training_set", "train", 6), ("test_set", "val", 2)] {
        for class in ["ants", "bees"] {
            let mut photos: Vec<_> = std::fs::read_dir(shared.join(from).join(class))
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|e| e == "jpg"))
                .collect();
            photos.sort();
            let folder = data.join(split).join(class);
            std::fs::create_dir_all(&folder).unwrap();
            for photo in photos.iter().take(count) {
                std::fs::copy(photo, folder.join(photo.file_name().unwrap())).unwrap();
            }
        }
    }
    let output = Command::new(EXTRACT)
        .args([
            "--variant",
            "b0",
            "--weights",
            "random:1",
            "--device",
            "cpu",
        ])
        .arg("--data")
        .arg(&data)
        .arg("--out")
        .arg(dir.path().join("features"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let map = stderr.find("labels   ants = 0, bees = 1").expect(&stderr);
    let counts = stderr.find("train         6      6     12").expect(&stderr);
    let running = stderr
        .find("extract: running b0 over 16 images")
        .expect(&stderr);
    let done = stderr.find("extract: 16 images").expect(&stderr);
    assert!(
        map < counts && counts < running && running < done,
        "{stderr}"
    );
    assert!(stderr.contains("no val split"), "{stderr}");
    let record: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("features/run.json")).unwrap(),
    )
    .unwrap();
    let scan = &record["dataset_scan"];
    assert_eq!(scan["classes"], serde_json::json!(["ants", "bees"]));
    assert_eq!(scan["counts"]["train"]["ants"], 6);
    assert_eq!(scan["counts"]["test"]["bees"], 2);
    assert_eq!(scan["layout"], "splits");
}

#[test]
fn dataset_errors_are_one_line_with_the_fix_and_the_right_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(data.join("images")).unwrap();
    std::fs::write(data.join("images/a.jpg"), testkit::png_claiming(8, 8)).unwrap();
    let run = |extra: &[&str]| {
        let output = Command::new(EXTRACT)
            .args(["--variant", "b0", "--weights", "random", "--device", "cpu"])
            .arg("--data")
            .arg(&data)
            .arg("--out")
            .arg(dir.path().join("features"))
            .args(extra)
            .output()
            .unwrap();
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (code, stderr) = run(&[]);
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("images/") && stderr.contains("--layout flat"),
        "{stderr}"
    );
    let (code, stderr) = run(&["--layout", "sideways"]);
    assert_eq!(code, Some(2), "{stderr}");
    let (code, stderr) = run(&["--labels", "/nonexistent/labels.csv"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("/nonexistent/labels.csv: no such file or folder (the --labels manifest)"),
        "{stderr}"
    );
    let empty = dir.path().join("empty.tar");
    tar::Builder::new(std::fs::File::create(&empty).unwrap())
        .finish()
        .unwrap();
    let output = Command::new(EXTRACT)
        .args(["scan", "--data"])
        .arg(&empty)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("no usable images") && stderr.contains("empty.tar: an empty tar"),
        "{stderr}"
    );
}

/// Writes `source`'s SPLIT/CLASS folders as Hugging Face Parquet under `out` with
/// the `datasets` library, as the hub serves them (bytes embedded, ClassLabel
/// names, `data/SPLIT-0000K-of-0000N.parquet`); `None` when Python is missing.
fn write_hf_parquet(source: &Path, out: &Path) -> Option<()> {
    let python = testkit::python()?;
    let script = testkit::workspace_root().join("crates/dataset/tests/python/write_hf_parquet.py");
    testkit::run_python(
        &python,
        &script,
        &[
            source.to_str().unwrap(),
            out.to_str().unwrap(),
            "--shards",
            "2",
            "--row-group-rows",
            "8",
        ],
    );
    Some(())
}

#[test]
fn hugging_face_parquet_gives_the_features_of_the_same_loose_files() {
    let dir = tempfile::tempdir().unwrap();
    let loose = dir.path().join("loose");
    if sample(&loose.join("train")).is_none() {
        return;
    }
    // A test split too: the first 4 photos of each class move there.
    for class in ["ants", "bees"] {
        let mut names: Vec<_> = std::fs::read_dir(loose.join("train").join(class))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        names.sort();
        std::fs::create_dir_all(loose.join("test").join(class)).unwrap();
        for path in &names[..4] {
            std::fs::rename(
                path,
                loose
                    .join("test")
                    .join(class)
                    .join(path.file_name().unwrap()),
            )
            .unwrap();
        }
    }
    let hub = dir.path().join("hub");
    if write_hf_parquet(&loose, &hub).is_none() {
        return;
    }
    let model = Model {
        variant: "lite0",
        weights: "random:0".into(),
    };
    let from_files = dir.path().join("from-files");
    let from_parquet = dir.path().join("from-parquet");
    run_extract(&model, &loose, &from_files);
    let record = run_extract(&model, &hub, &from_parquet);
    assert_eq!(record["dataset_scan"]["layout"], "hf_parquet");
    assert_eq!(record["dataset_scan"]["splits_from"], "shard_names");
    assert_eq!(record["variants"][0]["computed"], 48);
    let files = testkit::feature_rows_by_key(&model.output(&from_files));
    let parquet = testkit::feature_rows_by_key(&model.output(&from_parquet));
    assert_eq!(files.len(), 48);
    assert_eq!(parquet.len(), 48);
    let mut test_rows = 0;
    for (key, (path, label, split, bits)) in &parquet {
        let (file_path, file_label, file_split, file_bits) = files
            .get(key)
            .unwrap_or_else(|| panic!("{path}: key {key} is not among the loose files' rows"));
        assert_eq!(
            (label, split),
            (file_label, file_split),
            "{path} vs {file_path}"
        );
        assert!(
            bits == file_bits,
            "{path}: features differ from {file_path}'s"
        );
        assert!(
            path.starts_with("data/") && path.contains(".parquet/"),
            "{path}"
        );
        test_rows += usize::from(split == "test");
    }
    assert_eq!(test_rows, 8);
    // The cache is by content: the Parquet images cost no forward pass where the
    // loose files were extracted.
    let again = run_extract(&model, &hub, &from_files);
    assert_eq!(again["variants"][0]["computed"], 0);
    assert_eq!(again["variants"][0]["cached_hits"], 48);
}
