//! Same inputs and seed give bit-identical weights and metrics on 1 and 2 threads.

mod common;

use std::path::PathBuf;

use feature_matrix::matrix::Matrix;
use head::optim::adam::{glorot_uniform, Adam, AdamConfig, COLUMN_BLOCK};
use head::rng::SplitMix64;
use head::{ClassWeight, Optimizer, SweepGrid, ThresholdRule, TrainOptions};

fn features(dir: &std::path::Path, classes: &[&str]) -> PathBuf {
    let dim = 40;
    let rows = common::mixture_rows(
        dim,
        classes,
        &common::standard_counts(classes.len(), 300, 60, 60),
        0.2,
        3,
    );
    common::write(
        &dir.join(format!("features-{}.parquet", classes.len())),
        &common::meta("b3", dim, classes),
        rows,
    )
}

/// Weights' bits and metrics.json without the wall-clock and machine fields.
fn fingerprint(
    threads: usize,
    path: &PathBuf,
    options: &TrainOptions,
) -> (Vec<u32>, serde_json::Value) {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("thread pool");
    pool.install(|| {
        let run = head::train(std::slice::from_ref(path), options).expect("train");
        let bits = run
            .head
            .weight
            .iter()
            .chain(&run.head.bias)
            .map(|v| v.to_bits())
            .collect();
        let mut metrics = serde_json::to_value(run.run_metrics(options)).expect("metrics JSON");
        let object = metrics.as_object_mut().expect("object");
        object.remove("timing");
        object.remove("resources");
        for candidate in object["candidates"].as_array_mut().expect("candidates") {
            candidate
                .as_object_mut()
                .expect("candidate")
                .remove("seconds");
        }
        (bits, metrics)
    })
}

fn assert_thread_count_invariant(path: &PathBuf, options: &TrainOptions) {
    let (bits_1, metrics_1) = fingerprint(1, path, options);
    let (bits_2, metrics_2) = fingerprint(2, path, options);
    assert_eq!(bits_1, bits_2, "weights differ between 1 and 2 threads");
    assert_eq!(
        metrics_1, metrics_2,
        "metrics differ between 1 and 2 threads"
    );
    // A different seed must change an Adam run: the comparison above can fail.
    if options.optimizer == Optimizer::Adam {
        let (bits_other, _) = fingerprint(
            2,
            path,
            &TrainOptions {
                seed: options.seed + 1,
                ..options.clone()
            },
        );
        assert_ne!(bits_1, bits_other);
    }
}

#[test]
fn adam_sweep_is_bit_identical_across_thread_counts() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = features(dir.path(), &["ants", "bees"]);
    let options = TrainOptions {
        standardize: true,
        class_weight: ClassWeight::Balanced,
        epochs: 6,
        early_stop: Some(2),
        seed: 5,
        sweep: Some(SweepGrid {
            lr: vec![1e-3, 1e-2],
            l2: vec![0.0, 1e-3],
        }),
        threshold: ThresholdRule::ValF1,
        ..Default::default()
    };
    assert_thread_count_invariant(&path, &options);
}

#[test]
fn full_batch_softmax_is_bit_identical_across_thread_counts() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = features(dir.path(), &["cat", "dog", "fox"]);
    let options = TrainOptions {
        optimizer: Optimizer::Lbfgs,
        l2: Some(1e-3),
        tol: 1e-8,
        ..Default::default()
    };
    assert_thread_count_invariant(&path, &options);
}

/// Many classes: the tiled pass (columns in tasks of 64, a partial last tile,
/// classes padding both tile widths) in f16 storage.
#[test]
fn full_batch_many_classes_are_bit_identical_across_thread_counts() {
    let dir = tempfile::tempdir().expect("temp dir");
    let classes = ["a", "b", "c", "d", "e", "f", "g", "h", "i"];
    let rows = common::mixture_rows(
        150,
        &classes,
        &common::standard_counts(classes.len(), 20, 6, 6),
        0.4,
        5,
    );
    let path = common::write(
        &dir.path().join("many.parquet"),
        &common::meta("b3", 150, &classes),
        rows,
    );
    let options = TrainOptions {
        optimizer: Optimizer::Lbfgs,
        l2: Some(1e-2),
        storage: head::Storage::F16,
        ..Default::default()
    };
    assert_thread_count_invariant(&path, &options);
}

#[test]
fn clip_l2_search_is_bit_identical_across_thread_counts() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = features(dir.path(), &["ants", "bees"]);
    let options = TrainOptions {
        optimizer: Optimizer::Lbfgs,
        sweep_l2_auto: true,
        standardize: true,
        ..Default::default()
    };
    assert_thread_count_invariant(&path, &options);
}

/// Adam's kernel bits after two epochs with `threads` threads sharing the columns.
fn adam_bits(threads: usize, classes: usize, dim: usize) -> Vec<u32> {
    let rows = 150;
    let mut rng = SplitMix64::new(9, 0);
    let values: Vec<f32> = (0..rows * dim)
        .map(|_| (rng.next_f64() * 2.0 - 1.0) as f32)
        .collect();
    let mut matrix = Matrix::<f32>::zeroed(rows, dim);
    matrix.fill_rows(0, &values);
    let labels: Vec<u32> = (0..rows).map(|r| (r * 7 % classes) as u32).collect();
    let fit_rows: Vec<usize> = (0..rows).filter(|r| r % 10 != 3).collect();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("thread pool");
    pool.install(|| {
        let mut adam = Adam::new(
            AdamConfig {
                lr: 1e-2,
                l2: 1e-3,
                // 34 steps an epoch: past the trial of the split among threads.
                batch_size: 4,
                ..AdamConfig::default()
            },
            4,
            glorot_uniform(classes, dim, 4),
            &matrix,
            &fit_rows,
            &labels,
            &vec![1.0; classes],
        );
        adam.run_epoch();
        adam.run_epoch();
        adam.head
            .weight
            .iter()
            .chain(&adam.head.bias)
            .map(|v| v.to_bits())
            .collect()
    })
}

#[test]
fn adam_shared_by_column_blocks_is_bit_identical_across_thread_counts() {
    // Three blocks, the last partial: 1, 2 and 3 threads split them differently.
    let dim = 2 * COLUMN_BLOCK + 100;
    for classes in [2, 3] {
        let one = adam_bits(1, classes, dim);
        assert_eq!(
            one,
            adam_bits(2, classes, dim),
            "{classes} classes, 2 threads"
        );
        assert_eq!(
            one,
            adam_bits(3, classes, dim),
            "{classes} classes, 3 threads"
        );
    }
}
