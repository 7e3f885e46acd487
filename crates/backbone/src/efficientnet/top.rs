//! The top of a backbone as trainable tensors: its last N blocks, the head
//! convolution and a linear classifier, over the activation that enters those
//! blocks. `tune-train` fine-tunes it over cached activations; the frozen
//! [`super::network::Network`] with its tensors swapped in is the same function.
//!
//! Batch norm stays unfolded here (a trainable scale and shift over running
//! statistics that are frozen unless asked to update), as PyTorch fine-tunes it.

use contract::activations::CutPoint;
use tch::{Device, Kind, Tensor};

use super::arch::{Activation, Architecture, BlockConfig, Variant};
use super::layers::convolve;
use super::naming::{ConvBnNames, Family};
use super::network::NetworkSettings;
use super::padding::Padding;
use super::weights::TensorSource;
use crate::error::ModelError;

/// PyTorch's default running-statistics momentum, used with `update_batch_norm`.
const BATCH_NORM_MOMENTUM: f64 = 0.1;

/// How many blocks to tune: `--tune-top N` or `--tune-top stage` (the last stage's).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TopBlocks {
    LastStage,
    Blocks(usize),
}

impl TopBlocks {
    pub fn count(self) -> Option<usize> {
        match self {
            TopBlocks::LastStage => None,
            TopBlocks::Blocks(n) => Some(n),
        }
    }
}

impl std::str::FromStr for TopBlocks {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "stage" => Ok(TopBlocks::LastStage),
            number => match number.parse::<usize>() {
                Ok(n) if n >= 1 => Ok(TopBlocks::Blocks(n)),
                _ => Err(format!(
                    "{text:?}: expected a number of blocks (1 or more) or `stage` (the last stage's blocks)"
                )),
            },
        }
    }
}

/// The cut that leaves the last `top_blocks` blocks (`None`: the last stage's)
/// of `variant` to tune, at `input_size` pixels.
pub fn cut_point(
    variant: Variant,
    top_blocks: Option<usize>,
    input_size: u32,
    padding: Padding,
) -> Result<CutPoint, ModelError> {
    let arch = variant.architecture();
    let total = arch.blocks.len();
    let last_stage = arch.blocks.last().map_or(0, |b| b.stage);
    let stage_blocks = arch.blocks.iter().filter(|b| b.stage == last_stage).count();
    let top = top_blocks.unwrap_or(stage_blocks);
    if top == 0 || top > total {
        return Err(ModelError::BadCut {
            variant,
            requested: top,
            blocks: total,
        });
    }
    let first = total - top;
    let out = |size: i64, kernel: i64, stride: i64| match padding {
        Padding::Symmetric => (size + 2 * ((kernel - 1) / 2) - kernel) / stride + 1,
        Padding::Same => (size + stride - 1) / stride,
    };
    // The stem is a 3×3 stride-2 convolution; each block strides in its depthwise conv.
    let mut size = out(i64::from(input_size), 3, 2);
    for block in &arch.blocks[..first] {
        size = out(size, block.kernel, block.stride);
    }
    Ok(CutPoint {
        top_blocks: top,
        first_block: first,
        total_blocks: total,
        shape: [
            arch.blocks[first].in_channels as usize,
            size as usize,
            size as usize,
        ],
        last_stage: top == stage_blocks,
    })
}

struct BatchNorm {
    name: String,
    weight: Tensor,
    bias: Tensor,
    running_mean: Tensor,
    running_var: Tensor,
}

/// A convolution, then batch norm or a bias, then the activation.
struct Layer {
    /// `<conv>.weight` / `.bias`, as the weights file names it.
    conv_name: String,
    weight: Tensor,
    bias: Option<Tensor>,
    batch_norm: Option<BatchNorm>,
    stride: i64,
    groups: i64,
    activation: Option<Activation>,
}

struct TopBlock {
    expand: Option<Layer>,
    depthwise: Layer,
    se: Option<(Layer, Layer)>,
    project: Layer,
    residual: bool,
}

/// The tunable top (see the module docs).
pub struct TunableTop {
    blocks: Vec<TopBlock>,
    head: Layer,
    classifier_weight: Tensor,
    classifier_bias: Tensor,
    padding: Padding,
    bn_eps: f64,
    pub cut: CutPoint,
    pub update_batch_norm: bool,
}

struct Loader<'a> {
    source: &'a dyn TensorSource,
    device: Device,
}

