//! The head file: round trip, determinism, the meaning of its numbers, and the
//! files it refuses.

mod common;

use contract::head_file::{Activation, HeadFile, HeadStandardization, HEAD_FILE_NAME};
use contract::WeightsIdentity;

fn head(classes: &[&str], dim: usize, standardized: bool) -> HeadFile {
    let outputs = if classes.len() == 2 { 1 } else { classes.len() };
    HeadFile {
        classes: classes.iter().map(|c| c.to_string()).collect(),
        feature_dim: dim,
        weight: (0..outputs * dim)
            .map(|i| (i as f32 * 0.37).sin())
            .collect(),
        bias: (0..outputs).map(|k| k as f32 * 0.1 - 0.05).collect(),
        standardization: standardized.then(|| HeadStandardization {
            mean: (0..dim).map(|j| j as f32 * 0.01).collect(),
            scale: (0..dim).map(|j| 1.0 + j as f32 * 0.1).collect(),
        }),
        variant: "lite0".into(),
        feature_layer: "pool".into(),
        preprocessing: common::preprocessing(),
        weights: WeightsIdentity {
            source: "lite0.safetensors".into(),
            blake3: "cd".repeat(32),
        },
        weights_location: Some("/weights/lite0.safetensors".into()),
        threshold: 0.4,
        tune: None,
    }
}

#[test]
fn a_tuned_head_names_its_tune_file_and_a_new_format() {
    let mut tuned = head(&["ants", "bees"], 6, false);
    tuned.tune = Some(contract::head_file::TuneLink {
        file: "tune.safetensors".into(),
        blake3: "ab".repeat(32),
        cut: contract::activations::CutPoint {
            top_blocks: 1,
            first_block: 15,
            total_blocks: 16,
            shape: [192, 7, 7],
            last_stage: true,
        },
    });
    let bytes = tuned.to_bytes();
    assert!(String::from_utf8_lossy(&bytes).contains("effprobe-head/2"));
    assert_eq!(HeadFile::from_bytes("x".as_ref(), &bytes).unwrap(), tuned);
    // An untuned head keeps the format every earlier reader reads.
    let plain = head(&["ants", "bees"], 6, false).to_bytes();
    assert!(String::from_utf8_lossy(&plain).contains("effprobe-head/1"));
}

#[test]
fn round_trip_is_exact_and_bytes_are_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    for (classes, standardized) in [(&["ants", "bees"][..], true), (&["a", "b", "c"][..], false)] {
        let written = head(classes, 12, standardized);
        let path = dir.path().join(HEAD_FILE_NAME);
        written.write(&path).unwrap();
        let read = HeadFile::read(&path).unwrap();
        assert_eq!(read, written);
        assert_eq!(read.to_bytes(), std::fs::read(&path).unwrap());
        assert_eq!(HeadFile::resolve_path(dir.path()), path);
        assert_eq!(HeadFile::resolve_path(&path), path);
    }
    let mut without = head(&["ants", "bees"], 4, false);
    without.weights_location = None;
    let bytes = without.to_bytes();
    assert!(!String::from_utf8_lossy(&bytes).contains("weights.location"));
    assert_eq!(
        HeadFile::from_bytes("x".as_ref(), &bytes)
            .unwrap()
            .weights_location,
        None
    );
}

#[test]
fn probabilities_follow_the_documented_formula() {
    let two = head(&["ants", "bees"], 3, true);
    assert_eq!(two.activation(), Activation::Sigmoid);
    let x = [0.5f32, -1.0, 2.0];
    let s = two.standardization.as_ref().unwrap();
    let z: f64 = f64::from(two.bias[0])
        + (0..3)
            .map(|j| f64::from(two.weight[j]) * f64::from((x[j] - s.mean[j]) / s.scale[j]))
            .sum::<f64>();
    let p = two.probabilities(&x);
    let expected = 1.0 / (1.0 + (-z).exp());
    assert!((p[1] - expected).abs() < 1e-7, "{p:?} vs {expected}");
    assert!((p[0] + p[1] - 1.0).abs() < 1e-12);
    assert_eq!(HeadFile::predicted(&[0.55, 0.45], 0.4), 1);
    assert_eq!(HeadFile::predicted(&[0.65, 0.35], 0.4), 0);

    let three = head(&["a", "b", "c"], 3, false);
    assert_eq!(three.activation(), Activation::Softmax);
    let p = three.probabilities(&x);
    assert_eq!(p.len(), 3);
    assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    let logits: Vec<f64> = (0..3)
        .map(|k| {
            f64::from(three.bias[k])
                + (0..3)
                    .map(|j| f64::from(three.weight[k * 3 + j]) * f64::from(x[j]))
                    .sum::<f64>()
        })
        .collect();
    let best = (0..3)
        .max_by(|a, b| logits[*a].total_cmp(&logits[*b]))
        .unwrap();
    assert_eq!(HeadFile::predicted(&p, 0.5), best);
}

#[test]
fn malformed_files_are_refused_naming_the_file() {
    let good = head(&["ants", "bees"], 4, false).to_bytes();
    let header_len = u64::from_le_bytes(good[..8].try_into().unwrap()) as usize;
    let header = String::from_utf8(good[8..8 + header_len].to_vec()).unwrap();
    let with_header = |header: String| {
        let mut header = header.trim_end().to_string().into_bytes();
        header.resize(header.len().div_ceil(8) * 8, b' ');
        let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
        bytes.extend_from_slice(&header);
        bytes.extend_from_slice(&good[8 + header_len..]);
        bytes
    };
    let cases = [
        (b"not a head".to_vec(), "runs/x/head.safetensors"),
        (
            with_header(header.replace("effprobe-head/1", "effprobe-head/9")),
            "effprobe-head/9",
        ),
        (
            with_header(header.replace("\"feature_dim\":\"4\"", "\"feature_dim\":\"5\"")),
            "expected [1, 5]",
        ),
        (
            with_header(header.replace("\"activation\":\"sigmoid\"", "\"activation\":\"softmax\"")),
            "activation",
        ),
    ];
    for (bytes, expected) in cases {
        let error = HeadFile::from_bytes("runs/x/head.safetensors".as_ref(), &bytes)
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("runs/x/head.safetensors: "), "{error}");
        assert!(error.contains(expected), "{error}");
    }
    let missing = HeadFile::read("/nonexistent/head.safetensors".as_ref())
        .unwrap_err()
        .to_string();
    assert!(
        missing.contains("/nonexistent/head.safetensors"),
        "{missing}"
    );
}
