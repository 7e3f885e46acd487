use std::path::PathBuf;

use backbone::efficientnet::Padding;
use backbone::{DeviceRequest, Precision, RunSettings};
use extract::preprocess::DecodeLimits;

/// How backbones run and what images they accept: the flags `extract` and
/// `extract predict` share.
#[derive(clap::Args, Debug)]
pub struct BackboneArgs {
    /// auto (first GPU if libtorch sees one), cpu, cuda or cuda:N. An explicit cuda without a GPU is an error.
    #[arg(long, default_value = "auto", value_name = "auto|cpu|cuda|cuda:N")]
    pub device: DeviceRequest,
    /// fp32, bf16 or fp16 (fp32 is IEEE fp32 on GPUs too; reduced precision is for GPUs:
    /// its features, and so a head's probabilities, differ slightly from fp32 ones).
    #[arg(long, default_value = "fp32", value_name = "fp32|bf16|fp16")]
    pub precision: Precision,
    /// Images per backbone forward pass (default: chosen for the device and input size).
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Padding rule for timm-named weights that do not record it: same (tf_* ports) or symmetric.
    #[arg(long, value_name = "same|symmetric")]
    pub padding: Option<Padding>,
    /// Reject images with more pixels than this (decompression bombs).
    #[arg(long, default_value_t = DecodeLimits::default().max_pixels)]
    pub max_pixels: u64,
    /// Hugging Face cache (default: $HF_HUB_CACHE, $HF_HOME/hub, ~/.cache/huggingface/hub).
    #[arg(long)]
    pub hf_cache: Option<PathBuf>,
    /// Worker threads for decoding and the CPU backbone (default: all cores). When the two
    /// together outnumber the cores, decoding and each CPU forward pass take turns.
    #[arg(long)]
    pub threads: Option<usize>,
}

impl BackboneArgs {
    pub fn settings(&self) -> anyhow::Result<RunSettings> {
        set_threads(self.threads)?;
        run_settings(
            self.device,
            self.precision,
            self.padding,
            self.hf_cache.as_ref(),
        )
    }

    pub fn limits(&self) -> DecodeLimits {
        DecodeLimits {
            max_pixels: self.max_pixels,
        }
    }
}

/// `--threads`: the decoding pool and libtorch's intra-op threads.
pub fn set_threads(threads: Option<usize>) -> anyhow::Result<()> {
    if let Some(threads) = threads {
        anyhow::ensure!(threads > 0, "--threads must be at least 1");
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build_global()
            .map_err(|e| anyhow::anyhow!("starting {threads} threads: {e}"))?;
        tch::set_num_threads(threads as i32);
    }
    Ok(())
}

/// The `--device`, `--precision`, `--padding` and `--hf-cache` flags of `extract`,
/// `predict` and `export`, as the library's settings.
pub fn run_settings(
    device: DeviceRequest,
    precision: Precision,
    padding: Option<Padding>,
    hf_cache: Option<&PathBuf>,
) -> anyhow::Result<RunSettings> {
    Ok(RunSettings {
        device: device.resolve()?,
        precision,
        layout: None,
        padding,
        hub_cache: hf_cache
            .cloned()
            .unwrap_or_else(backbone::hub_cache::default_cache_dir),
    })
}
