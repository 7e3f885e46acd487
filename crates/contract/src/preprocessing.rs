//! The preprocessing recipe recorded in every feature file, head file and cache
//! key: how an image becomes the backbone's `height × width × 3` input.

use serde::{Deserialize, Serialize};

/// How an image becomes the input. The resize target is `resize_height() ×
/// resize_width()`; every mode but `Stretch` then center-crops (or pads) to the
/// input size, as torchvision's `CenterCrop` and timm's `CenterCropOrPad` do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ResizeMode {
    /// timm's crop_mode `center` (and torchvision's resize/crop presets): the
    /// image keeps its aspect ratio and covers the resize target. A square target
    /// resizes the shorter side to `resize_size`, the longer one truncated
    /// (torchvision `Resize(int)`); a non-square one scales by the smaller of the
    /// two ratios, both sides rounded (timm `ResizeKeepRatio`, `longest=0`).
    Crop,
    /// Resize straight to the input size, ignoring aspect ratio
    /// (Keras `flow_from_directory`, which the seed experiment used).
    Stretch,
    /// timm's crop_mode `squash`: resize to exactly the resize target, ignoring
    /// aspect ratio, then center-crop.
    Squash,
    /// timm's crop_mode `border`: the image keeps its aspect ratio and fits inside
    /// the resize target (`ResizeKeepRatio`, `longest=1`), then is padded with
    /// `round(255 × mean)` per channel and center-cropped to the input.
    Border,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Interpolation {
    Nearest,
    Bilinear,
    Bicubic,
}

impl std::str::FromStr for Interpolation {
    type Err = PreprocessingError;

    /// timm's and torchvision's names.
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name {
            "nearest" => Ok(Interpolation::Nearest),
            "bilinear" => Ok(Interpolation::Bilinear),
            "bicubic" => Ok(Interpolation::Bicubic),
            other => Err(PreprocessingError::UnknownInterpolation(other.to_string())),
        }
    }
}

/// The complete recipe from image bytes to input tensor. Two files whose recipes
/// differ in any field hold incomparable features.
///
/// A square recipe leaves `input_width` and `resize_width` out, so it serialises
/// exactly as recipes did before non-square inputs existed (cache keys and the
/// files already written stay valid). Read sizes through the methods
/// ([`Preprocessing::input_height`], [`Preprocessing::input_width`], ...), not the fields.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Preprocessing {
    /// Height of the input tensor (its side when square).
    pub input_size: u32,
    /// Width of the input tensor when it differs from its height.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_width: Option<u32>,
    pub resize_mode: ResizeMode,
    /// Height of the resize target (the shorter side's length for a square
    /// `Crop`; equal to the input for `Stretch`).
    pub resize_size: u32,
    /// Width of the resize target when it differs from its height.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resize_width: Option<u32>,
    /// `input_size / resize_size` as the weights' source states it (timm's crop_pct).
    pub crop_fraction: f64,
    pub interpolation: Interpolation,
    /// Low-pass filter when downscaling, as PIL and torchvision (antialias=True) do.
    pub antialias: bool,
    /// Per-channel mean and std applied to pixels scaled to [0, 1].
    pub mean: [f32; 3],
    pub std: [f32; 3],
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PreprocessingError {
    #[error("input size {height}×{width} is empty")]
    EmptyInput { height: u32, width: u32 },
    #[error("crop_pct {0} is outside (0, 1]")]
    CropFraction(f64),
    #[error("unknown crop_mode {0:?}: expected center, squash or border")]
    UnknownCropMode(String),
    #[error("unknown interpolation {0:?}: expected nearest, bilinear or bicubic")]
    UnknownInterpolation(String),
    #[error("std {0:?} must be positive")]
    Std([f32; 3]),
    #[error(
        "resize target {resize_height}×{resize_width} is smaller than the \
         {input_height}×{input_width} input"
    )]
    ResizeSmallerThanInput {
        resize_height: u32,
        resize_width: u32,
        input_height: u32,
        input_width: u32,
    },
}

impl Preprocessing {
    /// timm's evaluation transform (`transforms_imagenet_eval`) from a model's
    /// `pretrained_cfg`: `input_size` is its `(height, width)`, the resize target
    /// `floor(side / crop_pct)` per side, as timm computes it. `crop_mode` is
    /// `center`, `squash` or `border` (timm treats a missing one as `center`).
    pub fn from_timm(
        input_size: (u32, u32),
        crop_pct: f64,
        crop_mode: &str,
        interpolation: &str,
        mean: [f32; 3],
        std: [f32; 3],
    ) -> Result<Preprocessing, PreprocessingError> {
        let (height, width) = input_size;
        if height == 0 || width == 0 {
            return Err(PreprocessingError::EmptyInput { height, width });
        }
        if !(crop_pct > 0.0 && crop_pct <= 1.0) {
            return Err(PreprocessingError::CropFraction(crop_pct));
        }
        let resize_mode = match crop_mode {
            "center" => ResizeMode::Crop,
            "squash" => ResizeMode::Squash,
            "border" => ResizeMode::Border,
            other => return Err(PreprocessingError::UnknownCropMode(other.to_string())),
        };
        if !std.iter().all(|s| *s > 0.0) {
            return Err(PreprocessingError::Std(std));
        }
        // Python's `math.floor(x / crop_pct)` on the same doubles.
        let scaled = |side: u32| (f64::from(side) / crop_pct).floor() as u32;
        let square = height == width;
        let recipe = Preprocessing {
            input_size: height,
            input_width: (!square).then_some(width),
            resize_mode,
            resize_size: scaled(height),
            resize_width: (!square).then(|| scaled(width)),
            crop_fraction: crop_pct,
            interpolation: interpolation.parse()?,
            antialias: true,
            mean,
            std,
        };
        recipe.validate()?;
        Ok(recipe)
    }

    pub fn input_height(&self) -> u32 {
        self.input_size
    }

    pub fn input_width(&self) -> u32 {
        self.input_width.unwrap_or(self.input_size)
    }

    /// Length of one resized image: `height × width × 3` bytes, row-major, RGB.
    pub fn input_bytes(&self) -> usize {
        self.input_height() as usize * self.input_width() as usize * 3
    }

    pub fn is_square(&self) -> bool {
        self.input_height() == self.input_width()
    }

    pub fn resize_height(&self) -> u32 {
        self.resize_size
    }

    pub fn resize_width(&self) -> u32 {
        self.resize_width.unwrap_or(self.resize_size)
    }

    /// The input size as people write it: `224`, or `256x320` (height x width).
    pub fn input_size_label(&self) -> String {
        if self.is_square() {
            self.input_height().to_string()
        } else {
            format!("{}x{}", self.input_height(), self.input_width())
        }
    }

    /// Checks the sizes are usable: a non-empty input, a crop fraction in (0, 1],
    /// and a resize target covering the input (except `Stretch`, which has none).
    pub fn validate(&self) -> Result<(), PreprocessingError> {
        let (height, width) = (self.input_height(), self.input_width());
        if height == 0 || width == 0 {
            return Err(PreprocessingError::EmptyInput { height, width });
        }
        if !(self.crop_fraction > 0.0 && self.crop_fraction <= 1.0) {
            return Err(PreprocessingError::CropFraction(self.crop_fraction));
        }
        let (resize_height, resize_width) = (self.resize_height(), self.resize_width());
        if self.resize_mode != ResizeMode::Stretch
            && (resize_height < height || resize_width < width)
        {
            return Err(PreprocessingError::ResizeSmallerThanInput {
                resize_height,
                resize_width,
                input_height: height,
                input_width: width,
            });
        }
        Ok(())
    }
}
