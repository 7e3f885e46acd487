use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use extract::scan::{scan, ScanOptions, ScanReport};
use extract::splits_file;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Dataset root: ROOT/CLASS/* (split by content hash) or ROOT/{train,val,test}/CLASS/*.
    dataset: PathBuf,
    /// Decode every image fully instead of checking headers only (slower, catches truncated files).
    #[arg(long)]
    full_decode: bool,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Flat datasets: keep the assignments in this CSV (key,split) and add new images to it,
    /// so a growing dataset never moves an existing image. Created if absent.
    #[arg(long, value_name = "CSV")]
    splits: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut options = ScanOptions {
        full_decode: args.full_decode,
        ..Default::default()
    };
    if let Some(path) = args.splits.as_ref().filter(|p| p.exists()) {
        options.previous_splits = splits_file::read(path)?;
    }
    let report = scan(&args.dataset, &options)?;
    if let Some(path) = &args.splits {
        splits_file::write(path, &report)
            .with_context(|| format!("writing the split assignments to {}", path.display()))?;
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&extract::scan_json::to_json(&report))?
        );
    } else {
        print!("{}", render_table(&report));
    }
    Ok(ExitCode::SUCCESS)
}

fn render_table(report: &ScanReport) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let layout = match report.layout {
        extract::scan::Layout::GivenSplits => "splits as given by the folders",
        extract::scan::Layout::Flat => {
            "flat class folders, split by content hash (8:1:1, val/test balanced)"
        }
    };
    let _ = writeln!(out, "dataset  {}", report.root.display());
    let _ = writeln!(out, "layout   {layout}");
    let classes: Vec<String> = report
        .classes
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{c} = {i}"))
        .collect();
    let _ = writeln!(out, "labels   {}\n", classes.join(", "));

    let width = report
        .classes
        .iter()
        .map(|c| c.len())
        .max()
        .unwrap_or(0)
        .max(5)
        + 2;
    let _ = write!(out, "{:<8}", "split");
    for class in &report.classes {
        let _ = write!(out, "{class:>width$}");
    }
    let _ = writeln!(out, "{:>width$}", "total");
    let mut totals = vec![0usize; report.classes.len()];
    for (split, counts) in report.counts() {
        let _ = write!(out, "{:<8}", split.as_str());
        for (i, count) in counts.iter().enumerate() {
            totals[i] += count;
            let _ = write!(out, "{count:>width$}");
        }
        let _ = writeln!(out, "{:>width$}", counts.iter().sum::<usize>());
    }
    let _ = write!(out, "{:<8}", "total");
    for total in &totals {
        let _ = write!(out, "{total:>width$}");
    }
    let _ = writeln!(out, "{:>width$}\n", totals.iter().sum::<usize>());

    let formats = report
        .images
        .iter()
        .fold(std::collections::BTreeMap::new(), |mut acc, image| {
            *acc.entry(image.format.as_str()).or_insert(0usize) += 1;
            acc
        });
    let formats: Vec<String> = formats.iter().map(|(f, n)| format!("{f} {n}")).collect();
    let _ = writeln!(out, "formats  {}", formats.join(", "));
    if report.duplicates.is_empty() {
        let _ = writeln!(out, "duplicates  none");
    } else {
        let _ = writeln!(
            out,
            "duplicates  {} (counted once):",
            report.duplicates.len()
        );
        for (duplicate, kept) in &report.duplicates {
            let _ = writeln!(out, "  {duplicate}  same bytes as  {kept}");
        }
    }
    if report.problems.is_empty() {
        let _ = writeln!(out, "problems    none");
    } else {
        let _ = writeln!(
            out,
            "problems    {} file(s) left out:",
            report.problems.len()
        );
        for problem in &report.problems {
            let _ = writeln!(out, "  {}: {}", problem.path, problem.reason);
        }
    }
    out
}
