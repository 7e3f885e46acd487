//! A network and the recipe its inputs follow, as the pipeline sees it
//! ([`crate::Backbone`]): resized RGB bytes in, pooled features out.

use std::collections::BTreeMap;

use contract::activations::CutPoint;
use contract::{extra, Preprocessing, WeightsIdentity};
use tch::{Device, Kind, Tensor};

use crate::backbone::{Backbone, BackboneError};
use crate::error::ModelError;
use crate::net::FeatureNet;
use crate::spec::WeightsLocation;

pub struct Extractor {
    net: Box<dyn FeatureNet>,
    recipe: Preprocessing,
    batch_size: usize,
    /// The recipe's per-channel mean and std, `[1, 3, 1, 1]` on the network's device.
    mean: Tensor,
    std: Tensor,
    extra: BTreeMap<String, String>,
    /// Activations of the last forward pass, when the network has a cut.
    activations: Vec<u16>,
}

impl Extractor {
    /// `batch_size` of `None` picks one for the device and input size.
    pub fn new(
        net: Box<dyn FeatureNet>,
        recipe: Preprocessing,
        batch_size: Option<usize>,
        location: &WeightsLocation,
    ) -> Result<Self, ModelError> {
        let device = net.placement().device;
        let batch_size = batch_size.unwrap_or_else(|| automatic_batch_size(device, &recipe));
        let channel = |values: [f32; 3]| -> Result<Tensor, tch::TchError> {
            Tensor::f_from_slice(&values)?
                .f_view([1, 3, 1, 1])?
                .f_to_device(device)
        };
        let mut extra = BTreeMap::from([
            (
                extra::BACKBONE_PARAMETERS.to_string(),
                net.parameter_count().to_string(),
            ),
            (extra::WEIGHTS_LOCATION.to_string(), location.to_string()),
        ]);
        if let Some(bytes) = location.file_bytes() {
            extra.insert(extra::WEIGHTS_BYTES.to_string(), bytes.to_string());
        }
        Ok(Extractor {
            mean: channel(recipe.mean)?,
            std: channel(recipe.std)?,
            net,
            recipe,
            batch_size,
            extra,
            activations: Vec::new(),
        })
    }

    /// One more fact for the feature file's `effprobe.extra.*`.
    pub(crate) fn record(&mut self, key: &str, value: &str) {
        self.extra.insert(key.to_string(), value.to_string());
    }

    pub fn net(&self) -> &dyn FeatureNet {
        self.net.as_ref()
    }

    pub fn net_mut(&mut self) -> &mut dyn FeatureNet {
        self.net.as_mut()
    }

    /// `uint8 [N, H, W, 3]` RGB pixels (any device) → normalised `float32 [N, 3, H, W]`
    /// on the network's device: `(x / 255 - mean) / std`, in the order of
    /// torchvision's `ToTensor` + `Normalize`. The one normalisation: the
    /// pipeline, predict and the exported serving module all use it.
    pub fn normalize(&self, pixels: &Tensor) -> Result<Tensor, tch::TchError> {
        // In place after the one conversion, which copies because the pixels are
        // uint8: the same arithmetic, one allocation per batch instead of four.
        if pixels.kind() != Kind::Uint8 {
            return Err(tch::TchError::Kind(format!(
                "pixels must be uint8, not {:?}",
                pixels.kind()
            )));
        }
        let mut input = pixels
            .f_to_device(self.net.placement().device)?
            .f_permute([0, 3, 1, 2])?
            .f_to_kind(Kind::Float)?;
        let _ = input.f_div_scalar_(255.0)?;
        let _ = input.f_sub_(&self.mean)?;
        let _ = input.f_div_(&self.std)?;
        Ok(input)
    }

    /// Normalised NCHW input for images already resized by the recipe (each
    /// `height × width × 3` bytes): only the
    /// bytes cross the bus, and NHWC bytes permuted to NCHW are channels-last.
    pub fn input_tensor(&self, images: &[&[u8]]) -> Result<Tensor, tch::TchError> {
        let (height, width) = (
            i64::from(self.recipe.input_height()),
            i64::from(self.recipe.input_width()),
        );
        let mut bytes = Vec::with_capacity(images.len() * self.recipe.input_bytes());
        for image in images {
            bytes.extend_from_slice(image);
        }
        let pixels =
            Tensor::f_from_slice(&bytes)?.f_view([images.len() as i64, height, width, 3])?;
        self.normalize(&pixels)
    }

    /// Pooled features of `uint8 [N, H, W, 3]` pixels: what the exported serving
    /// module traces.
    pub fn features_of_pixels(&self, pixels: &Tensor) -> Result<Tensor, ModelError> {
        self.net.features(&self.normalize(pixels)?)
    }
}

/// Large enough to keep a GPU busy and small enough for its memory. On a CPU,
/// 16 at 224 px: as fast as 32 and a quarter less memory (1,000 photos, 2 cores:
/// Lite0 9.9 s at 16, 10.7 s at 32; B0 12.0 s / 11.4 s). `--batch-size`
/// overrides it.
fn automatic_batch_size(device: Device, recipe: &Preprocessing) -> usize {
    let pixels = (f64::from(recipe.input_height()) * f64::from(recipe.input_width())).max(1.0);
    let pixels_ratio = (224.0 * 224.0) / pixels;
    if device.is_cuda() {
        ((256.0 * pixels_ratio).round() as usize).clamp(4, 512)
    } else {
        ((16.0 * pixels_ratio).round() as usize).clamp(1, 16)
    }
}

impl Backbone for Extractor {
    fn variant(&self) -> &str {
        self.net.id().as_str()
    }

    fn feature_dim(&self) -> usize {
        self.net.feature_dim()
    }

    fn feature_layer(&self) -> String {
        self.net.feature_layer()
    }

    fn recipe(&self) -> &Preprocessing {
        &self.recipe
    }

    fn weights(&self) -> &WeightsIdentity {
        self.net.weights()
    }

    fn batch_size(&self) -> usize {
        self.batch_size
    }

    fn device(&self) -> String {
        self.net.placement().device_name()
    }

    fn precision(&self) -> String {
        self.net.placement().precision.name().to_string()
    }

    fn forward(&mut self, images: &[&[u8]]) -> Result<Vec<f32>, BackboneError> {
        let fail = |e: &dyn std::fmt::Display| BackboneError(e.to_string());
        let input = self.input_tensor(images).map_err(|e| fail(&e))?;
        let (features, activation) = self
            .net
            .features_and_activation(&input)
            .map_err(|e| fail(&e))?;
        if let Some(activation) = activation {
            // Float16 bit patterns, read as 16-bit integers without conversion.
            let bits = activation
                .f_flatten(0, -1)
                .and_then(|a| a.f_view_dtype(Kind::Int16))
                .map_err(|e| fail(&e))?;
            let bits = Vec::<i16>::try_from(&bits).map_err(|e| fail(&e))?;
            self.activations = bits.into_iter().map(|b| b as u16).collect();
        }
        let flat = features
            .f_to_kind(Kind::Float)
            .and_then(|f| f.f_flatten(0, -1))
            .map_err(|e| fail(&e))?;
        Vec::<f32>::try_from(&flat).map_err(|e| fail(&e))
    }

    fn activation_cut(&self) -> Option<CutPoint> {
        self.net.activation_cut()
    }

    fn take_activations(&mut self) -> Vec<u16> {
        std::mem::take(&mut self.activations)
    }

    fn extra(&self) -> BTreeMap<String, String> {
        self.extra.clone()
    }
}
