//! head-train's scores are the metrics crate's: what `metrics.json` records is
//! what anyone recomputes from `predictions.csv` (the report does), to the bit,
//! even on saturated rows; and a class missing from the judging splits is named
//! there, with nothing divided by zero.

mod common;

use contract::metrics::HeadMetrics;
use contract::predictions::Predictions as PredictionsFile;
use contract::Split;
use head::{Optimizer, TrainOptions};

#[test]
fn metrics_json_and_predictions_csv_agree_to_the_bit_on_saturated_rows() {
    let dir = tempfile::tempdir().unwrap();
    let classes = ["ants", "bees", "wasps", "flies"];
    let dim = 10;
    let mut rows = common::mixture_rows(
        dim,
        &classes,
        &common::standard_counts(classes.len(), 40, 10, 10),
        4.0,
        11,
    );
    // Mislabelled test rows: a separable fit, unregularised, is certain of them and wrong.
    for row in rows.iter_mut().filter(|r| r.split == Split::Test).take(3) {
        row.label = (row.label + 1) % classes.len() as i32;
        row.label_name = classes[row.label as usize].to_string();
    }
    let path = common::write(
        &dir.path().join("features.parquet"),
        &common::meta("b0", dim, &classes),
        rows,
    );
    let options = TrainOptions {
        optimizer: Optimizer::Lbfgs,
        l2: Some(0.0),
        tol: 1e-13,
        max_iter: 3000,
        ..Default::default()
    };
    let run = head::train(&[path], &options).unwrap();
    let out = dir.path().join("run");
    run.write(&out, &options).unwrap();

    let recorded = HeadMetrics::read(&out.join("metrics.json")).unwrap();
    let evaluation = recorded.evaluation().unwrap();
    let file = PredictionsFile::read(&out.join("predictions.csv")).unwrap();
    let predictions = metrics::Predictions::from(&file);
    let saturated = (0..predictions.len())
        .filter(|&i| predictions.true_probability(i) < metrics::log_loss::PROBABILITY_FLOOR)
        .count();
    assert!(saturated > 0, "no saturated row: the test tests nothing");
    let recomputed = metrics::split_metrics(
        &evaluation.split,
        "evaluation",
        &predictions,
        &file.classes,
        recorded.threshold.unwrap_or(0.5),
    );
    assert_eq!(recomputed.log_loss.to_bits(), evaluation.log_loss.to_bits());
    assert!(evaluation.log_loss.is_finite());
    assert_eq!(&recomputed, evaluation);
}

#[test]
fn a_class_missing_from_val_and_test_is_named_and_divides_nothing_by_zero() {
    let dir = tempfile::tempdir().unwrap();
    let classes = ["ants", "bees", "wasps"];
    let dim = 8;
    let rows = common::mixture_rows(
        dim,
        &classes,
        &[
            (Split::Train, vec![30, 30, 12]),
            (Split::Val, vec![8, 8, 0]),
            (Split::Test, vec![8, 8, 0]),
        ],
        1.5,
        12,
    );
    let path = common::write(
        &dir.path().join("features.parquet"),
        &common::meta("b0", dim, &classes),
        rows,
    );
    for optimizer in [Optimizer::Adam, Optimizer::Lbfgs] {
        let options = TrainOptions {
            optimizer,
            ..Default::default()
        };
        let run = head::train(std::slice::from_ref(&path), &options).unwrap();
        let out = dir.path().join(optimizer.as_str());
        run.write(&out, &options).unwrap();
        let text = std::fs::read_to_string(out.join("metrics.json")).unwrap();
        assert!(!text.contains("NaN") && !text.contains("inf"));
        let recorded = HeadMetrics::read(&out.join("metrics.json")).unwrap();
        for split in &recorded.splits {
            let expected: &[&str] = if split.role == "fit" { &[] } else { &["wasps"] };
            assert_eq!(split.classes_absent, expected, "{}", split.role);
            if split.role != "fit" {
                let wasps = &split.per_class[2];
                assert_eq!((wasps.support, wasps.recall), (0, None));
                let balanced = split.balanced_accuracy.unwrap();
                let recalls =
                    split.per_class[0].recall.unwrap() + split.per_class[1].recall.unwrap();
                assert!((balanced - recalls / 2.0).abs() < 1e-15);
                assert!(split.roc_auc.is_some_and(f64::is_finite), "{split:?}");
            }
        }
    }
}
