//! Preprocessing recipes: how an image becomes a backbone's input, as the
//! weights' source defines it (timm's `pretrained_cfg`, torchvision's presets,
//! effprobe's own `effprobe.recipe` metadata), and the flags that replace parts
//! of it.

use contract::{Interpolation, Preprocessing, PreprocessingError, ResizeMode};
use serde::Deserialize;

use crate::spec::WeightsSpecError;

/// Why a recipe cannot be built (the contract's own validation).
pub type RecipeError = PreprocessingError;

/// timm's name for an interpolation.
pub fn timm_interpolation_name(interpolation: Interpolation) -> &'static str {
    match interpolation {
        Interpolation::Nearest => "nearest",
        Interpolation::Bilinear => "bilinear",
        Interpolation::Bicubic => "bicubic",
    }
}

/// timm's `pretrained_cfg` as a hub model's `config.json` and an exported
/// module's sidecar both carry it: what its evaluation transform is made of.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct PretrainedCfg {
    /// `[channels, height, width]`
    pub input_size: [u32; 3],
    pub interpolation: String,
    pub crop_pct: f64,
    #[serde(default)]
    pub crop_mode: Option<String>,
    pub mean: [f32; 3],
    pub std: [f32; 3],
    /// The model takes exactly `input_size` (a ViT's position embedding).
    #[serde(default)]
    pub fixed_input_size: bool,
}

impl PretrainedCfg {
    /// `(height, width)` of `input_size`.
    pub fn height_width(&self) -> (u32, u32) {
        let [_, height, width] = self.input_size;
        (height, width)
    }

    /// timm's evaluation transform (`resolve_data_config` + `create_transform`)
    /// for this config: every crop mode (timm reads a missing one as `center`),
    /// non-square sizes too.
    pub fn recipe(&self) -> Result<Preprocessing, RecipeError> {
        Preprocessing::from_timm(
            self.height_width(),
            self.crop_pct,
            self.crop_mode.as_deref().unwrap_or("center"),
            &self.interpolation,
            self.mean,
            self.std,
        )
    }
}

/// timm's evaluation transform at a square size with crop_mode `center`:
/// `Resize(floor(input / crop_pct))` on the shorter side, then `CenterCrop(input)`
/// ([`Preprocessing::from_timm`] for every crop mode and non-square sizes).
pub fn timm_recipe(
    input_size: u32,
    crop_pct: f64,
    interpolation: Interpolation,
    mean: [f32; 3],
    std: [f32; 3],
) -> Result<Preprocessing, RecipeError> {
    Preprocessing::from_timm(
        (input_size, input_size),
        crop_pct,
        "center",
        timm_interpolation_name(interpolation),
        mean,
        std,
    )
}

/// torchvision's `ImageClassification` preset: an explicit resize size for the
/// shorter side and a crop size, per weights.
pub fn torchvision_recipe(
    resize_size: u32,
    crop_size: u32,
    interpolation: Interpolation,
    mean: [f32; 3],
    std: [f32; 3],
) -> Result<Preprocessing, RecipeError> {
    let recipe = Preprocessing {
        input_size: crop_size,
        input_width: None,
        resize_mode: ResizeMode::Crop,
        resize_size,
        resize_width: None,
        crop_fraction: f64::from(crop_size) / f64::from(resize_size.max(1)),
        interpolation,
        antialias: true,
        mean,
        std,
    };
    recipe.validate()?;
    Ok(recipe)
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
            // `--input-size` is one side: the input becomes that square.
            recipe.input_size = size;
            recipe.input_width = None;
        }
        if let Some(fraction) = self.crop_fraction {
            if !(fraction > 0.0 && fraction <= 1.0) {
                return Err(WeightsSpecError::InvalidRecipe(format!(
                    "crop fraction {fraction} is outside (0, 1]"
                )));
            }
            recipe.crop_fraction = fraction;
        }
        let scaled = |side: u32| (f64::from(side) / recipe.crop_fraction).floor() as u32;
        recipe.resize_width = recipe.input_width.map(|width| match self.resize_size {
            // An explicit resize size keeps the recipe's aspect.
            Some(size) => {
                (f64::from(size) * f64::from(width) / f64::from(recipe.input_size)).floor() as u32
            }
            None => scaled(width),
        });
        recipe.resize_size = self
            .resize_size
            .unwrap_or_else(|| scaled(recipe.input_size));
        recipe.crop_fraction = f64::from(recipe.input_size) / f64::from(recipe.resize_size);
        if let Some(mode) = self.resize_mode {
            recipe.resize_mode = mode;
        }
        if recipe.resize_mode == ResizeMode::Stretch {
            recipe.resize_size = recipe.input_size;
            recipe.resize_width = recipe.input_width;
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
        recipe
            .validate()
            .map_err(|e| WeightsSpecError::InvalidRecipe(e.to_string()))?;
        Ok(recipe)
    }
}

pub const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
pub const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];
