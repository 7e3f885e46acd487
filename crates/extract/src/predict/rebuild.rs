//! The backbone a head was trained on, rebuilt from what its head file records
//! (or from `--weights`), and proven to be that backbone before any image is read.

use std::path::{Path, PathBuf};

use contract::tune_file::TuneFile;
use contract::HeadFile;

use backbone::recipe::RecipeOverrides;
use backbone::{
    prepare, prepare_native, Backbone, BackboneChoice, BuildOptions, Extractor, RunSettings,
    WeightsSpec, WeightsSpecError,
};

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

/// What the head's backbone is and where its weights are: `--weights` when
/// given, else the weights location the head records.
pub fn backbone_source(
    head: &HeadInput,
    given: Option<&str>,
) -> Result<(BackboneChoice, Option<WeightsSpec>), PredictError> {
    let file = &head.file;
    let location = match given {
        Some(given) => given.to_string(),
        None => file
            .weights_location
            .clone()
            .ok_or_else(|| PredictError::NoWeightsLocation {
                head: head.path.clone(),
                weights: file.weights.source.clone(),
                blake3: file.weights.blake3.clone(),
            })?,
    };
    let (choice, spec) =
        BackboneChoice::recorded(&file.variant, &location).map_err(|reason| match given {
            Some(given) => PredictError::BadWeightsSpec {
                spec: given.to_string(),
                reason,
            },
            None => PredictError::BadHead {
                head: head.path.clone(),
                reason: format!("weights.location {location:?}: {reason}"),
            },
        })?;
    let recorded_file = match (&choice, &spec) {
        (BackboneChoice::Module { path, .. }, _) => Some(path.clone()),
        (_, Some(WeightsSpec::File(path))) => Some(path.clone()),
        _ => None,
    };
    if let Some(path) = recorded_file.filter(|p| given.is_none() && !p.exists()) {
        return Err(PredictError::WeightsMissing {
            head: head.path.clone(),
            path,
            blake3: file.weights.blake3.clone(),
        });
    }
    Ok((choice, spec))
}

/// Loads the head's backbone with the head's preprocessing recipe (and its
/// tuned top, for a tune-train head), and checks that it makes the features
/// the head was trained on.
pub fn rebuild(
    head: &HeadInput,
    source: &(BackboneChoice, Option<WeightsSpec>),
    settings: &RunSettings,
    batch_size: Option<usize>,
) -> Result<Extractor, PredictError> {
    let file = &head.file;
    let (choice, spec) = source;
    let shown = spec
        .as_ref()
        .map(WeightsSpec::to_string)
        .unwrap_or_else(|| match choice {
            BackboneChoice::Module { path, .. } => path.display().to_string(),
            BackboneChoice::Native(variant) => variant.to_string(),
        });
    let weights_error = |source: WeightsSpecError| PredictError::Weights {
        head: head.path.clone(),
        weights: shown.clone(),
        source: Box::new(source),
    };
    // The head's recipe replaces the weights' own (extract may have been given
    // overrides); the input size only keeps native weights without a recipe
    // loadable (an exported module carries its recipe and one input size).
    let prepared = match (choice, spec) {
        // A file names its own variant (so a wrong one is reported as a
        // difference below); random weights need to be told.
        (BackboneChoice::Native(variant), Some(spec)) => {
            let requested = matches!(spec, WeightsSpec::Random { .. }).then_some(*variant);
            let overrides = RecipeOverrides {
                input_size: Some(file.preprocessing.input_size),
                ..RecipeOverrides::default()
            };
            prepare_native(requested, spec, settings, &overrides)
        }
        _ => prepare(choice, spec.as_ref(), settings, &RecipeOverrides::default()),
    }
    .map_err(weights_error)?;
    let tune = match &file.tune {
        Some(link) => Some(read_tune(head, link)?),
        None => None,
    };
    let mut prepared = prepared;
    prepared.recipe = file.preprocessing.clone();
    let extractor = prepared
        .build(
            settings,
            &BuildOptions {
                batch_size,
                tune_top: None,
            },
            tune.as_ref().map(|(t, blake3)| (t, blake3.as_str())),
        )
        .map_err(|e| match &tune {
            Some(_) => PredictError::BadHead {
                head: head.path.clone(),
                reason: format!("its tuned blocks: {e}"),
            },
            None => weights_error(e.into()),
        })?;
    check(head, &shown, &extractor)?;
    Ok(extractor)
}

/// A head trained by `tune-train` sits on tuned top blocks: its tune file beside
/// it, proven to be the one the head names.
fn read_tune(
    head: &HeadInput,
    link: &contract::head_file::TuneLink,
) -> Result<(TuneFile, String), PredictError> {
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
    Ok((tune, found))
}

/// Everything that makes features differ (see [`contract::FeatureIdentity`]).
pub fn check(head: &HeadInput, weights: &str, backbone: &dyn Backbone) -> Result<(), PredictError> {
    let file = &head.file;
    let differences = file
        .identity()
        .differences(&backbone.identity(), "head", "weights");
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
