//! `--weights`: what a user names (a safetensors file, a Hugging Face cache name,
//! or seeded random weights) and the preprocessing recipe that comes with it.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use contract::{Interpolation, Preprocessing, ResizeMode};
use tch::Device;

use crate::hub_cache::{self, HubError};
use crate::model::{self, LoadOptions, MemoryLayout, ModelError, Padding, Precision, Variant};
use crate::preprocess::timm_recipe;

#[derive(Debug, thiserror::Error)]
pub enum WeightsSpecError {
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Hub(#[from] HubError),
    #[error("{path}: {reason}")]
    Header { path: PathBuf, reason: String },
    #[error("{path}: metadata effprobe.recipe is not a preprocessing recipe: {reason}")]
    BadRecipe { path: PathBuf, reason: String },
    #[error(
        "{weights}: the weights carry no preprocessing recipe; give one with --input-size (and \
         --resize-size/--crop-fraction, --interpolation, --mean, --std), or convert them with \
         tools/convert_weights.py --recipe"
    )]
    NoRecipe { weights: String },
    #[error("random weights need --variant")]
    RandomNeedsVariant,
    #[error("invalid recipe: {0}")]
    InvalidRecipe(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WeightsSpec {
    File(PathBuf),
    /// `owner/model` in the local Hugging Face cache.
    Hub(String),
    /// Seeded random weights: for benchmarks and pipeline checks, never for results.
    Random {
        seed: u64,
    },
}

impl FromStr for WeightsSpec {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text == "random" {
            return Ok(WeightsSpec::Random { seed: 0 });
        }
        if let Some(seed) = text.strip_prefix("random:") {
            return seed
                .parse()
                .map(|seed| WeightsSpec::Random { seed })
                .map_err(|e| format!("{text:?}: {e}"));
        }
        if hub_cache::looks_like_hub_name(text) {
            return Ok(WeightsSpec::Hub(text.to_string()));
        }
        Ok(WeightsSpec::File(PathBuf::from(text)))
    }
}

/// The `--weights` text that parses back to the same spec.
impl std::fmt::Display for WeightsSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WeightsSpec::File(path) => write!(f, "{}", path.display()),
            WeightsSpec::Hub(name) => f.write_str(name),
            WeightsSpec::Random { seed } => write!(f, "random:{seed}"),
        }
    }
}

/// Flags that replace parts of the weights' own recipe.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RecipeOverrides {
    pub input_size: Option<u32>,
    pub resize_size: Option<u32>,
    pub crop_fraction: Option<f64>,
    pub resize_mode: Option<ResizeMode>,
    pub interpolation: Option<Interpolation>,
    pub mean: Option<[f32; 3]>,
    pub std: Option<[f32; 3]>,
}

impl RecipeOverrides {
    pub fn is_empty(&self) -> bool {
        *self == RecipeOverrides::default()
    }

    pub fn apply(
        &self,
        base: Option<Preprocessing>,
        weights: &str,
    ) -> Result<Preprocessing, WeightsSpecError> {
        let mut recipe = match (base, self.input_size) {
            (Some(base), _) => base,
            (None, Some(size)) => timm_recipe(
                size,
                0.875,
                Interpolation::Bicubic,
                IMAGENET_MEAN,
                IMAGENET_STD,
            )
            .map_err(|e| WeightsSpecError::InvalidRecipe(e.to_string()))?,
            (None, None) => {
                return Err(WeightsSpecError::NoRecipe {
                    weights: weights.to_string(),
                })
            }
        };
        if let Some(size) = self.input_size {
            recipe.input_size = size;
        }
        if let Some(fraction) = self.crop_fraction {
            if !(fraction > 0.0 && fraction <= 1.0) {
                return Err(WeightsSpecError::InvalidRecipe(format!(
                    "crop fraction {fraction} is outside (0, 1]"
                )));
            }
            recipe.crop_fraction = fraction;
        }
        recipe.resize_size = match self.resize_size {
            Some(size) => size,
            None => (f64::from(recipe.input_size) / recipe.crop_fraction).floor() as u32,
        };
        recipe.crop_fraction = f64::from(recipe.input_size) / f64::from(recipe.resize_size);
        if let Some(mode) = self.resize_mode {
            recipe.resize_mode = mode;
        }
        if recipe.resize_mode == ResizeMode::Stretch {
            recipe.resize_size = recipe.input_size;
            recipe.crop_fraction = 1.0;
        }
        if let Some(interpolation) = self.interpolation {
            recipe.interpolation = interpolation;
        }
        if let Some(mean) = self.mean {
            recipe.mean = mean;
        }
        if let Some(std) = self.std {
            if std.iter().any(|s| *s <= 0.0) {
                return Err(WeightsSpecError::InvalidRecipe(format!(
                    "std {std:?} must be positive"
                )));
            }
            recipe.std = std;
        }
        if recipe.resize_size < recipe.input_size {
            return Err(WeightsSpecError::InvalidRecipe(format!(
                "resize size {} is smaller than the input size {}",
                recipe.resize_size, recipe.input_size
            )));
        }
        Ok(recipe)
    }
}

