//! Frozen EfficientNet B0..B7 and Lite0..Lite4 feature extractors on libtorch.
//!
//! A [`Backbone`] is built from a safetensors file in torchvision, timm or
//! efficientnet_lite_pytorch naming
//! (or from seeded random weights), with batch-norm folded into the convolutions,
//! and maps normalised images to the global-average-pooled output of the final
//! 1x1 conv + BN + activation: the features before dropout and the classifier.

pub mod arch;
pub mod bench;
pub mod device;
mod error;
mod layers;
pub mod naming;
mod network;
pub mod padding;
mod random;
pub mod weights;

use std::path::Path;

use contract::WeightsIdentity;
use tch::{Device, Tensor};

pub use arch::{Architecture, Variant};
pub use device::{DeviceRequest, MemoryLayout, Precision};
pub use error::ModelError;
pub use naming::Family;
pub use padding::Padding;

use layers::Placement;
use network::{Network, NetworkSettings};
use weights::{tensor_problems, WeightsFile, META_FAMILY, META_PADDING, META_VARIANT};

/// What the caller knows beyond the file itself.
#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// Checked against the file; inferred from its tensor shapes when `None`.
    pub variant: Option<Variant>,
    /// Needed for timm-named files whose metadata does not record it.
    pub padding: Option<Padding>,
    pub device: Device,
    pub precision: Precision,
    /// `None`: the faster layout for the device.
    pub layout: Option<MemoryLayout>,
    /// Names the weights in the feature file (default: the file's `effprobe.source`, else its path).
    pub source: Option<String>,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            variant: None,
            padding: None,
            device: Device::Cpu,
            precision: Precision::Fp32,
            layout: None,
            source: None,
        }
    }
}

/// A frozen EfficientNet ready to turn images into pooled features.
pub struct Backbone {
    pub variant: Variant,
    /// `None` for random weights.
    pub family: Option<Family>,
    pub padding: Padding,
    pub bn_eps: f64,
    pub device: Device,
    pub precision: Precision,
    pub layout: MemoryLayout,
    pub weights: WeightsIdentity,
    network: Network,
}

/// The layer the features are read from, for the feature file's metadata.
pub const FEATURE_LAYER: &str = "head conv1x1 + BN + activation -> global average pool";

impl Backbone {
    /// Loads and checks a safetensors weights file.
    pub fn from_safetensors(path: &Path, options: &LoadOptions) -> Result<Backbone, ModelError> {
        let file = WeightsFile::read(path)?;
        let shapes = file.shapes();
        let family = Family::detect(shapes.keys().map(String::as_str)).ok_or_else(|| {
            ModelError::UnknownFamily {
                path: path.to_path_buf(),
                sample: shapes
                    .keys()
                    .take(5)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", "),
            }
        })?;
        check_recorded_family(&file, family)?;
        let padding = resolve_padding(&file, family, options.padding)?;
        let variant = resolve_variant(&file, &shapes, family, options.variant)?;
        let bn_eps = batch_norm_eps(family, padding, variant);
        let settings = NetworkSettings {
            family,
            padding,
            bn_eps,
        };
        let layout = options
            .layout
            .unwrap_or_else(|| MemoryLayout::preferred_for(options.device));
        let placement = Placement {
            device: options.device,
            kind: options.precision.kind(),
            layout,
        };
        enable_cudnn_autotuning(options.device);
        let network = Network::build(&variant.architecture(), &file.source(), settings, placement)?;
        Ok(Backbone {
            variant,
            family: Some(family),
            padding,
            bn_eps,
            device: options.device,
            precision: options.precision,
            layout,
            weights: file.identity(options.source.as_deref()),
            network,
        })
    }

    /// Seeded random weights (for benchmarks): the same seed gives the same network.
    pub fn random(
        variant: Variant,
        seed: u64,
        device: Device,
        precision: Precision,
        layout: Option<MemoryLayout>,
    ) -> Result<Backbone, ModelError> {
        let arch = variant.architecture();
        let family = Family::Timm;
        let source = random::RandomSource::new(&arch, family, seed);
        let layout = layout.unwrap_or_else(|| MemoryLayout::preferred_for(device));
        let settings = NetworkSettings {
            family,
            padding: Padding::Symmetric,
            bn_eps: 1e-5,
        };
        let placement = Placement {
            device,
            kind: precision.kind(),
            layout,
        };
        enable_cudnn_autotuning(device);
        let network = Network::build(&arch, &source, settings, placement)?;
        let source_name = format!("random:{variant}:seed={seed}");
        Ok(Backbone {
            variant,
            family: None,
            padding: Padding::Symmetric,
            bn_eps: 1e-5,
            device,
            precision,
            layout,
            weights: WeightsIdentity {
                blake3: blake3::hash(source_name.as_bytes()).to_hex().to_string(),
                source: source_name,
            },
            network,
        })
    }

    pub fn feature_dim(&self) -> i64 {
        self.variant.architecture().feature_dim()
    }

    /// Trainable parameters of the backbone as published (convolutions and
    /// batch-norm scale/shift, before folding; no classifier, no running statistics):
    /// torchvision's count for `efficientnet_b0` less its classifier is 4,007,548.
    pub fn parameter_count(&self) -> u64 {
        naming::expected_tensors(
            &self.variant.architecture(),
            self.family.unwrap_or(Family::Timm),
        )
        .iter()
        .filter(|t| {
            t.required && !t.name.ends_with(".running_mean") && !t.name.ends_with(".running_var")
        })
        .map(|t| match &t.shape {
            naming::ExpectedShape::Exact(shape) => shape.iter().product::<i64>() as u64,
            _ => 0,
        })
        .sum()
    }

    /// Pooled features `[batch, feature_dim]`, fp32 on the CPU, of normalised
    /// images `[batch, 3, height, width]` (fp32, any device).
    pub fn features(&self, images: &Tensor) -> Result<Tensor, ModelError> {
        Ok(self.network.forward(images)?.f_to_device(Device::Cpu)?)
    }
}

