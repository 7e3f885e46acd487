//! Throughput of a backbone over synthetic batches (no decoding, no disk): the
//! model's share of extraction time, for `extract bench` and bench/gpu_check.sh.

use std::time::{Duration, Instant};

use tch::{Device, Kind, Tensor};

use crate::error::ModelError;
use crate::net::FeatureNet;

#[derive(Clone, Copy, Debug)]
pub struct BenchConfig {
    pub batch_size: i64,
    pub image_size: i64,
    /// Untimed batches first (cuDNN autotuning, allocator warm-up).
    pub warmup_batches: usize,
    pub timed_batches: usize,
    pub seed: u64,
}

#[derive(Debug)]
pub struct BenchReport {
    pub images: usize,
    pub elapsed: Duration,
    /// Features of the first synthetic batch, for comparing precisions.
    pub first_batch_features: Tensor,
}

impl BenchReport {
    pub fn images_per_second(&self) -> f64 {
        self.images as f64 / self.elapsed.as_secs_f64()
    }
}

/// A normalised-looking synthetic batch; the same seed gives the same images.
pub fn synthetic_batch(config: &BenchConfig) -> Result<Tensor, ModelError> {
    tch::manual_seed(config.seed as i64);
    let size = [config.batch_size, 3, config.image_size, config.image_size];
    Ok(Tensor::f_randn(size, (Kind::Float, Device::Cpu))?)
}

/// Runs `warmup + timed` batches through `backbone`. Each batch's features are
/// copied back to the CPU, which also waits for the GPU, so the time is real.
pub fn run(backbone: &dyn FeatureNet, config: &BenchConfig) -> Result<BenchReport, ModelError> {
    let batch = synthetic_batch(config)?.f_to_device(backbone.placement().device)?;
    let first_batch_features = backbone.features(&batch)?;
    for _ in 1..config.warmup_batches {
        let _ = backbone.features(&batch)?;
    }
    let started = Instant::now();
    for _ in 0..config.timed_batches {
        let _ = backbone.features(&batch)?;
    }
    Ok(BenchReport {
        images: config.timed_batches * config.batch_size as usize,
        elapsed: started.elapsed(),
        first_batch_features,
    })
}

/// `max |a - b| / max |b|`: how far `a` strays from the reference `b`.
pub fn max_relative_error(a: &Tensor, b: &Tensor) -> Result<f64, ModelError> {
    let scale = b.f_abs()?.f_max()?.f_double_value(&[])?;
    let error = a
        .f_to_kind(Kind::Double)?
        .f_sub(&b.f_to_kind(Kind::Double)?)?
        .f_abs()?
        .f_max()?
        .f_double_value(&[])?;
    Ok(error / scale)
}