pub const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
pub const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];

/// The `__metadata__` of a safetensors file, reading only its header.
pub fn safetensors_metadata(path: &Path) -> Result<HashMap<String, String>, WeightsSpecError> {
    let header_error = |reason: String| WeightsSpecError::Header {
        path: path.to_path_buf(),
        reason,
    };
    let mut file = std::fs::File::open(path).map_err(|e| header_error(e.to_string()))?;
    let mut length = [0u8; 8];
    file.read_exact(&mut length)
        .map_err(|e| header_error(format!("not a safetensors file: {e}")))?;
    let length = u64::from_le_bytes(length);
    if length > 100 * 1024 * 1024 {
        return Err(header_error(
            "not a safetensors file (implausible header length)".into(),
        ));
    }
    let mut header = vec![0u8; length as usize];
    file.read_exact(&mut header)
        .map_err(|e| header_error(format!("truncated safetensors header: {e}")))?;
    let header: serde_json::Value = serde_json::from_slice(&header)
        .map_err(|e| header_error(format!("safetensors header is not JSON: {e}")))?;
    Ok(header
        .get("__metadata__")
        .and_then(|m| m.as_object())
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default())
}

/// How to run a backbone, whatever the weights.
#[derive(Clone, Debug)]
pub struct RunSettings {
    pub device: Device,
    pub precision: Precision,
    pub layout: Option<MemoryLayout>,
    pub padding: Option<Padding>,
    pub hub_cache: PathBuf,
}

/// Where loaded weights can be found again: the spec that loads them (a file by
/// its absolute path, a Hugging Face name as the name, so that its config.json
/// still supplies padding and recipe) and the file they were read from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WeightsLocation {
    pub spec: WeightsSpec,
    /// `None` for random weights.
    pub file: Option<PathBuf>,
}

impl WeightsLocation {
    pub fn file_bytes(&self) -> Option<u64> {
        std::fs::metadata(self.file.as_ref()?).ok().map(|m| m.len())
    }
}

/// The spec's `--weights` text.
impl std::fmt::Display for WeightsLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.spec.fmt(f)
    }
}

/// A backbone and the recipe its inputs must follow.
pub struct Loaded {
    pub model: model::Backbone,
    pub recipe: Preprocessing,
    pub location: WeightsLocation,
}

fn absolute(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

pub fn load(
    variant: Option<Variant>,
    spec: &WeightsSpec,
    settings: &RunSettings,
    overrides: &RecipeOverrides,
) -> Result<Loaded, WeightsSpecError> {
    let options = |padding: Option<Padding>, source: Option<String>| LoadOptions {
        variant,
        padding: settings.padding.or(padding),
        device: settings.device,
        precision: settings.precision,
        layout: settings.layout,
        source,
    };
    match spec {
        WeightsSpec::Random { seed } => {
            let variant = variant.ok_or(WeightsSpecError::RandomNeedsVariant)?;
            let model = model::Backbone::random(
                variant,
                *seed,
                settings.device,
                settings.precision,
                settings.layout,
            )?;
            let base = timm_recipe(
                variant.scaling().resolution as u32,
                0.875,
                Interpolation::Bicubic,
                IMAGENET_MEAN,
                IMAGENET_STD,
            )
            .map_err(|e| WeightsSpecError::InvalidRecipe(e.to_string()))?;
            let recipe = overrides.apply(Some(base), &format!("random:{seed}"))?;
            Ok(Loaded {
                model,
                recipe,
                location: WeightsLocation {
                    spec: spec.clone(),
                    file: None,
                },
            })
        }
        WeightsSpec::File(path) => {
            let metadata = safetensors_metadata(path)?;
            let base = match metadata.get("effprobe.recipe") {
                Some(json) => Some(serde_json::from_str::<Preprocessing>(json).map_err(|e| {
                    WeightsSpecError::BadRecipe {
                        path: path.clone(),
                        reason: e.to_string(),
                    }
                })?),
                None => None,
            };
            let model = model::Backbone::from_safetensors(path, &options(None, None))?;
            let recipe = overrides.apply(base, &path.display().to_string())?;
            Ok(Loaded {
                model,
                recipe,
                location: WeightsLocation {
                    spec: WeightsSpec::File(absolute(path)),
                    file: Some(absolute(path)),
                },
            })
        }
        WeightsSpec::Hub(name) => {
            let cached = hub_cache::resolve(name, &settings.hub_cache)?;
            let (padding, base) = match &cached.config {
                Some(config) => {
                    let padding = if config.uses_tf_same_padding() {
                        Padding::Same
                    } else {
                        Padding::Symmetric
                    };
                    (Some(padding), Some(config.recipe(&cached.weights)?))
                }
                None => (None, None),
            };
            let model = model::Backbone::from_safetensors(
                &cached.weights,
                &options(padding, Some(name.clone())),
            )?;
            let recipe = overrides.apply(base, name)?;
            Ok(Loaded {
                model,
                recipe,
                location: WeightsLocation {
                    spec: spec.clone(),
                    file: Some(absolute(&cached.weights)),
                },
            })
        }
    }
}
