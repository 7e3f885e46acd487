mod bench;
mod doctor;
mod run;
mod scan;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Run frozen EfficientNet backbones once per image and cache pooled features in Parquet.
///
/// Without a subcommand, extracts features:
///   extract --variant b0,b3 --data DATASET --weights b0=W0 --weights b3=W3 --out features/
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
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        None => run::run(cli.extract),
        Some(Command::Scan(args)) => scan::run(args),
        Some(Command::Doctor(args)) => doctor::run(args),
        Some(Command::Bench(args)) => bench::run(args),
    }
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
