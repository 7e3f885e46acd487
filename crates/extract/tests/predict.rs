//! `extract predict` and `extract export` end to end on real photos with the real
//! pretrained EfficientNet-Lite0: probabilities equal to the head applied to the
//! feature file the head was trained on, cold and from a warm cache (with zero
//! backbone forwards); mixed good and bad files; a head of other weights; and the
//! exported TorchScript module loaded back with tch.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use backbone::recipe::RecipeOverrides;
use backbone::{prepare_native, RunSettings, WeightsSpec};
use contract::head_file::{HeadFile, HeadStandardization};
use contract::{FeatureDataset, Preprocessing, Split};

const EXTRACT: &str = env!("CARGO_BIN_EXE_extract");

/// The real pretrained Lite0 converted by scripts/setup.
fn lite0() -> Option<PathBuf> {
    let path = testkit::workspace_root().join("data/weights/lite0.safetensors");
    if path.exists() {
        Some(path)
    } else {
        testkit::skip_or_fail(&format!("{} missing: run scripts/setup", path.display()))
    }
}

fn run(args: &[&str], paths: &[&Path]) -> Output {
    Command::new(EXTRACT)
        .args(args)
        .args(paths)
        .output()
        .expect("run extract")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// One row of predict's CSV.
#[derive(Debug, Clone, PartialEq)]
struct Row {
    path: String,
    key: String,
    predicted: String,
    probabilities: Vec<f64>,
    error: String,
}

/// Splits predict's CSV (the test data has no commas or quotes in paths or reasons).
fn rows(csv: &str, classes: usize) -> Vec<Row> {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().expect("a header").split(',').collect();
    assert_eq!(header.len(), 4 + classes, "{header:?}");
    assert_eq!(header[..3], ["path", "key", "predicted"]);
    assert_eq!(header[3 + classes], "error");
    lines
        .map(|line| {
            let fields: Vec<&str> = line.split(',').collect();
            assert_eq!(fields.len(), header.len(), "{line}");
            Row {
                path: fields[0].into(),
                key: fields[1].into(),
                predicted: fields[2].into(),
                probabilities: fields[3..3 + classes]
                    .iter()
                    .filter(|p| !p.is_empty())
                    .map(|p| p.parse().expect("a probability"))
                    .collect(),
                error: fields[3 + classes].into(),
            }
        })
        .collect()
}

/// Backbone identity, recipe and location of some weights, loaded as predict does.
fn identity(weights: &str) -> (contract::WeightsIdentity, Preprocessing, String) {
    let settings = RunSettings {
        hub_cache: PathBuf::from("/nonexistent"),
        ..RunSettings::cpu()
    };
    let spec: WeightsSpec = weights.parse().unwrap();
    let loaded = prepare_native(
        Some("lite0".parse().unwrap()),
        &spec,
        &settings,
        &RecipeOverrides::default(),
    )
    .unwrap();
    let backbone::Weights::EfficientNet(native) = &loaded.weights else {
        unreachable!("native weights")
    };
    (
        native.identity.clone(),
        loaded.recipe,
        loaded.location.to_string(),
    )
}

/// A two-class Lite0 head with arbitrary (fixed) numbers, recording `weights`.
fn made_up_head(dir: &Path, weights: &str, standardized: bool) -> PathBuf {
    let (identity, preprocessing, location) = identity(weights);
    let dim = 1280;
    let head = HeadFile {
        classes: vec!["ants".into(), "bees".into()],
        feature_dim: dim,
        weight: (0..dim).map(|j| (j as f32 * 0.7).sin() * 0.05).collect(),
        bias: vec![0.1],
        standardization: standardized.then(|| HeadStandardization {
            mean: (0..dim).map(|j| 0.2 + (j % 7) as f32 * 0.01).collect(),
            scale: (0..dim).map(|j| 0.5 + (j % 5) as f32 * 0.1).collect(),
        }),
        variant: "lite0".into(),
        feature_layer: backbone::efficientnet::FEATURE_LAYER.into(),
        preprocessing,
        weights: identity,
        weights_location: Some(location),
        threshold: 0.5,
        tune: None,
    };
    let path = dir.join("head.safetensors");
    head.write(&path).unwrap();
    path
}

/// hymenoptera's whole val split and the first `train_per_class` train photos of
/// each class, copied into `dir`.
fn small_dataset(shared: &Path, dir: &Path, train_per_class: usize) {
    for (split, limit) in [("train", train_per_class), ("val", usize::MAX)] {
        for class in ["ants", "bees"] {
            let from = shared.join(split).join(class);
            let to = dir.join(split).join(class);
            std::fs::create_dir_all(&to).unwrap();
            let mut names: Vec<PathBuf> = std::fs::read_dir(&from)
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            names.sort();
            for path in names.iter().take(limit) {
                std::fs::copy(path, to.join(path.file_name().unwrap())).unwrap();
            }
        }
    }
}

/// A linear head made from the train rows: standardise with their statistics,
/// then the direction between the two class means (a nearest-centroid rule).
fn centroid_head(features: &contract::FeatureBatch, meta: &contract::FeatureMeta) -> HeadFile {
    let dim = meta.feature_dim;
    let train: Vec<usize> = (0..features.len())
        .filter(|&i| features.splits[i] == Split::Train)
        .collect();
    let column = |j: usize| {
        train
            .iter()
            .map(move |&i| f64::from(features.feature(i)[j]))
    };
    let n = train.len() as f64;
    let mean: Vec<f64> = (0..dim).map(|j| column(j).sum::<f64>() / n).collect();
    let scale: Vec<f64> = (0..dim)
        .map(|j| {
            let var = column(j).map(|v| (v - mean[j]).powi(2)).sum::<f64>() / n;
            if var.sqrt() > 1e-12 {
                var.sqrt()
            } else {
                1.0
            }
        })
        .collect();
    let centroid = |label: i32| -> Vec<f64> {
        let rows: Vec<usize> = train
            .iter()
            .copied()
            .filter(|&i| features.labels[i] == label)
            .collect();
        (0..dim)
            .map(|j| {
                rows.iter()
                    .map(|&i| (f64::from(features.feature(i)[j]) - mean[j]) / scale[j])
                    .sum::<f64>()
                    / rows.len() as f64
            })
            .collect()
    };
    let (ants, bees) = (centroid(0), centroid(1));
    let weight: Vec<f64> = (0..dim).map(|j| (bees[j] - ants[j]) * 0.05).collect();
    let bias = -(0..dim)
        .map(|j| weight[j] * (bees[j] + ants[j]) / 2.0)
        .sum::<f64>();
    HeadFile {
        classes: meta.classes.clone(),
        feature_dim: dim,
        weight: weight.iter().map(|w| *w as f32).collect(),
        bias: vec![bias as f32],
        standardization: Some(HeadStandardization {
            mean: mean.iter().map(|m| *m as f32).collect(),
            scale: scale.iter().map(|s| *s as f32).collect(),
        }),
        variant: meta.variant.clone(),
        feature_layer: meta.feature_layer.clone(),
        preprocessing: meta.preprocessing.clone(),
        weights: meta.weights.clone(),
        weights_location: meta.weights_location().map(str::to_string),
        threshold: 0.5,
        tune: None,
    }
}

/// The head's own evaluation of a feature row, from the stored numbers:
/// σ(b + w · ((x − mean) / scale)), standardised in f32 as head-train's f32
/// feature matrix is, the rest in f64.
fn reference_probability(head: &HeadFile, feature: &[f32]) -> f64 {
    let s = head.standardization.as_ref().unwrap();
    let z = f64::from(head.bias[0])
        + (0..head.feature_dim)
            .map(|j| f64::from(head.weight[j]) * f64::from((feature[j] - s.mean[j]) / s.scale[j]))
            .sum::<f64>();
    1.0 / (1.0 + (-z).exp())
}

#[test]
fn val_probabilities_equal_the_heads_evaluation_cold_and_from_a_warm_cache() {
    let (Some(weights), Some(shared)) = (lite0(), testkit::shared_dataset("hymenoptera")) else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    small_dataset(&shared, &data, 8);
    let features_dir = work.path().join("features");
    let extracted = Command::new(EXTRACT)
        .args(["--variant", "lite0", "--weights", weights.to_str().unwrap()])
        .args(["--device", "cpu", "--quiet", "--data"])
        .arg(&data)
        .arg("--out")
        .arg(&features_dir)
        .output()
        .unwrap();
    assert!(extracted.status.success(), "{}", text(&extracted.stderr));

    // The head, trained on the feature file's train rows and evaluated on its val rows.
    let dataset = FeatureDataset::open(features_dir.join("lite0.parquet")).unwrap();
    let meta = dataset.meta().clone();
    let features = dataset.read_all().unwrap();
    let head = centroid_head(&features, &meta);
    let run_dir = work.path().join("runs/lite0");
    std::fs::create_dir_all(&run_dir).unwrap();
    head.write(&run_dir.join("head.safetensors")).unwrap();
    let reference: BTreeMap<String, (f64, i32)> = (0..features.len())
        .filter(|&i| features.splits[i] == Split::Val)
        .map(|i| {
            (
                features.keys[i].clone(),
                (
                    reference_probability(&head, features.feature(i)),
                    features.labels[i],
                ),
            )
        })
        .collect();
    assert_eq!(reference.len(), 153);

    let val = data.join("val");
    let cache = work.path().join("predict-cache");
    let predict = |extra: &[&str]| -> (Vec<Row>, String) {
        let output = Command::new(EXTRACT)
            .args(["predict", "--device", "cpu", "--head"])
            .arg(&run_dir)
            .args(extra)
            .arg(&val)
            .output()
            .unwrap();
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "{stderr}");
        (rows(&text(&output.stdout), 2), stderr)
    };
    let check = |rows: &[Row], what: &str| {
        assert_eq!(rows.len(), 153, "{what}");
        let mut worst = 0f64;
        let mut correct = 0;
        for row in rows {
            assert!(row.error.is_empty(), "{what}: {row:?}");
            let (expected, label) = reference[&row.key];
            worst = worst.max((row.probabilities[1] - expected).abs());
            assert!((row.probabilities[0] + row.probabilities[1] - 1.0).abs() < 1e-12);
            let predicted = if row.probabilities[1] >= 0.5 {
                "bees"
            } else {
                "ants"
            };
            assert_eq!(row.predicted, predicted, "{what}: {row:?}");
            correct += usize::from((label == 1) == (predicted == "bees"));
        }
        eprintln!("{what}: max |Δp| vs the head's evaluation {worst:.3e}, accuracy {correct}/153");
        assert!(worst <= 1e-6, "{what}: max |Δp| {worst:e}");
        assert!(
            correct > 120,
            "{what}: a head this simple still separates ants from bees"
        );
    };

    // Cold: every image through the backbone, and added to the (new) cache.
    let cache_arg = cache.to_str().unwrap();
    let (cold, summary) = predict(&["--cache", cache_arg]);
    check(&cold, "cold");
    assert!(
        summary.contains("153 computed by the backbone, 0 from the cache"),
        "{summary}"
    );
    // Warm: the rows predict wrote; zero backbone forwards.
    let (warm, summary) = predict(&["--cache", cache_arg]);
    assert!(
        summary.contains("0 computed by the backbone, 153 from the cache")
            && summary.contains("backbone not run"),
        "{summary}"
    );
    assert_eq!(warm, cold);
    // extract's own cache serves predict as well, read-only.
    let features_arg = features_dir.to_str().unwrap();
    let (from_extract, summary) = predict(&["--cache", features_arg, "--no-cache-write"]);
    assert!(
        summary.contains("0 computed by the backbone, 153 from the cache"),
        "{summary}"
    );
    check(&from_extract, "extract's cache");

    // JSON lines carry the same numbers.
    let output = Command::new(EXTRACT)
        .args([
            "predict", "--quiet", "--format", "jsonl", "--cache", cache_arg, "--head",
        ])
        .arg(run_dir.join("head.safetensors"))
        .arg(&val)
        .output()
        .unwrap();
    assert!(output.status.success());
    let lines: Vec<serde_json::Value> = text(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 153);
    for (line, row) in lines.iter().zip(&cold) {
        assert_eq!(line["path"], row.path.as_str());
        assert_eq!(line["predicted"], row.predicted.as_str());
        // serde_json's default float parsing may miss the last bit.
        let bees = line["probabilities"]["bees"].as_f64().unwrap();
        assert!(
            (bees - row.probabilities[1]).abs() < 1e-15,
            "{line} vs {row:?}"
        );
    }
}

