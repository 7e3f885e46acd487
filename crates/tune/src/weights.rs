//! The backbone weights the activations came from: read once, proven to be
//! those weights, and used only for the trainable top (the frozen prefix is
//! never built: its output is the cached activation).

use std::path::Path;

use backbone::efficientnet::EfficientNetWeights;
use backbone::recipe::RecipeOverrides;
use backbone::{prepare_native, BackboneChoice, RunSettings, Weights};
use contract::FeatureMeta;

use crate::{Result, TuneError};

/// `given` (`--weights`) or the location `meta` records, checked against the
/// features' identity. `hub_cache` resolves Hugging Face names.
pub fn load(
    meta: &FeatureMeta,
    given: Option<&str>,
    hub_cache: &Path,
) -> Result<EfficientNetWeights> {
    let location = match (given, meta.weights_location()) {
        (Some(given), _) => given.to_string(),
        (None, Some(recorded)) => recorded.to_string(),
        (None, None) => {
            return Err(TuneError::Weights {
                spec: "(none recorded)".into(),
                reason: format!(
                    "the features do not record where their weights are; pass them with --weights (blake3 {})",
                    meta.weights.blake3
                ),
            })
        }
    };
    let failed = |reason: String| TuneError::Weights {
        spec: location.clone(),
        reason,
    };
    let (choice, spec) = BackboneChoice::recorded(&meta.variant, &location).map_err(failed)?;
    let (BackboneChoice::Native(variant), Some(spec)) = (choice, spec) else {
        return Err(failed(format!(
            "{} is an exported module; tune-train fine-tunes the native EfficientNet (b0..b7, \
             lite0..lite4) only: its cut points are native",
            meta.variant
        )));
    };
    let settings = RunSettings {
        hub_cache: hub_cache.to_path_buf(),
        ..RunSettings::cpu()
    };
    let overrides = RecipeOverrides {
        input_size: Some(meta.preprocessing.input_size),
        ..RecipeOverrides::default()
    };
    let prepared = prepare_native(Some(variant), &spec, &settings, &overrides)
        .map_err(|e| failed(e.to_string()))?;
    let Weights::EfficientNet(weights) = prepared.weights else {
        return Err(failed("not EfficientNet weights".into()));
    };
    if weights.identity.blake3 != meta.weights.blake3 {
        return Err(failed(format!(
            "blake3 {}: not the weights the activations came from ({}, blake3 {})",
            weights.identity.blake3, meta.weights.source, meta.weights.blake3
        )));
    }
    Ok(weights)
}
