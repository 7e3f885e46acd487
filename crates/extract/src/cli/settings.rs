use std::path::PathBuf;

use extract::model::{DeviceRequest, Padding, Precision};
use extract::weights_spec::RunSettings;

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
