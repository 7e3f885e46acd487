//! The backbone a head was trained on, rebuilt from what its head file records
//! (or from `--weights`), and proven to be that backbone before any image is read.

use std::path::{Path, PathBuf};

use contract::tune_file::TuneFile;
use contract::HeadFile;

use crate::extractor::TchExtractor;
use crate::model::Variant;
use crate::pipeline::Backbone;
use crate::weights_spec::{load, RecipeOverrides, RunSettings, WeightsSpec};

use super::PredictError;

/// A head file and where it was read from.
#[derive(Clone, Debug)]
pub struct HeadInput {
    pub path: PathBuf,
    pub file: HeadFile,
}

/// `--head`: a head-train output folder or the head file itself.
pub fn read_head(path: &Path) -> Result<HeadInput, PredictError> {
    let path = HeadFile::resolve_path(path);
    let file = HeadFile::read(&path)?;
    Ok(HeadInput { path, file })
}

/// `--weights` when given, else the weights location the head records.
pub fn weights_spec(head: &HeadInput, given: Option<&str>) -> Result<WeightsSpec, PredictError> {
    if let Some(given) = given {
        return given
            .parse::<WeightsSpec>()
            .map_err(|reason| PredictError::BadWeightsSpec {
                spec: given.to_string(),
                reason,
            });
    }
    let file = &head.file;
    let Some(location) = &file.weights_location else {
        return Err(PredictError::NoWeightsLocation {
            head: head.path.clone(),
            weights: file.weights.source.clone(),
            blake3: file.weights.blake3.clone(),
        });
    };
    let spec = location
        .parse::<WeightsSpec>()
        .map_err(|reason| PredictError::BadHead {
            head: head.path.clone(),
            reason: format!("weights.location {location:?}: {reason}"),
        })?;
    if let WeightsSpec::File(path) = &spec {
        if !path.exists() {
            return Err(PredictError::WeightsMissing {
                head: head.path.clone(),
                path: path.clone(),
                blake3: file.weights.blake3.clone(),
            });
        }
    }
    Ok(spec)
}

/// Loads `spec` as the head's variant with the head's preprocessing recipe, and
/// checks that it makes the features the head was trained on.
pub fn rebuild(
    head: &HeadInput,
    spec: &WeightsSpec,
    settings: &RunSettings,
    batch_size: Option<usize>,
) -> Result<TchExtractor, PredictError> {
    let file = &head.file;
    let variant: Variant =
        file.variant
            .parse()
            .map_err(
                |e: crate::model::arch::UnknownVariant| PredictError::BadHead {
                    head: head.path.clone(),
                    reason: e.to_string(),
                },
            )?;
    // A file names its own variant (so a wrong one is reported as a difference
    // below); random weights need to be told.
    let requested = matches!(spec, WeightsSpec::Random { .. }).then_some(variant);
    // The head's recipe replaces the weights' own (extract may have been given
    // overrides); the input size only keeps weights without a recipe loadable.
    let overrides = RecipeOverrides {
        input_size: Some(file.preprocessing.input_size),
        ..RecipeOverrides::default()
    };
    let loaded =
        load(requested, spec, settings, &overrides).map_err(|source| PredictError::Weights {
            head: head.path.clone(),
            weights: spec.to_string(),
            source: Box::new(source),
        })?;
    let mut extractor = TchExtractor::new(loaded.model, file.preprocessing.clone(), batch_size)
        .with_weights_location(&loaded.location);
    if let Some(link) = &file.tune {
        apply_tune(head, link, &mut extractor)?;
    }
    check(head, &spec.to_string(), &extractor)?;
    Ok(extractor)
}

/// A head trained by `tune-train` sits on tuned top blocks: swap them in from
/// the tune file beside it, proven to be the one the head names.
fn apply_tune(
    head: &HeadInput,
    link: &contract::head_file::TuneLink,
    extractor: &mut TchExtractor,
) -> Result<(), PredictError> {
    let bad = |reason: String| PredictError::BadHead {
        head: head.path.clone(),
        reason,
    };
    let path = head
        .path
        .parent()
        .map(|dir| dir.join(&link.file))
        .unwrap_or_else(|| PathBuf::from(&link.file));
    let bytes = std::fs::read(&path).map_err(|e| {
        bad(format!(
            "its tuned blocks {} cannot be read ({e}); a tune run's head needs the tune file beside it",
            path.display()
        ))
    })?;
    let found = blake3::hash(&bytes).to_hex().to_string();
    if found != link.blake3 {
        return Err(bad(format!(
            "{} has blake3 {found}, the head was trained with {}: the tune file was replaced",
            path.display(),
            link.blake3
        )));
    }
    let tune = TuneFile::from_bytes(&path, &bytes).map_err(|e| bad(e.to_string()))?;
    if tune.cut != link.cut {
        return Err(bad(format!(
            "{} cuts at block {}, the head at {}",
            path.display(),
            tune.cut.first_block,
            link.cut.first_block
        )));
    }
    extractor
        .model_mut()
        .apply_tune(&tune, &found)
        .map_err(|e| bad(format!("{}: {e}", path.display())))
}

/// Everything that makes features differ: variant, width, layer, weights, recipe.
pub fn check(head: &HeadInput, weights: &str, backbone: &dyn Backbone) -> Result<(), PredictError> {
    let file = &head.file;
    let mut differences = Vec::new();
    if backbone.variant() != file.variant {
        differences.push(format!(
            "variant: head {}, weights {}",
            file.variant,
            backbone.variant()
        ));
    }
    if backbone.feature_dim() != file.feature_dim {
        differences.push(format!(
            "feature width: head {}, weights {}",
            file.feature_dim,
            backbone.feature_dim()
        ));
    }
    if backbone.feature_layer() != file.feature_layer {
        differences.push(format!(
            "feature layer: head {:?}, weights {:?}",
            file.feature_layer,
            backbone.feature_layer()
        ));
    }
    if backbone.weights().blake3 != file.weights.blake3 {
        differences.push(format!(
            "weights blake3: head {} ({}), weights {} ({})",
            file.weights.blake3,
            file.weights.source,
            backbone.weights().blake3,
            backbone.weights().source
        ));
    }
    if backbone.recipe() != &file.preprocessing {
        differences.push(format!(
            "preprocessing: head {}, weights {}",
            serde_json::to_string(&file.preprocessing).unwrap_or_default(),
            serde_json::to_string(backbone.recipe()).unwrap_or_default()
        ));
    }
    if differences.is_empty() {
        return Ok(());
    }
    Err(PredictError::Mismatch {
        head: head.path.clone(),
        weights: weights.to_string(),
        differences: differences.join("; "),
        trained_on: file.weights.source.clone(),
    })
}
