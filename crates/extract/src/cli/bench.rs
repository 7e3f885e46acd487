use std::path::PathBuf;
use std::process::ExitCode;

use extract::model::bench::{self, BenchConfig};
use extract::model::{
    Backbone, DeviceRequest, LoadOptions, MemoryLayout, Padding, Precision, Variant,
};

/// Synthetic batches through one backbone: the model's images per second.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// b0 .. b7, lite0 .. lite4
    #[arg(long, default_value = "b0")]
    variant: Variant,
    /// A safetensors weights file, or `random` (seeded; same speed as real weights).
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
    /// Square input side in pixels (default: the variant's own resolution).
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
    let load = |precision: Precision| -> anyhow::Result<Backbone> {
        if args.weights == "random" {
            Ok(Backbone::random(
                args.variant,
                args.seed,
                device,
                precision,
                layout,
            )?)
        } else {
            let options = LoadOptions {
                variant: Some(args.variant),
                padding: args.padding,
                device,
                precision,
                layout,
                source: None,
            };
            // The error names the file itself.
            Ok(Backbone::from_safetensors(
                &PathBuf::from(&args.weights),
                &options,
            )?)
        }
    };
    let config = BenchConfig {
        batch_size: args.batch_size,
        image_size: args
            .image_size
            .unwrap_or_else(|| args.variant.scaling().resolution),
        warmup_batches: args.warmup_batches,
        timed_batches: args.batches,
        seed: args.seed,
    };
    let backbone = load(args.precision)?;
    println!(
        "variant {}  weights {}  device {}  precision {}  layout {:?}  batch {}  size {}",
        backbone.variant,
        backbone.weights.source,
        args.device,
        backbone.precision,
        backbone.layout,
        config.batch_size,
        config.image_size
    );
    let report = bench::run(&backbone, &config)?;
    println!(
        "images/s {:.1}  ({} images in {:.2} s)",
        report.images_per_second(),
        report.images,
        report.elapsed.as_secs_f64()
    );
    if let Some(reference_precision) = args.compare_with {
        drop(backbone);
        let reference = load(reference_precision)?;
        let reference_features = reference.features(&bench::synthetic_batch(&config)?)?;
        let error = bench::max_relative_error(&report.first_batch_features, &reference_features)?;
        println!(
            "{} vs {} max relative error {:.3e}",
            args.precision, reference_precision, error
        );
    }
    Ok(ExitCode::SUCCESS)
}
