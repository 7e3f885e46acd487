//! `tune-train`: argument parsing only; the work lives in the `tune` library.

// jemalloc with freed pages kept, as in extract (every step allocates and frees
// its activations and gradients).
use tikv_jemalloc_sys as _;
#[export_name = "malloc_conf"]
pub static MALLOC_CONF: &[u8; 36] = b"dirty_decay_ms:-1,muzzy_decay_ms:-1\0";

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use backbone::DeviceRequest;
use clap::{Parser, ValueEnum};
use contract::metrics::ThresholdRule;
use tune::data::TuneData;
use tune::{Schedule, TuneOptions};

/// Fine-tune the last N blocks of a backbone, its head convolution and a linear
/// classifier over the activations `extract --tune-top N` cached: the frozen part
/// never runs again. Fit on train, select on val, evaluate once on test (without
/// test: a hash-chosen holdout of train selects, val evaluates), as head-train.
#[derive(Parser, Debug)]
#[command(name = "tune-train", version)]
struct Cli {
    /// Feature files (.parquet) written by `extract --tune-top N`: their rows
    /// (labels, splits) and the activation cache they record.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Output directory: tune.safetensors, head.safetensors, metrics.json, history.csv, predictions.csv.
    #[arg(long)]
    out: PathBuf,
    /// The activation cache folder (default: the one the feature file records).
    #[arg(long, value_name = "DIR")]
    activations: Option<PathBuf>,
    /// The backbone's weights (default: where the feature file says they were loaded
    /// from); checked to be the ones the activations came from.
    #[arg(long, value_name = "SPEC")]
    weights: Option<String>,
    #[arg(long, default_value_t = 10)]
    epochs: usize,
    /// Images per AdamW step.
    #[arg(long, default_value_t = 32)]
    tune_batch_size: usize,
    #[arg(long, default_value_t = 1e-3)]
    lr: f64,
    /// AdamW's decoupled weight decay (PyTorch's default 0.01).
    #[arg(long, default_value_t = 0.01)]
    weight_decay: f64,
    #[arg(long, value_enum, default_value_t = ScheduleArg::Cosine)]
    schedule: ScheduleArg,
    /// Update the batch-norm running statistics while training (default: frozen, as
    /// the backbone was trained).
    #[arg(long)]
    update_bn: bool,
    /// Stop after PATIENCE epochs without a lower selection loss, keeping the best epoch.
    #[arg(long, value_name = "PATIENCE")]
    early_stop: Option<usize>,
    /// Seeds the classifier's initialisation and the batch order.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Share of train held out for selection when there is no test split (default 0.1 then).
    #[arg(long)]
    holdout: Option<f64>,
    /// A grid of runs, best selection loss kept: `lr=1e-4,1e-3 weight-decay=0,0.01`.
    #[arg(long, num_args = 1.., value_name = "NAME=V1,V2,...")]
    sweep: Vec<String>,
    /// Decision threshold on p(class 1) for two classes: a number in [0, 1], or `val-f1` to
    /// maximise F1 on the selection split. More classes predict the most probable
    /// (the first on ties), and val-f1 is refused.
    #[arg(long, default_value = "0.5")]
    threshold: ThresholdRule,
    /// auto (first GPU if libtorch sees one), cpu, cuda or cuda:N.
    #[arg(long, default_value = "auto", value_name = "auto|cpu|cuda|cuda:N")]
    device: DeviceRequest,
    /// Hugging Face cache for weights named by hub name.
    #[arg(long)]
    hf_cache: Option<PathBuf>,
    /// libtorch's threads (default: all cores). With a fixed count, CPU runs repeat bit for bit.
    #[arg(long)]
    threads: Option<usize>,
    /// Print nothing on success.
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum ScheduleArg {
    Cosine,
    Constant,
}

fn options(cli: &Cli) -> Result<TuneOptions> {
    let mut options = TuneOptions {
        epochs: cli.epochs,
        batch_size: cli.tune_batch_size,
        lr: cli.lr,
        weight_decay: cli.weight_decay,
        schedule: match cli.schedule {
            ScheduleArg::Cosine => Schedule::Cosine,
            ScheduleArg::Constant => Schedule::Constant,
        },
        update_batch_norm: cli.update_bn,
        early_stop: cli.early_stop,
        seed: cli.seed,
        holdout: cli.holdout,
        threshold: cli.threshold,
        device: cli.device.resolve()?,
        activations: cli.activations.clone(),
        ..TuneOptions::default()
    };
    for spec in &cli.sweep {
        let (name, values) = contract::metrics::sweep_axis(spec).map_err(anyhow::Error::msg)?;
        match name {
            "lr" => options.sweep_lr = values,
            "weight-decay" => options.sweep_weight_decay = values,
            other => bail!("--sweep {other:?}: only lr and weight-decay can be swept"),
        }
    }
    Ok(options)
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            // The cause chain on one line, without a backtrace: the message is the answer.
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    if let Some(threads) = cli.threads {
        anyhow::ensure!(threads > 0, "--threads must be at least 1");
        tch::set_num_threads(threads as i32);
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build_global()
            .context("starting the thread pool")?;
    }
    let options = options(&cli)?;
    let started = Instant::now();
    let data = TuneData::open(&cli.inputs, options.activations.as_deref())
        .context("reading the features and activations")?;
    let hub_cache = cli
        .hf_cache
        .clone()
        .unwrap_or_else(backbone::hub_cache::default_cache_dir);
    let weights = tune::weights::load(&data.rows.meta, cli.weights.as_deref(), &hub_cache)?;
    let load_seconds = started.elapsed().as_secs_f64();
    let run = tune::train(&data, &weights, &options, load_seconds).context("fine-tuning")?;
    run.write(&cli.out, &data, &weights, &options)
        .with_context(|| format!("writing results to {}", cli.out.display()))?;
    if cli.quiet {
        return Ok(());
    }
    let cut = data.cut();
    for m in &run.metrics {
        println!("{}", metrics::split::summary_line(m));
    }
    let chosen = &run.candidates[run.chosen];
    println!(
        "kept run {} of {} (lr {}, weight decay {}, top {} of {} blocks, {} trainable values) trained in {:.1} s; results in {}",
        run.chosen + 1,
        run.candidates.len(),
        chosen.record.lr.unwrap_or_default(),
        chosen.weight_decay,
        cut.top_blocks,
        cut.total_blocks,
        run.top.parameter_count(),
        chosen.record.seconds,
        cli.out.display()
    );
    Ok(())
}
