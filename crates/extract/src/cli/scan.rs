use std::path::PathBuf;
use std::process::ExitCode;

/// `extract scan DATASET`: what the dataset holds, before any work.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The dataset: a folder (ROOT/CLASS/* split by content hash, or ROOT/{train,val,test}/CLASS/*),
    /// a folder of WebDataset .tar shards, one shard, or a pattern (shards/train-{00000..00099}.tar).
    dataset: PathBuf,
    /// Decode every image fully instead of checking headers only (slower, catches truncated files).
    #[arg(long)]
    full_decode: bool,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    dataset_args: super::dataset::DatasetArgs,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let report = args.dataset_args.scan(&args.dataset, args.full_decode)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report.to_json())?);
    } else {
        print!("{}", report.render());
    }
    Ok(ExitCode::SUCCESS)
}
