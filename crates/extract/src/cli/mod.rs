mod bench;
mod dataset;
mod doctor;
mod export;
mod hub_weights;
mod predict;
mod run;
mod scan;
mod settings;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Run frozen EfficientNet backbones once per image and cache pooled features in Parquet.
///
/// Without a subcommand, extracts features:
///
///   extract --variant b0,b3 --data DATASET --weights b0=W0 --weights b3=W3 --out features/
///
///   extract --variant b7 --data DATASET --download   (canonical timm weights, fetched once)
#[derive(Parser, Debug)]
#[command(
    name = "extract",
    version,
    about,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    extract: run::Args,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Count a dataset's images per split and class, and list the files that cannot be used.
    Scan(scan::Args),
    /// Show the libtorch this binary loaded: version, CUDA, cuDNN, devices, threads.
    Doctor(doctor::Args),
    /// Time one backbone over synthetic batches: images per second on a device and precision.
    Bench(bench::Args),
    /// Classify images with a trained head and the backbone its features came from.
    ///
    /// `extract predict --head runs/b3 IMAGES_OR_DIRS...`. The head records its variant,
    /// weights and preprocessing: the backbone is rebuilt from them and checked (weights
    /// blake3, variant, feature width, recipe) before any image is read. Prints one row
    /// per input, in the order given: CSV `path,key,predicted,p_CLASS...,error` (default)
    /// or JSON lines; a summary on stderr says how many features the backbone computed
    /// and how many came from --cache.
    Predict(predict::Args),
    /// Write a head and its backbone as one TorchScript module for serving.
    ///
    /// `extract export --head runs/b3 --out model.pt`. TorchScript because libtorch
    /// writes and reads it natively: this binary traces the Rust network without
    /// Python, and any libtorch program (C++, tch, Python `torch.jit.load`) runs it;
    /// ONNX export exists only in Python torch. The module takes uint8 [N, S, S, 3] RGB
    /// images already resized and cropped as the recipe says, normalises them inside,
    /// and returns float32 [N, K] class probabilities (on the CPU). MODULE.json beside
    /// it records the recipe (input size, resize, crop, interpolation, mean, std),
    /// classes, threshold and the weights' identity.
    Export(export::Args),
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        None => run::run(cli.extract),
        Some(Command::Scan(args)) => scan::run(args),
        Some(Command::Doctor(args)) => doctor::run(args),
        Some(Command::Bench(args)) => bench::run(args),
        Some(Command::Predict(args)) => predict::run(args),
        Some(Command::Export(args)) => export::run(args),
    }
}

/// A flag's old spelling still works for one release, and says so.
pub fn deprecated(old: &str, new: &str) {
    eprintln!("warning: {old} is deprecated and goes in the next release; use {new}");
}

/// `RUST_LOG` controls verbosity (default: warnings), logs go to stderr.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