#[test]
fn mixed_good_and_bad_files_classify_every_good_one_and_name_each_bad_one() {
    let (Some(weights), Some(shared)) = (lite0(), testkit::shared_dataset("hymenoptera")) else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let head = made_up_head(work.path(), weights.to_str().unwrap(), false);
    let folder = work.path().join("inbox");
    std::fs::create_dir_all(folder.join("more")).unwrap();
    let ant = shared.join("val/ants/10308379_1b6c72e180.jpg");
    let photo = std::fs::read(&ant).unwrap();
    std::fs::copy(&ant, folder.join("a-ant.jpg")).unwrap();
    std::fs::copy(&ant, folder.join("b-same-ant.jpg")).unwrap();
    std::fs::copy(
        shared.join("val/bees/1032546534_06907fe3b3.jpg"),
        folder.join("more/bee.jpg"),
    )
    .unwrap();
    let bad = [
        ("c-empty.jpg", Vec::new(), "empty file"),
        (
            "d-truncated.jpg",
            photo[..photo.len() / 2].to_vec(),
            "truncated",
        ),
        ("e-notes.txt", b"ants and bees\n".to_vec(), "not an image"),
        (
            "f-bomb.png",
            testkit::png_claiming(30_000, 30_000),
            "exceeds the limit",
        ),
    ];
    for (name, bytes, _) in &bad {
        std::fs::write(folder.join(name), bytes).unwrap();
    }
    let missing = work.path().join("missing.jpg");

    let output = run(
        &[
            "predict",
            "--device",
            "cpu",
            "--head",
            head.to_str().unwrap(),
        ],
        &[&folder, &missing],
    );
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    let rows = rows(&text(&output.stdout), 2);
    let names: Vec<String> = rows
        .iter()
        .map(|r| r.path.rsplit('/').next().unwrap().to_string())
        .collect();
    assert_eq!(
        names,
        [
            "a-ant.jpg",
            "b-same-ant.jpg",
            "c-empty.jpg",
            "d-truncated.jpg",
            "e-notes.txt",
            "f-bomb.png",
            "bee.jpg",
            "missing.jpg"
        ],
        "every input, in order"
    );
    for row in [&rows[0], &rows[1], &rows[6]] {
        assert!(row.error.is_empty(), "{row:?}");
        assert_eq!(row.probabilities.len(), 2, "{row:?}");
    }
    assert_eq!(rows[0].probabilities, rows[1].probabilities);
    for (row, (name, _, reason)) in rows[2..6].iter().zip(&bad) {
        assert!(
            row.probabilities.is_empty() && row.predicted.is_empty(),
            "{row:?}"
        );
        assert!(row.error.contains(reason), "{name}: {row:?}");
        assert!(
            stderr.contains(&format!("rejected {}: ", folder.join(name).display())),
            "{name} not reported on stderr:\n{stderr}"
        );
    }
    assert!(rows[7].error.contains("cannot read"), "{:?}", rows[7]);
    // Two distinct good images through the backbone; the copy is classified once.
    assert!(
        stderr.contains("8 inputs, 3 classified, 5 rejected")
            && stderr.contains("2 computed by the backbone")
            && stderr.contains("1 duplicate inputs"),
        "{stderr}"
    );
}

