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
pub mod top;
pub mod weights;

use std::path::Path;

use std::path::PathBuf;

use contract::activations::CutPoint;
use contract::tune_file::TuneFile;
use contract::WeightsIdentity;
use tch::{Device, Kind, Tensor};

pub use arch::{Architecture, Variant};
pub use device::{DeviceRequest, MemoryLayout, Precision};
pub use error::ModelError;
pub use naming::Family;
pub use padding::Padding;

use layers::Placement;
use network::{Network, NetworkSettings};
pub use top::{cut_point, TopBlocks, TunableTop};
use weights::TensorSource;
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
    origin: Origin,
    settings: NetworkSettings,
    placement: Placement,
    /// Emit the tensor entering this cut's first block beside the features.
    activation_cut: Option<CutPoint>,
    /// Set when fine-tuned top tensors are swapped in: the feature layer's name.
    tuned_layer: Option<String>,
}

/// Where the tensors came from, to read them again for a trainable or tuned top
/// without keeping a second copy of the weights in memory.
#[derive(Clone, Debug)]
enum Origin {
    File(PathBuf),
    Random { seed: u64 },
}

/// The feature layer of a network whose top after `cut` is the tune file with
/// this blake3: what `tune-train` records in its head file, and what predict
/// checks.
pub fn tuned_feature_layer(cut: &CutPoint, tune_blake3: &str) -> String {
    format!(
        "top {} of {} blocks fine-tuned (tune.safetensors blake3 {}) -> {FEATURE_LAYER}",
        cut.top_blocks,
        cut.total_blocks,
        &tune_blake3[..tune_blake3.len().min(16)]
    )
}

/// A tune file's tensors in front of the backbone's own.
struct Overlay<'a> {
    tune: &'a TuneFile,
    base: &'a dyn TensorSource,
}

impl TensorSource for Overlay<'_> {
    fn tensor_f64(&self, name: &str) -> Result<Tensor, ModelError> {
        match self.tune.tensors.get(name) {
            Some((shape, values)) => {
                let shape: Vec<i64> = shape.iter().map(|&d| d as i64).collect();
                Ok(Tensor::f_from_slice(values)?
                    .f_reshape(&shape)?
                    .f_to_kind(Kind::Double)?)
            }
            None => self.base.tensor_f64(name),
        }
    }
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
            origin: Origin::File(path.to_path_buf()),
            settings,
            placement,
            activation_cut: None,
            tuned_layer: None,
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
            origin: Origin::Random { seed },
            settings,
            placement,
            activation_cut: None,
            tuned_layer: None,
        })
    }

    /// Runs `use_source` on the backbone's tensors, read again from their origin
    /// (and checked to be the ones loaded).
    fn with_source<R>(
        &self,
        use_source: impl FnOnce(&dyn TensorSource) -> Result<R, ModelError>,
    ) -> Result<R, ModelError> {
        match &self.origin {
            Origin::File(path) => {
                let file = WeightsFile::read(path)?;
                let found = file.identity(None).blake3;
                if found != self.weights.blake3 {
                    return Err(ModelError::WeightsChanged {
                        path: path.clone(),
                        expected: self.weights.blake3.clone(),
                        found,
                    });
                }
                use_source(&file.source())
            }
            Origin::Random { seed } => use_source(&random::RandomSource::new(
                &self.variant.architecture(),
                Family::Timm,
                *seed,
            )),
        }
    }

    /// The cut leaving the last `top_blocks` blocks (`None`: the last stage) at
    /// this input size.
    pub fn cut_point(
        &self,
        top_blocks: Option<usize>,
        input_size: u32,
    ) -> Result<CutPoint, ModelError> {
        cut_point(self.variant, top_blocks, input_size, self.padding)
    }

    /// From now on [`Backbone::features_and_activation`] also returns the tensor
    /// entering `cut`'s first block.
    pub fn set_activation_cut(&mut self, cut: Option<CutPoint>) {
        self.activation_cut = cut;
    }

    pub fn activation_cut(&self) -> Option<CutPoint> {
        self.activation_cut
    }

    /// The trainable top after `cut` with a fresh classifier of `outputs` logits.
    pub fn top(
        &self,
        cut: CutPoint,
        outputs: usize,
        seed: u64,
        device: Device,
    ) -> Result<TunableTop, ModelError> {
        let arch = self.variant.architecture();
        self.with_source(|source| {
            TunableTop::build(&arch, source, self.settings, cut, outputs, seed, device)
        })
    }

    /// Swaps the tune file's top in: the network becomes the tuned one, rounding
    /// the tensor at the cut to float16 as its training data was.
    pub fn apply_tune(&mut self, tune: &TuneFile, tune_blake3: &str) -> Result<(), ModelError> {
        if tune.variant != self.variant.name() || tune.weights.blake3 != self.weights.blake3 {
            return Err(ModelError::Tune(format!(
                "tuned on {} ({}), this backbone is {} ({})",
                tune.variant, tune.weights.blake3, self.variant, self.weights.blake3
            )));
        }
        let arch = self.variant.architecture();
        let mut network = self.with_source(|base| {
            Network::build(
                &arch,
                &Overlay { tune, base },
                self.settings,
                self.placement,
            )
        })?;
        network.round_before_block(tune.cut.first_block);
        self.network = network;
        self.tuned_layer = Some(tuned_feature_layer(&tune.cut, tune_blake3));
        Ok(())
    }

    /// The layer the features come from: [`FEATURE_LAYER`], or the tuned top's.
    pub fn feature_layer(&self) -> String {
        self.tuned_layer
            .clone()
            .unwrap_or_else(|| FEATURE_LAYER.to_string())
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

    /// The features and, with an activation cut set, the tensor entering the
    /// cut's first block, `[batch, C, H, W]` float16 on the CPU: one forward pass.
    pub fn features_and_activation(
        &self,
        images: &Tensor,
    ) -> Result<(Tensor, Option<Tensor>), ModelError> {
        let cut = self.activation_cut.map(|c| c.first_block);
        let pass = self.network.forward_parts(images, cut)?;
        let activation = match pass.activation {
            Some(a) => Some(
                a.f_to_kind(Kind::Half)?
                    .f_to_device(Device::Cpu)?
                    .f_contiguous()?,
            ),
            None => None,
        };
        Ok((pass.features.f_to_device(Device::Cpu)?, activation))
    }

    /// The tensor entering `cut`'s first block, float32 on the backbone's device
    /// (unrounded: for parity checks and predict's own use).
    pub fn activation(&self, images: &Tensor, cut: &CutPoint) -> Result<Tensor, ModelError> {
        let pass = self.network.forward_parts(images, Some(cut.first_block))?;
        Ok(pass.activation.expect("asked for").f_to_kind(Kind::Float)?)
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
