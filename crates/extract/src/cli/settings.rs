use std::path::PathBuf;

use extract::model::{DeviceRequest, Padding, Precision};
use extract::preprocess::DecodeLimits;
use extract::weights_spec::RunSettings;

/// How backbones run and what images they accept: the flags `extract` and
/// `extract predict` share.
#[derive(clap::Args, Debug)]
pub struct BackboneArgs {
    /// auto (first GPU if libtorch sees one), cpu, cuda or cuda:N. An explicit cuda without a GPU is an error.
    #[arg(long, default_value = "auto")]
    pub device: String,
    /// fp32, bf16 or fp16 (reduced precision is for GPUs; its features, and so a
    /// head's probabilities, differ slightly from fp32 ones).
    #[arg(long, default_value = "fp32")]
    pub precision: String,
    /// Images per forward pass (default: chosen for the device and input size).
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Padding rule for timm-named weights that do not record it: same (tf_* ports) or symmetric.
    #[arg(long)]
    pub padding: Option<String>,
    /// Reject images with more pixels than this (decompression bombs).
    #[arg(long, default_value_t = DecodeLimits::default().max_pixels)]
    pub max_pixels: u64,
    /// Hugging Face cache (default: $HF_HUB_CACHE, $HF_HOME/hub, ~/.cache/huggingface/hub).
    #[arg(long)]
    pub hf_cache: Option<PathBuf>,
}

impl BackboneArgs {
    pub fn settings(&self) -> anyhow::Result<RunSettings> {
        run_settings(
            &self.device,
            &self.precision,
            self.padding.as_deref(),
            self.hf_cache.as_ref(),
        )
    }

    pub fn limits(&self) -> DecodeLimits {
        DecodeLimits {
            max_pixels: self.max_pixels,
        }
    }
}

/// The `--device`, `--precision`, `--padding` and `--hf-cache` flags of `extract`,
/// `predict` and `export`, parsed into the library's settings.
pub fn run_settings(
    device: &str,
    precision: &str,
    padding: Option<&str>,
    hf_cache: Option<&PathBuf>,
) -> anyhow::Result<RunSettings> {
    Ok(RunSettings {
        device: device.parse::<DeviceRequest>()?.resolve()?,
        precision: precision.parse::<Precision>()?,
        layout: None,
        padding: padding
            .map(str::parse::<Padding>)
            .transpose()
            .map_err(anyhow::Error::msg)?,
        hub_cache: hf_cache
            .cloned()
            .unwrap_or_else(extract::hub_cache::default_cache_dir),
    })
}