#[test]
fn a_head_of_other_features_is_a_clear_error_before_any_image_is_read() {
    let Some(weights) = lite0() else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let image = work.path().join("never-read.jpg");
    std::fs::write(&image, b"").unwrap();
    let fails = |head: &Path, extra: &[&str]| -> String {
        let mut args = vec![
            "predict",
            "--device",
            "cpu",
            "--head",
            head.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let output = run(&args, &[&image]);
        assert_eq!(output.status.code(), Some(1));
        assert!(output.stdout.is_empty(), "no output on an error");
        text(&output.stderr)
    };

    // Trained on features of random weights, given the pretrained ones.
    let random_dir = work.path().join("random");
    std::fs::create_dir_all(&random_dir).unwrap();
    let random_head = made_up_head(&random_dir, "random:3", false);
    let message = fails(&random_head, &["--weights", weights.to_str().unwrap()]);
    let (random_identity, ..) = identity("random:3");
    let (lite0_identity, ..) = identity(weights.to_str().unwrap());
    for expected in [
        random_head.display().to_string(),
        weights.display().to_string(),
        "trained on other features".into(),
        random_identity.blake3,
        lite0_identity.blake3.clone(),
        "--weights".into(),
    ] {
        assert!(
            message.contains(&expected),
            "{expected} missing from: {message}"
        );
    }
    assert!(!message.contains("rejected"), "{message}");

    // A Lite0 head given Lite1 weights: the variant differs too.
    let lite1 = testkit::workspace_root().join("data/weights/lite1.safetensors");
    if lite1.exists() {
        let lite0_dir = work.path().join("lite0");
        std::fs::create_dir_all(&lite0_dir).unwrap();
        let head = made_up_head(&lite0_dir, weights.to_str().unwrap(), false);
        let message = fails(&lite0_dir, &["--weights", lite1.to_str().unwrap()]);
        assert!(
            message.contains(&head.display().to_string())
                && message.contains("variant: head lite0, weights lite1")
                && message.contains(&lite0_identity.blake3),
            "{message}"
        );
    }

    // A head that does not say where its weights are asks for --weights.
    let mut old = HeadFile::read(&random_head).unwrap();
    old.weights_location = None;
    let old_path = work.path().join("old-head.safetensors");
    old.write(&old_path).unwrap();
    let message = fails(&old_path, &[]);
    assert!(
        message.contains("does not record where its backbone's weights are")
            && message.contains("--weights"),
        "{message}"
    );
}

#[test]
fn exported_torchscript_module_gives_predicts_probabilities() {
    let (Some(weights), Some(shared)) = (lite0(), testkit::shared_dataset("hymenoptera")) else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let head = made_up_head(work.path(), weights.to_str().unwrap(), true);
    let module = work.path().join("model.pt");
    let output = run(
        &["export", "--head", head.to_str().unwrap(), "--out"],
        &[&module],
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    let sidecar: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(work.path().join("model.pt.json")).unwrap())
            .unwrap();
    assert_eq!(sidecar["input"]["dtype"], "uint8");
    assert_eq!(sidecar["input"]["layout"], "NHWC");
    assert_eq!(sidecar["classes"], serde_json::json!(["ants", "bees"]));
    let recipe: Preprocessing = serde_json::from_value(sidecar["preprocessing"].clone()).unwrap();

    let mut photos: Vec<PathBuf> = ["ants", "bees"]
        .iter()
        .flat_map(|class| {
            let mut names: Vec<PathBuf> = std::fs::read_dir(shared.join("val").join(class))
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            names.sort();
            names.into_iter().take(3)
        })
        .collect();
    photos.sort();
    let paths: Vec<&Path> = photos.iter().map(PathBuf::as_path).collect();
    let output = run(
        &[
            "predict",
            "--quiet",
            "--device",
            "cpu",
            "--head",
            head.to_str().unwrap(),
        ],
        &paths,
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    let predicted = rows(&text(&output.stdout), 2);

    // The sidecar's recipe, applied with the library, makes the module's input.
    let side = recipe.input_size as i64;
    let mut pixels = Vec::new();
    for photo in &photos {
        let rgb = extract::preprocess::decode_rgb(
            &std::fs::read(photo).unwrap(),
            extract::preprocess::DecodeLimits::default(),
        )
        .unwrap();
        pixels.extend(extract::preprocess::resize_for_input(&rgb, &recipe).unwrap());
    }
    let input = tch::Tensor::from_slice(&pixels).view([photos.len() as i64, side, side, 3]);
    let loaded = tch::CModule::load(&module).unwrap();
    let probabilities = loaded.forward_ts(&[input]).unwrap();
    assert_eq!(probabilities.size(), [photos.len() as i64, 2]);
    let probabilities: Vec<f32> = Vec::try_from(probabilities.flatten(0, -1)).unwrap();
    let mut worst = 0f64;
    for (i, row) in predicted.iter().enumerate() {
        assert_eq!(row.path, photos[i].display().to_string());
        for k in 0..2 {
            worst = worst.max((f64::from(probabilities[i * 2 + k]) - row.probabilities[k]).abs());
        }
    }
    eprintln!(
        "export vs predict: max |Δp| {worst:.3e} over {} images",
        photos.len()
    );
    assert!(worst <= 1e-5, "max |Δp| {worst:e}");
}
