//! Frozen EfficientNet B0..B7 and Lite0..Lite4 on libtorch, built from the
//! stage table and scaling rules ([`arch`]) and named tensors.
//!
//! [`EfficientNetWeights`] reads and checks a safetensors file once (torchvision,
//! timm or efficientnet_lite_pytorch naming; or seeded random weights): family,
//! variant, padding, batch-norm epsilon and identity. From it come the frozen
//! network ([`EfficientNet`], batch norm folded into the convolutions, mapping
//! normalised images to the global-average-pooled output of the final 1x1 conv +
//! BN + activation: the features before dropout and the classifier), and the
//! trainable top after a cut ([`TunableTop`], for tune-train), without reading
//! the file again.

pub mod arch;
pub mod canonical;
mod layers;
pub mod naming;
mod network;
pub mod padding;
mod random;
pub mod top;
pub mod weights;

use std::collections::HashMap;
use std::path::Path;

use contract::activations::CutPoint;
use contract::tune_file::TuneFile;
use contract::WeightsIdentity;
use tch::{Device, Kind, Tensor};

pub use arch::{Architecture, UnknownVariant, Variant};
pub use canonical::canonical_weights;
pub use naming::Family;
pub use padding::Padding;
pub use top::{cut_point, TopBlocks, TunableTop};

use crate::device::{configure_libtorch, Placement};
use crate::error::ModelError;
use crate::net::FeatureNet;
use crate::ModelId;
use network::{Network, NetworkSettings};
use random::RandomSource;
use weights::TensorSource;
use weights::{tensor_problems, WeightsFile, META_FAMILY, META_PADDING, META_VARIANT};

/// What the caller knows about a weights file beyond the file itself.
#[derive(Clone, Debug, Default)]
pub struct WeightsOptions {
    /// Checked against the file; inferred from its tensor shapes when `None`.
    pub variant: Option<Variant>,
    /// Needed for timm-named files whose metadata does not record it.
    pub padding: Option<Padding>,
    /// Names the weights in the feature file (default: the file's `effprobe.source`, else its path).
    pub source: Option<String>,
}

/// The tensors an [`EfficientNetWeights`] holds.
enum Tensors {
    File(WeightsFile),
    Random(RandomSource),
}

/// An EfficientNet's weights, read and checked once (see the module docs).
pub struct EfficientNetWeights {
    pub variant: Variant,
    /// `None` for random weights.
    pub family: Option<Family>,
    pub padding: Padding,
    pub bn_eps: f64,
    pub identity: WeightsIdentity,
    settings: NetworkSettings,
    tensors: Tensors,
}

impl std::fmt::Debug for EfficientNetWeights {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EfficientNetWeights")
            .field("variant", &self.variant)
            .field("family", &self.family)
            .field("identity", &self.identity)
            .finish()
    }
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

impl EfficientNetWeights {
    /// Reads and checks a safetensors weights file (once: the network and any
    /// trainable top are built from what is read here).
    pub fn open(path: &Path, options: &WeightsOptions) -> Result<Self, ModelError> {
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
        Ok(EfficientNetWeights {
            variant,
            family: Some(family),
            padding,
            bn_eps,
            identity: file.identity(options.source.as_deref()),
            settings: NetworkSettings {
                family,
                padding,
                bn_eps,
            },
            tensors: Tensors::File(file),
        })
    }

    /// Seeded random weights (for benchmarks and tests): the same seed gives the
    /// same network.
    pub fn random(variant: Variant, seed: u64) -> EfficientNetWeights {
        let family = Family::Timm;
        let source_name = format!("random:{variant}:seed={seed}");
        EfficientNetWeights {
            variant,
            family: None,
            padding: Padding::Symmetric,
            bn_eps: 1e-5,
            identity: WeightsIdentity {
                blake3: blake3::hash(source_name.as_bytes()).to_hex().to_string(),
                source: source_name,
            },
            settings: NetworkSettings {
                family,
                padding: Padding::Symmetric,
                bn_eps: 1e-5,
            },
            tensors: Tensors::Random(RandomSource::new(&variant.architecture(), family, seed)),
        }
    }

    /// The file's `__metadata__` (empty for random weights).
    pub fn metadata(&self) -> HashMap<String, String> {
        match &self.tensors {
            Tensors::File(file) => file.metadata().clone(),
            Tensors::Random(_) => HashMap::new(),
        }
    }

    /// The file's size in bytes (`None` for random weights).
    pub fn file_bytes(&self) -> Option<u64> {
        match &self.tensors {
            Tensors::File(file) => Some(file.len() as u64),
            Tensors::Random(_) => None,
        }
    }

