use std::process::ExitCode;

/// No options: doctor reports on the libtorch this binary was linked against.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Exit non-zero unless CUDA is usable (for GPU job scripts).
    #[arg(long)]
    require_cuda: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let report = backbone::runtime::RuntimeReport::inspect();
    println!("{report}");
    if args.require_cuda && !report.cuda_available {
        anyhow::bail!(
            "CUDA is not available to libtorch{}",
            if report.libtorch_cuda_loaded {
                ""
            } else {
                " (libtorch_cuda.so is not loaded)"
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}
