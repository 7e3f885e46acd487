use std::path::PathBuf;
use std::process::ExitCode;

/// `extract scan DATASET`: what the dataset holds, before any work.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The dataset: a folder (ROOT/CLASS/* split by content hash, or ROOT/{train,val,test}/CLASS/*),
    /// a folder of WebDataset .tar shards, one shard, a folder of Hugging Face Parquet files, one
    /// such file, or a pattern (shards/train-{00000..00099}.tar, data/test-*.parquet); any of
    /// these but Parquet under s3://BUCKET/PREFIX too, read in place (AWS_* variables; see README).
    #[arg(long, required_unless_present = "old_dataset")]
    data: Option<PathBuf>,
    /// Deprecated: the dataset as a positional argument (use --data).
    #[arg(hide = true, conflicts_with = "data")]
    old_dataset: Option<PathBuf>,
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
    let data = match (args.data, args.old_dataset) {
        (Some(data), _) => data,
        (None, Some(old)) => {
            super::deprecated("extract scan DATASET", "extract scan --data DATASET");
            old
        }
        (None, None) => anyhow::bail!("--data DATASET is required"),
    };
    let report = args.dataset_args.scan(&data, args.full_decode)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report.to_json())?);
    } else {
        print!("{}", report.render());
    }
    Ok(ExitCode::SUCCESS)
}
