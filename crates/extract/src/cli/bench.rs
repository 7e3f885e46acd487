use std::process::ExitCode;

use anyhow::Context;
use backbone::bench::{self, BenchConfig};
use backbone::efficientnet::Padding;
use backbone::recipe::RecipeOverrides;
use backbone::{
    prepare, BackboneChoice, BuildOptions, DeviceRequest, Extractor, MemoryLayout, Precision,
    RunSettings, WeightsSpec,
};

/// Synthetic batches through one backbone: the model's images per second.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// b0 .. b7, lite0 .. lite4, or ID=MODULE.pt (an exported backbone).
    #[arg(long, default_value = "b0", value_name = "VARIANT|ID=MODULE")]
    variant: String,
    /// Weights of a native variant: a safetensors file, a Hugging Face cache name, or
    /// `random[:SEED]` (seeded; same speed as real weights).
    #[arg(long, default_value = "random")]
    weights: String,
    /// For timm-named files without padding metadata: `same` (tf_ ports) or `symmetric`.
    #[arg(long)]
    padding: Option<Padding>,
    /// auto, cpu, cuda or cuda:N (an explicit cuda without a GPU is an error).
    #[arg(long, default_value = "auto", value_name = "auto|cpu|cuda|cuda:N")]
    device: DeviceRequest,
    /// fp32, bf16 or fp16.
    #[arg(long, default_value = "fp32", value_name = "fp32|bf16|fp16")]
    precision: Precision,
    /// Also run in this precision and print the max relative error of the first
    /// batch's pooled features against it (e.g. `--precision bf16 --compare-with fp32`).
    #[arg(long)]
    compare_with: Option<Precision>,
    /// Memory layout of activations: auto (faster for the device), contiguous, channels-last.
    #[arg(long, default_value = "auto")]
    memory_layout: LayoutArg,
    /// Deprecated spelling of --memory-layout (--layout names the dataset layout elsewhere).
    #[arg(long = "layout", hide = true)]
    old_layout: Option<LayoutArg>,
    /// Images per backbone forward pass.
    #[arg(long, default_value_t = 8)]
    batch_size: i64,
    /// Square input side in pixels (default: the backbone's own; an exported module
    /// takes only the size it was traced at).
    #[arg(long)]
    image_size: Option<i64>,
    #[arg(long, default_value_t = 2)]
    warmup_batches: usize,
    #[arg(long, default_value_t = 5)]
    batches: usize,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Worker threads for the CPU backbone (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum LayoutArg {
    Auto,
    Contiguous,
    ChannelsLast,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    super::settings::set_threads(args.threads)?;
    let device = args.device.resolve()?;
    let chosen = match args.old_layout {
        Some(old) => {
            super::deprecated("--layout", "--memory-layout");
            old
        }
        None => args.memory_layout,
    };
    let layout = match chosen {
        LayoutArg::Auto => None,
        LayoutArg::Contiguous => Some(MemoryLayout::Contiguous),
        LayoutArg::ChannelsLast => Some(MemoryLayout::ChannelsLast),
    };
    let choice = match BackboneChoice::parse_list(std::slice::from_ref(&args.variant))?.as_slice() {
        [one] => one.clone(),
        _ => anyhow::bail!("--variant {}: bench times one backbone", args.variant),
    };
    let spec = match &choice {
        BackboneChoice::Native(_) => Some(
            args.weights
                .parse::<WeightsSpec>()
                .map_err(anyhow::Error::msg)?,
        ),
        BackboneChoice::Module { .. } => None,
    };
    let overrides = RecipeOverrides {
        input_size: args.image_size.map(|s| s as u32),
        ..RecipeOverrides::default()
    };
    let load = |precision: Precision| -> anyhow::Result<Extractor> {
        let settings = RunSettings {
            device,
            precision,
            layout,
            padding: args.padding,
            ..RunSettings::cpu()
        };
        // The errors name the file itself.
        let prepared = prepare(&choice, spec.as_ref(), &settings, &overrides)?;
        Ok(prepared.build(&settings, &BuildOptions::default(), None)?)
    };
    let backbone = load(args.precision).with_context(|| format!("loading {}", choice.id()))?;
    let config = BenchConfig {
        batch_size: args.batch_size,
        image_size: i64::from(backbone::Backbone::recipe(&backbone).input_size),
        warmup_batches: args.warmup_batches,
        timed_batches: args.batches,
        seed: args.seed,
    };
    let net = backbone.net();
    println!(
        "variant {}  weights {}  device {}  precision {}  layout {:?}  batch {}  size {}",
        net.id(),
        net.weights().source,
        args.device,
        net.placement().precision,
        net.placement().layout,
        config.batch_size,
        config.image_size
    );
    let report = bench::run(net, &config)?;
    println!(
        "images/s {:.1}  ({} images in {:.2} s)",
        report.images_per_second(),
        report.images,
        report.elapsed.as_secs_f64()
    );
    if let Some(reference_precision) = args.compare_with {
        drop(backbone);
        let reference = load(reference_precision)?;
        let reference_features = reference
            .net()
            .features(&bench::synthetic_batch(&config)?)?;
        let error = bench::max_relative_error(&report.first_batch_features, &reference_features)?;
        println!(
            "{} vs {} max relative error {:.3e}",
            args.precision, reference_precision, error
        );
    }
    Ok(ExitCode::SUCCESS)
}
