//! The full-batch solver reaches scikit-learn's optimum: objective to 1e-6
//! relative, weights to 1e-4.

mod common;

use std::path::Path;
use std::time::Instant;

use feature_matrix::load::load_features;
use head::{ClassWeight, Optimizer, TrainOptions};

fn compare_with_sklearn(classes: &[&str], l2: f64, class_weight: ClassWeight) {
    compare_shape_with_sklearn(classes, 12, 150, l2, class_weight);
}

/// `dim` columns, `train + 7c` train rows of class c.
fn compare_shape_with_sklearn(
    classes: &[&str],
    dim: usize,
    train: usize,
    l2: f64,
    class_weight: ClassWeight,
) {
    let Some(python) = testkit::python() else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let rows = common::mixture_rows(
        dim,
        classes,
        &common::standard_counts(classes.len(), train, 30, 30),
        0.35,
        7,
    );
    let path = common::write(
        &dir.path().join("features.parquet"),
        &common::meta("b0", dim, classes),
        rows,
    );

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/sklearn_reference.py");
    let mut args = vec![
        path.to_str().expect("utf-8 path").to_string(),
        l2.to_string(),
    ];
    if class_weight == ClassWeight::Balanced {
        args.push("balanced".into());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let reference: serde_json::Value =
        serde_json::from_str(&testkit::run_python(&python, &script, &args))
            .expect("JSON from sklearn_reference.py");

    let options = TrainOptions {
        optimizer: Optimizer::Lbfgs,
        l2: Some(l2),
        class_weight,
        tol: 1e-10,
        max_iter: 10_000,
        ..Default::default()
    };
    let features = load_features::<f32>(&[path]).expect("load");
    let run = head::train_loaded(features, &options, Instant::now()).expect("train");
    let fitted = &run.candidates[run.chosen].record;
    assert_eq!(
        fitted.converged,
        Some(true),
        "solver did not converge: {fitted:?}"
    );

    let sklearn_objective = reference["objective"].as_f64().expect("objective");
    let ours = fitted.objective.expect("objective");
    let relative = (ours - sklearn_objective).abs() / sklearn_objective.abs();
    assert!(
        relative <= 1e-6,
        "objective {ours} vs scikit-learn {sklearn_objective}: relative gap {relative:e}"
    );

    let coef = reference["coef"].as_array().expect("coef");
    let intercept = reference["intercept"].as_array().expect("intercept");
    assert_eq!(coef.len(), run.head.outputs());
    let mut worst = 0.0f64;
    for (k, row) in coef.iter().enumerate() {
        for (j, value) in row.as_array().expect("coef row").iter().enumerate() {
            worst = worst
                .max((value.as_f64().expect("number") - run.head.weight_row(k)[j] as f64).abs());
        }
        worst = worst.max((intercept[k].as_f64().expect("number") - run.head.bias[k] as f64).abs());
    }
    assert!(
        worst <= 1e-4,
        "weights differ from scikit-learn's by up to {worst:e}"
    );
}

#[test]
fn binary_head_matches_scikit_learn() {
    compare_with_sklearn(&["ants", "bees"], 1e-2, ClassWeight::None);
}

#[test]
fn binary_head_with_balanced_class_weights_matches_scikit_learn() {
    compare_with_sklearn(&["ants", "bees"], 3e-3, ClassWeight::Balanced);
}

#[test]
fn softmax_head_matches_scikit_learn() {
    compare_with_sklearn(&["cat", "dog", "fox"], 1e-2, ClassWeight::None);
}

/// Many classes, few rows each, more columns than rows per class: the tiled
/// pass and the solver's preconditioner for that shape.
#[test]
fn many_class_head_with_few_rows_per_class_matches_scikit_learn() {
    let classes = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l"];
    compare_shape_with_sklearn(&classes, 70, 4, 2e-2, ClassWeight::None);
}
