//! `report`: the comparison table, plots and HTML from head-train and tune-train runs; see `report --help`.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Parser;

/// Compare head-train and tune-train runs (Adam, L-BFGS and top-N fine-tune heads):
/// writes report.md, report.csv, report.json, report.html and plots/*.svg|png into --out.
///
/// Each run is one of three head kinds: Adam or L-BFGS (head-train's --optimizer), or
/// top-N fine-tune (a tune-train run, N the blocks it trained). Rows are grouped by kind;
/// differences, time ratios, paired tests and the recommendation compare runs of one kind.
///
/// Per run, the test split class by class: a per-class table (support, predicted,
/// precision, recall, F1) and the confusion matrix (a plot up to 30 classes, else the
/// most confused pairs). More than two classes add balanced accuracy and macro-F1, more
/// than five top-5 accuracy; ROC-AUC is then the macro one-vs-rest mean.
#[derive(Parser, Debug)]
#[command(name = "report", version)]
struct Cli {
    /// A folder holding one head-train or tune-train output folder per run (or a single run folder).
    runs: PathBuf,
    /// The extract output folder: its feature files' metadata and run.json add
    /// extraction times, weights sizes and recorded parameter counts.
    #[arg(long)]
    features: Option<PathBuf>,
    /// Output folder (created if needed).
    #[arg(long)]
    out: PathBuf,
    /// Print nothing on success.
    #[arg(long, short)]
    quiet: bool,
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let inputs = report::ReportInputs {
        runs: cli.runs.clone(),
        features: cli.features.clone(),
    };
    let written = report::render(&inputs, &cli.out)
        .with_context(|| format!("report on {}", cli.runs.display()))?;
    if cli.quiet {
        return Ok(());
    }
    print!(
        "{}",
        std::fs::read_to_string(&written.markdown)
            .unwrap_or_default()
            .lines()
            .take_while(|l| !l.starts_with("## Plots"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    println!();
    println!("report: {}", written.html.display());
    Ok(())
}
