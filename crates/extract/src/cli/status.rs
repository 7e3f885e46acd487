use std::path::PathBuf;
use std::process::ExitCode;

use extract::pipeline::status::{Status, Verdict};

/// `extract status --out DIR`: the state of a sharded extract's shards.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The folder `extract --shard` wrote to (its --out).
    #[arg(long, value_parser = existing_folder)]
    out: PathBuf,
}

/// A folder that exists: anything else is a bad command line (exit 2).
fn existing_folder(text: &str) -> Result<PathBuf, String> {
    let path = PathBuf::from(text);
    if path.is_dir() {
        Ok(path)
    } else {
        Err(format!("{text} is not a folder"))
    }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let status = Status::scan(&args.out)?;
    print!("{}", status.render());
    Ok(ExitCode::from(match status.verdict() {
        Verdict::Complete => 0,
        Verdict::Inconsistent => 1,
        Verdict::Missing => 3,
        Verdict::Running => 4,
    }))
}