    fn source(&self) -> Box<dyn TensorSource + '_> {
        match &self.tensors {
            Tensors::File(file) => Box::new(file.source()),
            Tensors::Random(random) => Box::new(random),
        }
    }

    /// The frozen network, placed; with a tune file's top swapped in (and the
    /// tensor at its cut rounded to float16, as its training data was) when given.
    pub fn build(
        &self,
        placement: Placement,
        tune: Option<(&TuneFile, &str)>,
    ) -> Result<EfficientNet, ModelError> {
        let arch = self.variant.architecture();
        configure_libtorch(&placement);
        let base = self.source();
        let (network, tuned_layer) = match tune {
            None => (
                Network::build(&arch, base.as_ref(), self.settings, placement)?,
                None,
            ),
            Some((tune, tune_blake3)) => {
                if tune.variant != self.variant.name()
                    || tune.weights.blake3 != self.identity.blake3
                {
                    return Err(ModelError::Tune(format!(
                        "tuned on {} ({}), this backbone is {} ({})",
                        tune.variant, tune.weights.blake3, self.variant, self.identity.blake3
                    )));
                }
                let overlay = Overlay {
                    tune,
                    base: base.as_ref(),
                };
                let mut network = Network::build(&arch, &overlay, self.settings, placement)?;
                network.round_before_block(tune.cut.first_block);
                (network, Some(tuned_feature_layer(&tune.cut, tune_blake3)))
            }
        };
        Ok(EfficientNet {
            id: ModelId::native(self.variant),
            variant: self.variant,
            padding: self.padding,
            weights: self.identity.clone(),
            placement,
            network,
            parameters: self.parameter_count(),
            activation_cut: None,
            tuned_layer,
        })
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

    pub fn feature_dim(&self) -> usize {
        self.variant.architecture().feature_dim() as usize
    }

    /// The trainable top after `cut` with a fresh classifier of `outputs` logits.
    pub fn top(
        &self,
        cut: CutPoint,
        outputs: usize,
        seed: u64,
        device: Device,
    ) -> Result<TunableTop, ModelError> {
        TunableTop::build(
            &self.variant.architecture(),
            self.source().as_ref(),
            self.settings,
            cut,
            outputs,
            seed,
            device,
        )
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
}

/// A frozen EfficientNet ready to turn normalised images into pooled features.
pub struct EfficientNet {
    id: ModelId,
    pub variant: Variant,
    pub padding: Padding,
    pub weights: WeightsIdentity,
    pub placement: Placement,
    network: Network,
    parameters: u64,
    /// Emit the tensor entering this cut's first block beside the features.
    activation_cut: Option<CutPoint>,
    /// Set when fine-tuned top tensors are swapped in: the feature layer's name.
    tuned_layer: Option<String>,
}

impl EfficientNet {
    /// From now on [`FeatureNet::features_and_activation`] also returns the
    /// tensor entering the cut's first block.
    pub fn set_activation_cut(&mut self, cut: Option<CutPoint>) {
        self.activation_cut = cut;
    }

    /// The tensor entering `cut`'s first block, float32 on the network's device
    /// (unrounded: for parity checks).
    pub fn activation(&self, images: &Tensor, cut: &CutPoint) -> Result<Tensor, ModelError> {
        let pass = self.network.forward_parts(images, Some(cut.first_block))?;
        let activation = pass.activation.ok_or(ModelError::BadCut {
            variant: self.variant,
            requested: cut.top_blocks,
            blocks: cut.total_blocks,
        })?;
        Ok(activation.f_to_kind(Kind::Float)?)
    }
}

impl FeatureNet for EfficientNet {
    fn id(&self) -> &ModelId {
        &self.id
    }

    fn feature_dim(&self) -> usize {
        self.variant.architecture().feature_dim() as usize
    }

    fn feature_layer(&self) -> String {
        self.tuned_layer
            .clone()
            .unwrap_or_else(|| FEATURE_LAYER.to_string())
    }

    fn weights(&self) -> &WeightsIdentity {
        &self.weights
    }

    fn parameter_count(&self) -> u64 {
        self.parameters
    }

    fn placement(&self) -> Placement {
        self.placement
    }

    fn features(&self, images: &Tensor) -> Result<Tensor, ModelError> {
        Ok(self.network.forward(images)?.f_to_device(Device::Cpu)?)
    }

    fn features_and_activation(
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

    fn activation_cut(&self) -> Option<CutPoint> {
        self.activation_cut
    }

    fn as_efficientnet_mut(&mut self) -> Option<&mut EfficientNet> {
        Some(self)
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