/// Extraction feeds one input size per backbone, so cuDNN's per-shape search for
/// the fastest convolution algorithm pays for itself after the first batch.
fn enable_cudnn_autotuning(device: Device) {
    if device.is_cuda() {
        tch::Cuda::cudnn_set_benchmark(true);
    }
}

/// The batch-norm epsilon the weights were trained with.
pub fn batch_norm_eps(family: Family, padding: Padding, variant: Variant) -> f64 {
    match (family, padding) {
        (Family::Torchvision, _) => variant.torchvision_bn_eps(),
        // timm's tf_ ports use BN_EPS_TF_DEFAULT (TensorFlow's 1e-3); its own
        // trainings PyTorch's default.
        (Family::Timm, Padding::Same) => 1e-3,
        (Family::Timm, Padding::Symmetric) => 1e-5,
        // efficientnet_lite_pytorch's GlobalParams: batch_norm_epsilon=1e-3.
        (Family::EfficientnetLite, _) => 1e-3,
    }
}

fn metadata_error(file: &WeightsFile, key: &str, reason: String) -> ModelError {
    ModelError::BadMetadata {
        path: file.path().to_path_buf(),
        key: key.to_string(),
        value: file.metadata().get(key).cloned().unwrap_or_default(),
        reason,
    }
}

fn check_recorded_family(file: &WeightsFile, family: Family) -> Result<(), ModelError> {
    let Some(recorded) = file.metadata().get(META_FAMILY) else {
        return Ok(());
    };
    let recorded: Family = recorded
        .parse()
        .map_err(|e: naming::UnknownFamily| metadata_error(file, META_FAMILY, e.to_string()))?;
    if recorded != family {
        return Err(metadata_error(
            file,
            META_FAMILY,
            format!("the tensor names are {family}'s"),
        ));
    }
    Ok(())
}

/// Padding is never guessed: torchvision files are symmetric; timm files say it in
/// their metadata or the caller does.
fn resolve_padding(
    file: &WeightsFile,
    family: Family,
    requested: Option<Padding>,
) -> Result<Padding, ModelError> {
    let path = file.path().to_path_buf();
    let recorded = match file.metadata().get(META_PADDING) {
        Some(value) => Some(
            value
                .parse::<Padding>()
                .map_err(|e| metadata_error(file, META_PADDING, e.to_string()))?,
        ),
        None => None,
    };
    if let (Some(recorded), Some(requested)) = (recorded, requested) {
        if recorded != requested {
            return Err(ModelError::PaddingConflict {
                path,
                recorded,
                requested,
            });
        }
    }
    match (family, recorded.or(requested)) {
        (Family::Torchvision, Some(Padding::Same)) => {
            Err(ModelError::TorchvisionSamePadding { path })
        }
        (Family::Torchvision, _) => Ok(Padding::Symmetric),
        (Family::Timm, Some(padding)) => Ok(padding),
        (Family::Timm, None) => Err(ModelError::PaddingUnknown { path }),
        // The package builds every conv as Conv2dStaticSamePadding: its layout
        // implies TensorFlow padding, as torchvision's implies symmetric.
        (Family::EfficientnetLite, padding) => Ok(padding.unwrap_or(Padding::Same)),
    }
}

/// The variant whose tensor list the file matches exactly; a requested variant
/// that does not match is reported with the one that does, if any.
fn resolve_variant(
    file: &WeightsFile,
    shapes: &std::collections::BTreeMap<String, Vec<i64>>,
    family: Family,
    requested: Option<Variant>,
) -> Result<Variant, ModelError> {
    let path = file.path().to_path_buf();
    if let Some(variant) = requested.filter(|v| !family.supports(*v)) {
        return Err(ModelError::FamilyLacksVariant {
            path,
            family,
            variant,
        });
    }
    let problems: Vec<(Variant, Vec<String>)> = Variant::ALL
        .into_iter()
        .filter(|variant| family.supports(*variant))
        .map(|variant| (variant, tensor_problems(shapes, variant, family)))
        .collect();
    let exact = problems
        .iter()
        .find(|(_, list)| list.is_empty())
        .map(|(variant, _)| *variant);
    let variant = match (requested, exact) {
        (Some(requested), Some(found)) if requested != found => {
            return Err(ModelError::VariantMismatch {
                path,
                family,
                requested,
                found,
            })
        }
        (_, Some(found)) => found,
        (requested, None) => {
            let (variant, list, qualifier) = match requested {
                Some(requested) => {
                    let list = problems
                        .iter()
                        .find(|(v, _)| *v == requested)
                        .map(|(_, list)| list.clone())
                        .unwrap_or_default();
                    (requested, list, String::new())
                }
                None => {
                    let (variant, list) = problems
                        .iter()
                        .min_by_key(|(_, list)| list.len())
                        .cloned()
                        .expect("Variant::ALL is not empty");
                    (
                        variant,
                        list,
                        " (it matches no variant; this is the closest)".to_string(),
                    )
                }
            };
            return Err(ModelError::TensorProblems {
                path,
                family,
                variant,
                qualifier,
                count: list.len(),
                problems: list,
            });
        }
    };
    if let Some(recorded) = file.metadata().get(META_VARIANT) {
        if recorded.parse::<Variant>().ok() != Some(variant) {
            return Err(metadata_error(
                file,
                META_VARIANT,
                format!("the tensor shapes are EfficientNet-{variant}'s"),
            ));
        }
    }
    Ok(variant)
}
