use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use extract::pipeline::ProgressMode;
use extract::predict::{
    self, CacheUse, FeatureOptions, Format, PredictOptions, PredictSummary, EXIT_SOME_REJECTED,
};

const EXIT_STATUS: &str = "\
Exit status:
  0  every input classified
  1  an error stopped the run before any output (unreadable head, weights that
     do not make the head's features, no such --cache, a backbone failure)
  2  bad command line
  3  some inputs rejected (empty, truncated, not an image, over --max-pixels,
     unreadable): each is listed on stderr and in the output with its reason;
     every other input is classified";

/// `extract predict`: see its entry in `Command` for the description.
#[derive(clap::Args, Debug)]
#[command(after_help = EXIT_STATUS)]
pub struct Args {
    /// A head-train output folder (holding head.safetensors) or a head file.
    #[arg(long, value_name = "RUN|FILE")]
    head: PathBuf,
    /// Image files, and folders whose every non-hidden file (recursively, sorted)
    /// is classified.
    #[arg(required = true, value_name = "IMAGES_OR_DIRS")]
    inputs: Vec<PathBuf>,
    /// Backbone weights (.safetensors, Hugging Face cache name, random:SEED), or the
    /// exported module (.pt) for a head on one; default: where the head records them.
    /// Either way they must be the weights the head's features were made with (same blake3).
    #[arg(long, value_name = "SPEC")]
    weights: Option<String>,
    /// A feature cache: an `extract --out` folder (or its .cache). Images whose
    /// features it holds for this backbone and recipe skip the backbone, and newly
    /// computed ones are added to it, so a second run is fully cached.
    #[arg(long, value_name = "DIR")]
    cache: Option<PathBuf>,
    /// Only read --cache, never add to it.
    #[arg(long, requires = "cache")]
    no_cache_write: bool,
    #[arg(long, value_enum, default_value = "csv")]
    format: FormatArg,
    /// Write the table to FILE (replaced atomically) instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Deprecated spelling of --out.
    #[arg(long = "output", hide = true, value_name = "FILE")]
    old_output: Option<PathBuf>,
    /// Decision threshold on p(class 1) for two-class heads (default: the head's).
    #[arg(long, value_name = "P")]
    threshold: Option<f64>,
    #[command(flatten)]
    backbone: super::settings::BackboneArgs,
    /// No progress and no summary (rejected inputs are still listed on stderr).
    #[arg(long, short)]
    quiet: bool,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum FormatArg {
    Csv,
    Jsonl,
}

/// `--cache DIR`: an extract output folder holds its cache in `.cache`.
fn cache_root(dir: &Path) -> PathBuf {
    if dir.file_name().is_some_and(|n| n == ".cache") {
        dir.to_path_buf()
    } else {
        dir.join(".cache")
    }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let settings = args.backbone.settings()?;
    let cache = match &args.cache {
        Some(dir) => {
            if args.no_cache_write && !dir.is_dir() {
                bail!("--cache {}: no such folder", dir.display());
            }
            Some(CacheUse {
                root: cache_root(dir),
                write: !args.no_cache_write,
            })
        }
        None => None,
    };
    let head = predict::read_head(&args.head)?;
    // A bad threshold fails before the weights load.
    predict::threshold(&head.file, args.threshold)?;
    let source = predict::backbone_source(&head, args.weights.as_deref())?;
    let mut backbone = predict::rebuild(&head, &source, &settings, args.backbone.batch_size)?;

    let files = predict::collect(&args.inputs);
    let options = PredictOptions {
        threshold: args.threshold,
        features: FeatureOptions {
            limits: args.backbone.limits(),
            progress: if args.quiet {
                ProgressMode::Quiet
            } else {
                ProgressMode::Auto
            },
            cache,
        },
    };
    let (predictions, summary) = predict::predict(&head.file, &mut backbone, &files, &options)?;

    let format = match args.format {
        FormatArg::Csv => Format::Csv,
        FormatArg::Jsonl => Format::Jsonl,
    };
    let mut table = Vec::new();
    predict::output::write(&mut table, format, &head.file.classes, &predictions)
        .context("formatting the predictions")?;
    let out = match (&args.out, &args.old_output) {
        (None, Some(old)) => {
            super::deprecated("--output", "--out");
            Some(old)
        }
        (out, _) => out.as_ref(),
    };
    match out {
        Some(path) => contract::atomic::write_atomically(path, &table)
            .with_context(|| format!("writing {}", path.display()))?,
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(&table)
                .and_then(|_| stdout.flush())
                .context("writing the predictions to standard output")?;
        }
    }

    for prediction in &predictions {
        if let Err(reason) = &prediction.outcome {
            eprintln!("rejected {}: {reason}", prediction.path);
        }
    }
    if !args.quiet {
        print_summary(&summary);
        if let (Some(cache), None) = (&options.features.cache, &summary.cache_dir) {
            eprintln!(
                "  cache {}: holds no features of this backbone and recipe",
                cache.root.display()
            );
        }
    }
    Ok(if summary.rejected > 0 {
        ExitCode::from(EXIT_SOME_REJECTED)
    } else {
        ExitCode::SUCCESS
    })
}

fn print_summary(summary: &PredictSummary) {
    eprintln!(
        "predict: {} inputs, {} classified, {} rejected in {:.2} s; features: {} computed by the backbone, {} from the cache, {} duplicate inputs",
        summary.inputs,
        summary.classified,
        summary.rejected,
        summary.wall_seconds,
        summary.computed,
        summary.cached,
        summary.duplicates
    );
    let backbone = if summary.computed > 0 {
        format!(
            "backbone {:.2} s ({:.1} images/s, {} {}, batch {})",
            summary.backbone_seconds,
            summary.computed as f64 / summary.backbone_seconds.max(1e-9),
            summary.device,
            summary.precision,
            summary.batch_size
        )
    } else {
        "backbone not run".to_string()
    };
    eprintln!(
        "  {backbone}; read+decode+resize {:.2} CPU-s{}",
        summary.decode_seconds,
        summary
            .threshold
            .map(|t| format!("; threshold {t}"))
            .unwrap_or_default()
    );
    if let Some(dir) = &summary.cache_dir {
        eprintln!("  cache {}", dir.display());
    }
}
