//! A scaled architecture instantiated from named tensors: stem, blocks, head,
//! global average pool.

use tch::{Kind, Tensor};

use super::arch::{Activation, Architecture};
use super::layers::{fold_batch_norm, BatchNorm, Block, Conv, ConvParams, SqueezeExcite};
use super::naming::{ConvBnNames, Family, SeNames};
use super::padding::Padding;
use super::weights::TensorSource;
use crate::device::Placement;
use crate::error::ModelError;

/// Numerical settings that the tensor names do not carry.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NetworkSettings {
    pub family: Family,
    pub padding: Padding,
    pub bn_eps: f64,
}

pub struct Network {
    stem: Conv,
    blocks: Vec<Block>,
    head: Conv,
    placement: Placement,
    /// A tuned network rounds the tensor entering this block to float16, as the
    /// activation cache its top was trained on stored it.
    round_at: Option<usize>,
}

/// One forward pass: the pooled features and, when asked for, the tensor that
/// entered a given block.
pub struct Pass {
    pub features: Tensor,
    pub activation: Option<Tensor>,
}

struct Builder<'a> {
    source: &'a dyn TensorSource,
    settings: NetworkSettings,
    placement: Placement,
}

impl Builder<'_> {
    fn conv_bn(
        &self,
        names: &ConvBnNames,
        stride: i64,
        groups: i64,
        activation: Option<Activation>,
    ) -> Result<Conv, ModelError> {
        let get = |suffix: &str| self.source.tensor_f64(&format!("{}.{suffix}", names.bn));
        let bn = BatchNorm {
            weight: get("weight")?,
            bias: get("bias")?,
            running_mean: get("running_mean")?,
            running_var: get("running_var")?,
            eps: self.settings.bn_eps,
        };
        let weight = self.source.tensor_f64(&format!("{}.weight", names.conv))?;
        let (weight, bias) = fold_batch_norm(&weight, &bn)?;
        Ok(Conv::new(
            ConvParams {
                weight,
                bias,
                stride,
                groups,
                padding: self.settings.padding,
                activation,
            },
            &self.placement,
        )?)
    }

    fn conv_with_bias(
        &self,
        prefix: &str,
        activation: Option<Activation>,
    ) -> Result<Conv, ModelError> {
        Ok(Conv::new(
            ConvParams {
                weight: self.source.tensor_f64(&format!("{prefix}.weight"))?,
                bias: self.source.tensor_f64(&format!("{prefix}.bias"))?,
                stride: 1,
                groups: 1,
                padding: self.settings.padding,
                activation,
            },
            &self.placement,
        )?)
    }

    fn squeeze_excite(
        &self,
        names: &SeNames,
        activation: Activation,
    ) -> Result<SqueezeExcite, ModelError> {
        Ok(SqueezeExcite {
            reduce: self.conv_with_bias(&names.reduce, Some(activation))?,
            expand: self.conv_with_bias(&names.expand, None)?,
        })
    }
}

impl Network {
    /// Builds `arch` from `source`'s tensors (already checked to be complete).
    pub fn build(
        arch: &Architecture,
        source: &dyn TensorSource,
        settings: NetworkSettings,
        placement: Placement,
    ) -> Result<Network, ModelError> {
        let builder = Builder {
            source,
            settings,
            placement,
        };
        let family = settings.family;
        let act = Some(arch.activation);
        let stem = builder.conv_bn(&family.stem(), 2, 1, act)?;
        let mut blocks = Vec::with_capacity(arch.blocks.len());
        for config in &arch.blocks {
            let names = family.block(config);
            let expand = match &names.expand {
                Some(expand) => Some(builder.conv_bn(expand, 1, 1, act)?),
                None => None,
            };
            let depthwise =
                builder.conv_bn(&names.depthwise, config.stride, config.mid_channels, act)?;
            let se = match &names.se {
                Some(se) => Some(builder.squeeze_excite(se, arch.activation)?),
                None => None,
            };
            let project = builder.conv_bn(&names.project, 1, 1, None)?;
            blocks.push(Block {
                expand,
                depthwise,
                se,
                project,
                residual: config.has_residual(),
            });
        }
        let head = builder.conv_bn(&family.head(arch.stage_repeats().len()), 1, 1, act)?;
        Ok(Network {
            stem,
            blocks,
            head,
            placement,
            round_at: None,
        })
    }

    /// Rounds the tensor entering block `block` to float16 in every pass.
    pub fn round_before_block(&mut self, block: usize) {
        self.round_at = Some(block);
    }

    /// Pooled features `[batch, head_channels]` (fp32, on the network's device) of
    /// normalised images `[batch, 3, height, width]` (any float type, any device).
    pub fn forward(&self, images: &Tensor) -> Result<Tensor, ModelError> {
        Ok(self.forward_parts(images, None)?.features)
    }

    /// As [`Network::forward`], also returning the tensor entering block
    /// `activation_at` (in the network's type, on its device) when asked.
    pub fn forward_parts(
        &self,
        images: &Tensor,
        activation_at: Option<usize>,
    ) -> Result<Pass, ModelError> {
        let size = images.size();
        if size.len() != 4 || size[1] != 3 {
            return Err(ModelError::BadInput(size));
        }
        tch::no_grad(|| {
            let mut x = self.stem.forward(&self.placement.place(images)?)?;
            let mut activation = None;
            for (index, block) in self.blocks.iter().enumerate() {
                if self.round_at == Some(index) {
                    x = x.f_to_kind(Kind::Half)?.f_to_kind(self.placement.kind())?;
                }
                if activation_at == Some(index) {
                    activation = Some(x.shallow_clone());
                }
                x = block.forward(&x)?;
            }
            let x = self.head.forward(&x)?;
            Ok(Pass {
                features: x.f_mean_dim([2i64, 3].as_slice(), false, Kind::Float)?,
                activation,
            })
        })
    }
}
