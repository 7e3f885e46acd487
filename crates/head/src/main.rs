//! `head-train`: fit a head over cached features; see `head-train --help`.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::{Parser, ValueEnum};
use head::{ClassWeight, Optimizer, Storage, SweepGrid, ThresholdRule, TrainOptions};

/// Train a logistic (2 classes) or softmax (K classes) head on cached features:
/// fit on `train`, select on `val`, evaluate once on `test`. Without a test split,
/// val evaluates and a hash-chosen holdout of train selects.
#[derive(Parser, Debug)]
#[command(name = "head-train", version)]
struct Cli {
    /// Feature files (.parquet) or directories of part files, all of the same features.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Output directory for head.safetensors, metrics.json and history.csv.
    #[arg(long)]
    out: PathBuf,
    #[arg(long, value_enum, default_value_t = OptimizerArg::Adam)]
    optimizer: OptimizerArg,
    /// L2 strength: the objective is mean log-loss + l2/2 · ‖W‖² (bias unpenalised);
    /// scikit-learn's C = 1 / (l2 · n_train). Default: 0 for adam; for lbfgs
    /// scikit-learn's default C = 1, i.e. 1 / n_train (printed). `--l2 0` turns it off.
    #[arg(long)]
    l2: Option<f64>,
    /// Standardise each column with train statistics (stored with the head).
    #[arg(long)]
    standardize: bool,
    #[arg(long, value_enum, default_value_t = ClassWeightArg::None)]
    class_weight: ClassWeightArg,
    #[arg(long, default_value_t = 10)]
    epochs: usize,
    /// Rows per Adam step (extract's --batch-size is images per backbone pass).
    #[arg(long, default_value_t = 32)]
    head_batch_size: usize,
    /// Deprecated spelling of --head-batch-size.
    #[arg(long = "batch-size", hide = true)]
    old_batch_size: Option<usize>,
    #[arg(long, default_value_t = 1e-3)]
    lr: f32,
    /// Stop Adam after PATIENCE epochs without a lower selection loss, keeping the best epoch.
    #[arg(long, value_name = "PATIENCE")]
    early_stop: Option<usize>,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Share of train held out for selection when there is no test split (default
    /// 0.1 then); given explicitly, it replaces val as the selection split.
    #[arg(long)]
    holdout: Option<f64>,
    /// A grid of heads trained in parallel, best selection loss kept: `lr=1e-4,1e-3 l2=0,1e-4`.
    #[arg(long, num_args = 1.., value_name = "NAME=V1,V2,...")]
    sweep: Vec<String>,
    /// `auto`: CLIP's linear-probe protocol (L2 over 1e-6..1e6 on a log scale with
    /// the full-batch solver, then a refit on train + selection).
    #[arg(long, value_enum)]
    sweep_l2: Option<SweepL2>,
    /// Decision threshold on p(class 1) for two classes: a number in [0, 1], or `val-f1` to
    /// maximise F1 on the selection split. More classes predict the most probable
    /// (the first on ties), and val-f1 is refused.
    #[arg(long, default_value = "0.5")]
    threshold: ThresholdRule,
    /// Full-batch solver: stop when the largest gradient component is at most this.
    #[arg(long, default_value_t = 1e-6)]
    tol: f64,
    /// Full-batch solver: iteration limit.
    #[arg(long, default_value_t = 1000)]
    max_iter: usize,
    /// Element type of the in-memory feature matrix (arithmetic is always f32/f64).
    #[arg(long, value_enum, default_value_t = StorageArg::F32)]
    storage: StorageArg,
    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(long)]
    threads: Option<usize>,
    /// Print nothing on success.
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum OptimizerArg {
    Adam,
    Lbfgs,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum ClassWeightArg {
    None,
    Balanced,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum SweepL2 {
    Auto,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum StorageArg {
    F32,
    F16,
    Bf16,
}

fn parse_sweep(specs: &[String]) -> Result<Option<SweepGrid>> {
    if specs.is_empty() {
        return Ok(None);
    }
    let mut grid = SweepGrid::default();
    for spec in specs {
        let (name, numbers) = contract::metrics::sweep_axis(spec).map_err(anyhow::Error::msg)?;
        match name {
            "lr" => grid.lr = numbers.into_iter().map(|v| v as f32).collect(),
            "l2" => grid.l2 = numbers,
            other => bail!("--sweep {other:?}: only lr and l2 can be swept"),
        }
    }
    Ok(Some(grid))
}

fn options(cli: &Cli) -> Result<TrainOptions> {
    let threshold = cli.threshold;
    Ok(TrainOptions {
        optimizer: match cli.optimizer {
            OptimizerArg::Adam => Optimizer::Adam,
            OptimizerArg::Lbfgs => Optimizer::Lbfgs,
        },
        l2: cli.l2,
        standardize: cli.standardize,
        class_weight: match cli.class_weight {
            ClassWeightArg::None => ClassWeight::None,
            ClassWeightArg::Balanced => ClassWeight::Balanced,
        },
        epochs: cli.epochs,
        batch_size: match cli.old_batch_size {
            Some(old) => {
                eprintln!("warning: --batch-size is deprecated and goes in the next release; use --head-batch-size");
                old
            }
            None => cli.head_batch_size,
        },
        lr: cli.lr,
        early_stop: cli.early_stop,
        seed: cli.seed,
        holdout: cli.holdout,
        sweep: parse_sweep(&cli.sweep)?,
        sweep_l2_auto: cli.sweep_l2.is_some(),
        threshold,
        tol: cli.tol,
        max_iter: cli.max_iter,
        storage: match cli.storage {
            StorageArg::F32 => Storage::F32,
            StorageArg::F16 => Storage::F16,
            StorageArg::Bf16 => Storage::Bf16,
        },
    })
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    if let Some(threads) = cli.threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build_global()
            .context("starting the thread pool")?;
    }
    let options = options(&cli)?;
    let run = head::train(&cli.inputs, &options).context("training the head")?;
    run.write(&cli.out, &options)
        .with_context(|| format!("writing results to {}", cli.out.display()))?;
    if cli.quiet {
        return Ok(());
    }
    let chosen = &run.candidates[run.chosen].record;
    if cli.l2.is_none()
        && options.optimizer == Optimizer::Lbfgs
        && !options.sweep_l2_auto
        && options.sweep.is_none()
    {
        println!(
            "no --l2: scikit-learn's default C = 1, l2 = 1 / n_train = {:.6} ({} fit rows)",
            chosen.l2,
            run.plan.fit.rows.len()
        );
    }
    for m in &run.metrics {
        println!("{}", metrics::split::summary_line(m));
    }
    println!(
        "kept head {} of {} (lr {:?}, l2 {}) trained in {:.3} s; results in {}",
        run.chosen + 1,
        run.candidates.len(),
        chosen.lr,
        chosen.l2,
        chosen.seconds,
        cli.out.display()
    );
    Ok(())
}