impl Loader<'_> {
    fn tensor(&self, name: &str, trainable: bool) -> Result<Tensor, ModelError> {
        let tensor = self
            .source
            .tensor_f64(name)?
            .f_to_kind(Kind::Float)?
            .f_to_device(self.device)?
            .f_detach()?;
        Ok(if trainable {
            tensor.set_requires_grad(true)
        } else {
            tensor
        })
    }

    fn conv_bn(
        &self,
        names: &ConvBnNames,
        stride: i64,
        groups: i64,
        activation: Option<Activation>,
    ) -> Result<Layer, ModelError> {
        let bn = |suffix: &str, trainable: bool| {
            self.tensor(&format!("{}.{suffix}", names.bn), trainable)
        };
        Ok(Layer {
            conv_name: names.conv.clone(),
            weight: self.tensor(&format!("{}.weight", names.conv), true)?,
            bias: None,
            batch_norm: Some(BatchNorm {
                name: names.bn.clone(),
                weight: bn("weight", true)?,
                bias: bn("bias", true)?,
                running_mean: bn("running_mean", false)?,
                running_var: bn("running_var", false)?,
            }),
            stride,
            groups,
            activation,
        })
    }

    fn conv_with_bias(
        &self,
        prefix: &str,
        activation: Option<Activation>,
    ) -> Result<Layer, ModelError> {
        Ok(Layer {
            conv_name: prefix.to_string(),
            weight: self.tensor(&format!("{prefix}.weight"), true)?,
            bias: Some(self.tensor(&format!("{prefix}.bias"), true)?),
            batch_norm: None,
            stride: 1,
            groups: 1,
            activation,
        })
    }

    fn block(
        &self,
        family: Family,
        config: &BlockConfig,
        act: Activation,
    ) -> Result<TopBlock, ModelError> {
        let names = family.block(config);
        Ok(TopBlock {
            expand: match &names.expand {
                Some(expand) => Some(self.conv_bn(expand, 1, 1, Some(act))?),
                None => None,
            },
            depthwise: self.conv_bn(
                &names.depthwise,
                config.stride,
                config.mid_channels,
                Some(act),
            )?,
            se: match &names.se {
                Some(se) => Some((
                    self.conv_with_bias(&se.reduce, Some(act))?,
                    self.conv_with_bias(&se.expand, None)?,
                )),
                None => None,
            },
            project: self.conv_bn(&names.project, 1, 1, None)?,
            residual: config.has_residual(),
        })
    }
}

impl TunableTop {
    /// The top after `cut` of `arch`, from `source`'s tensors, with a classifier of
    /// `outputs` logits initialised as PyTorch's `nn.Linear` is (seeded).
    pub fn build(
        arch: &Architecture,
        source: &dyn TensorSource,
        settings: NetworkSettings,
        cut: CutPoint,
        outputs: usize,
        seed: u64,
        device: Device,
    ) -> Result<TunableTop, ModelError> {
        let loader = Loader { source, device };
        let act = arch.activation;
        let blocks = arch.blocks[cut.first_block..]
            .iter()
            .map(|config| loader.block(settings.family, config, act))
            .collect::<Result<Vec<_>, _>>()?;
        let head = loader.conv_bn(
            &settings.family.head(arch.stage_repeats().len()),
            1,
            1,
            Some(act),
        )?;
        tch::manual_seed(seed as i64);
        let fan_in = arch.head_channels;
        let bound = 1.0 / (fan_in as f64).sqrt();
        let uniform = |shape: &[i64]| -> Result<Tensor, ModelError> {
            Ok(Tensor::f_rand(shape, (Kind::Float, Device::Cpu))?
                .f_mul_scalar(2.0 * bound)?
                .f_sub_scalar(bound)?
                .f_to_device(device)?
                .set_requires_grad(true))
        };
        let classifier_weight = uniform(&[outputs as i64, fan_in])?;
        let classifier_bias = uniform(&[outputs as i64])?;
        Ok(TunableTop {
            blocks,
            head,
            classifier_weight,
            classifier_bias,
            padding: settings.padding,
            bn_eps: settings.bn_eps,
            cut,
            update_batch_norm: false,
        })
    }

    fn layer(&self, layer: &Layer, x: &Tensor, train: bool) -> Result<Tensor, ModelError> {
        let mut y = convolve(
            x,
            &layer.weight,
            layer.bias.as_ref(),
            layer.stride,
            layer.groups,
            self.padding,
        )?;
        if let Some(bn) = &layer.batch_norm {
            y = y.f_batch_norm(
                Some(&bn.weight),
                Some(&bn.bias),
                Some(&bn.running_mean),
                Some(&bn.running_var),
                train && self.update_batch_norm,
                BATCH_NORM_MOMENTUM,
                self.bn_eps,
                true,
            )?;
        }
        Ok(match layer.activation {
            Some(Activation::Silu) => y.f_silu()?,
            Some(Activation::Relu6) => y.f_relu6()?,
            None => y,
        })
    }

