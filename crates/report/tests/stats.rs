//! The report's interval arithmetic against scipy's (numbers committed in
//! tests/fixtures/stats_reference.json by tests/python/stats_reference.py):
//! Wilson intervals and McNemar's exact test to 1e-12, bootstrap intervals of a
//! log-loss and a ROC-AUC to within what two independent resamplings agree on.

use contract::predictions::{PredictionRow, Predictions};
use report::stats::{mcnemar_exact, score_intervals, wilson, Z95};

fn reference() -> serde_json::Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/stats_reference.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn wilson_intervals_match_scipy() {
    for case in reference()["wilson"].as_array().unwrap() {
        let (k, n) = (
            case["successes"].as_u64().unwrap() as usize,
            case["n"].as_u64().unwrap() as usize,
        );
        let ours = wilson(k, n, Z95).unwrap();
        for (ours, theirs) in [(ours.low, &case["low"]), (ours.high, &case["high"])] {
            let theirs = theirs.as_f64().unwrap();
            assert!(
                (ours - theirs).abs() < 1e-12,
                "{k}/{n}: {ours} vs scipy {theirs}"
            );
        }
    }
}

#[test]
fn mcnemar_matches_the_exact_binomial_test() {
    for case in reference()["mcnemar"].as_array().unwrap() {
        let (b, c) = (
            case["only_first"].as_u64().unwrap() as usize,
            case["only_second"].as_u64().unwrap() as usize,
        );
        let theirs = case["p_value"].as_f64().unwrap();
        let ours = mcnemar_exact(b, c);
        assert!((ours - theirs).abs() < 1e-12, "{b}/{c}: {ours} vs {theirs}");
    }
}

#[test]
fn bootstrap_intervals_agree_with_scipys() {
    let bootstrap = &reference()["bootstrap"];
    let labels: Vec<u32> = bootstrap["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_u64().unwrap() as u32)
        .collect();
    let p1: Vec<f64> = bootstrap["p1"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_f64().unwrap())
        .collect();
    let predictions = Predictions {
        classes: vec!["no".into(), "yes".into()],
        rows: labels
            .iter()
            .zip(&p1)
            .enumerate()
            .map(|(i, (&label, &p))| PredictionRow {
                key: format!("{i:064}"),
                label,
                probabilities: vec![1.0 - p, p],
            })
            .collect(),
    };
    let (loss, auc) = score_intervals(&predictions);
    let (loss, auc) = (loss.unwrap(), auc.unwrap());
    for (name, ours, theirs) in [
        ("log-loss", loss, &bootstrap["log_loss_interval"]),
        ("ROC-AUC", auc, &bootstrap["roc_auc_interval"]),
    ] {
        let (low, high) = (theirs[0].as_f64().unwrap(), theirs[1].as_f64().unwrap());
        // Monte Carlo error of a 2.5% quantile with 2,000 resamples: a few
        // percent of the interval's width.
        let tolerance = 0.06 * (high - low);
        assert!(
            (ours.low - low).abs() < tolerance && (ours.high - high).abs() < tolerance,
            "{name}: [{}, {}] vs scipy [{low}, {high}]",
            ours.low,
            ours.high
        );
    }
}
