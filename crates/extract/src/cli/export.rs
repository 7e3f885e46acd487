use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use backbone::efficientnet::Padding;
use backbone::{DeviceRequest, Precision};
use extract::predict::{self, export};

/// `extract export`: see its entry in `Command` for the description.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// A head-train output folder (holding head.safetensors) or a head file.
    #[arg(long, value_name = "RUN|FILE")]
    head: PathBuf,
    /// The module file to write (MODULE.json is written beside it).
    #[arg(long, value_name = "MODULE")]
    out: PathBuf,
    /// Backbone weights (default: where the head records them), or the exported module
    /// for a head on one; checked like predict's.
    #[arg(long, value_name = "SPEC")]
    weights: Option<String>,
    /// The device the module's tensors live on: cpu, cuda or cuda:N (inputs may be
    /// on any device; probabilities come back on the CPU).
    #[arg(long, default_value = "cpu", value_name = "cpu|cuda|cuda:N")]
    device: DeviceRequest,
    /// Padding rule for timm-named weights that do not record it: same or symmetric.
    #[arg(long, value_name = "same|symmetric")]
    padding: Option<Padding>,
    /// Hugging Face cache for --weights NAME.
    #[arg(long)]
    hf_cache: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let settings = super::settings::run_settings(
        args.device,
        Precision::Fp32,
        args.padding,
        args.hf_cache.as_ref(),
    )?;
    let head = predict::read_head(&args.head)?;
    let source = predict::backbone_source(&head, args.weights.as_deref())?;
    let backbone = predict::rebuild(&head, &source, &settings, None)?;
    let sidecar = export::export(&head, &backbone, &args.out)
        .with_context(|| format!("exporting {}", head.path.display()))?;
    eprintln!(
        "export: {} ({} {}, {} classes) -> {} and {}; input uint8 [N, {h}, {w}, 3] RGB after resize/crop, output [N, {}] probabilities",
        head.path.display(),
        sidecar.variant,
        sidecar.weights.source,
        sidecar.classes.len(),
        args.out.display(),
        export::sidecar_path(&args.out).display(),
        sidecar.classes.len(),
        h = sidecar.preprocessing.input_height(),
        w = sidecar.preprocessing.input_width(),
    );
    Ok(ExitCode::SUCCESS)
}