    /// Pooled features `[batch, head_channels]` of activations `[batch, C, H, W]`
    /// (float32, on the top's device). `train`: running statistics update when
    /// `update_batch_norm` is set.
    pub fn features(&self, activation: &Tensor, train: bool) -> Result<Tensor, ModelError> {
        let mut x = activation.shallow_clone();
        for block in &self.blocks {
            let input = x.shallow_clone();
            let mut h = match &block.expand {
                Some(expand) => self.layer(expand, &x, train)?,
                None => x,
            };
            h = self.layer(&block.depthwise, &h, train)?;
            if let Some((reduce, expand)) = &block.se {
                let pooled = h.f_mean_dim([2i64, 3].as_slice(), true, None::<Kind>)?;
                let gate = self
                    .layer(expand, &self.layer(reduce, &pooled, train)?, train)?
                    .f_sigmoid()?;
                h = h.f_mul(&gate)?;
            }
            x = self.layer(&block.project, &h, train)?;
            if block.residual {
                x = x.f_add(&input)?;
            }
        }
        let x = self.layer(&self.head, &x, train)?;
        Ok(x.f_mean_dim([2i64, 3].as_slice(), false, Kind::Float)?)
    }

    /// Logits `[batch, outputs]`.
    pub fn logits(&self, activation: &Tensor, train: bool) -> Result<Tensor, ModelError> {
        let features = self.features(activation, train)?;
        Ok(features.f_linear(&self.classifier_weight, Some(&self.classifier_bias))?)
    }

    fn layers(&self) -> Vec<&Layer> {
        let mut layers = Vec::new();
        for block in &self.blocks {
            layers.extend(block.expand.as_ref());
            layers.push(&block.depthwise);
            if let Some((reduce, expand)) = &block.se {
                layers.push(reduce);
                layers.push(expand);
            }
            layers.push(&block.project);
        }
        layers.push(&self.head);
        layers
    }

    /// Every trainable tensor, in a fixed order (the optimiser's state follows it).
    pub fn parameters(&self) -> Vec<Tensor> {
        let mut parameters = Vec::new();
        for layer in self.layers() {
            parameters.push(layer.weight.shallow_clone());
            parameters.extend(layer.bias.as_ref().map(Tensor::shallow_clone));
            if let Some(bn) = &layer.batch_norm {
                parameters.push(bn.weight.shallow_clone());
                parameters.push(bn.bias.shallow_clone());
            }
        }
        parameters.push(self.classifier_weight.shallow_clone());
        parameters.push(self.classifier_bias.shallow_clone());
        parameters
    }

    /// The blocks' and head convolution's tensors under the weights file's names
    /// (running statistics included), as the tune file stores them.
    pub fn named_tensors(&self) -> Vec<(String, Tensor)> {
        let mut named = Vec::new();
        for layer in self.layers() {
            named.push((
                format!("{}.weight", layer.conv_name),
                layer.weight.shallow_clone(),
            ));
            if let Some(bias) = &layer.bias {
                named.push((format!("{}.bias", layer.conv_name), bias.shallow_clone()));
            }
            if let Some(bn) = &layer.batch_norm {
                for (suffix, tensor) in [
                    ("weight", &bn.weight),
                    ("bias", &bn.bias),
                    ("running_mean", &bn.running_mean),
                    ("running_var", &bn.running_var),
                ] {
                    named.push((format!("{}.{suffix}", bn.name), tensor.shallow_clone()));
                }
            }
        }
        named
    }

    /// Every tensor training changes (parameters, then running statistics), in a
    /// fixed order: a snapshot to [`TunableTop::restore`] (early stopping).
    pub fn snapshot(&self) -> Result<Vec<Tensor>, ModelError> {
        let copies = tch::no_grad(|| {
            self.snapshot_targets()
                .iter()
                .map(|t| -> Result<Tensor, tch::TchError> {
                    let mut copy = t.f_zeros_like()?;
                    copy.f_copy_(t)?;
                    Ok(copy)
                })
                .collect::<Result<Vec<_>, _>>()
        })?;
        Ok(copies)
    }

    pub fn restore(&mut self, snapshot: &[Tensor]) -> Result<(), ModelError> {
        let current = self.snapshot_targets();
        tch::no_grad(|| -> Result<(), tch::TchError> {
            for (mut target, saved) in current.into_iter().zip(snapshot) {
                target.f_copy_(saved)?;
            }
            Ok(())
        })?;
        Ok(())
    }

    fn snapshot_targets(&self) -> Vec<Tensor> {
        let mut state = self.parameters();
        for layer in self.layers() {
            if let Some(bn) = &layer.batch_norm {
                state.push(bn.running_mean.shallow_clone());
                state.push(bn.running_var.shallow_clone());
            }
        }
        state
    }

    /// Trainable values (the classifier's included).
    pub fn parameter_count(&self) -> u64 {
        self.parameters().iter().map(|p| p.numel() as u64).sum()
    }

    /// `(weight [outputs, head_channels], bias [outputs])`.
    pub fn classifier(&self) -> (&Tensor, &Tensor) {
        (&self.classifier_weight, &self.classifier_bias)
    }
}
