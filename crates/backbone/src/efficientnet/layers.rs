//! The network's building blocks, with batch-norm already folded into each
//! convolution's weight and bias (the backbone is frozen, so the running
//! statistics are constants).

use tch::{Kind, Tensor};

use super::arch::Activation;
use super::padding::{same_padding, Padding};
use crate::device::Placement;

/// Parameters of a frozen batch-norm, f64.
pub struct BatchNorm {
    pub weight: Tensor,
    pub bias: Tensor,
    pub running_mean: Tensor,
    pub running_var: Tensor,
    pub eps: f64,
}

/// `bn(conv(x))` as one convolution: `w' = w * s`, `b' = beta - mean * s`, with
/// `s = gamma / sqrt(var + eps)` per output channel.
pub fn fold_batch_norm(weight: &Tensor, bn: &BatchNorm) -> Result<(Tensor, Tensor), tch::TchError> {
    let scale = bn
        .weight
        .f_div(&(bn.running_var.f_add_scalar(bn.eps)?.f_sqrt()?))?;
    let folded_weight = weight.f_mul(&scale.f_reshape([-1, 1, 1, 1])?)?;
    let folded_bias = bn.bias.f_sub(&bn.running_mean.f_mul(&scale)?)?;
    Ok((folded_weight, folded_bias))
}

/// A convolution with its bias, optionally followed by an activation.
pub struct Conv {
    weight: Tensor,
    bias: Tensor,
    stride: i64,
    groups: i64,
    padding: Padding,
    activation: Option<Activation>,
}

pub struct ConvParams {
    pub weight: Tensor,
    pub bias: Tensor,
    pub stride: i64,
    pub groups: i64,
    pub padding: Padding,
    pub activation: Option<Activation>,
}

impl Conv {
    pub fn new(params: ConvParams, placement: &Placement) -> Result<Conv, tch::TchError> {
        Ok(Conv {
            weight: placement.place(&params.weight)?,
            bias: params
                .bias
                .f_to_kind(placement.kind())?
                .f_to_device(placement.device)?,
            stride: params.stride,
            groups: params.groups,
            padding: params.padding,
            activation: params.activation,
        })
    }

    pub fn forward(&self, input: &Tensor) -> Result<Tensor, tch::TchError> {
        let mut output = convolve(
            input,
            &self.weight,
            Some(&self.bias),
            self.stride,
            self.groups,
            self.padding,
        )?;
        match self.activation {
            Some(Activation::Silu) => {
                let _ = output.f_silu_()?;
            }
            Some(Activation::Relu6) => {
                let _ = output.f_relu6_()?;
            }
            None => {}
        }
        Ok(output)
    }
}

/// A 2-D convolution with the network's padding rule (`weight` is
/// `[out, in / groups, k, k]`), differentiable, as both the frozen network and
/// the trainable top ([`super::top`]) run it.
pub fn convolve(
    input: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
    stride: i64,
    groups: i64,
    padding: Padding,
) -> Result<Tensor, tch::TchError> {
    let kernel = weight.size()[2];
    // `_convolution` is what `conv2d` dispatches to, with cuDNN's flags given
    // here: fp32 stays fp32 on a GPU (libtorch's default lets cuDNN round fp32
    // convolutions to TF32, a 10-bit mantissa, about 1e-3 relative error);
    // `--precision bf16` is the fast path. Autotuning stays on, as set for CUDA.
    let conv = |x: &Tensor, pad: [i64; 2]| {
        x.f_internal_convolution(
            weight,
            bias,
            [stride, stride],
            pad,
            [1, 1],
            false,
            [0, 0],
            groups,
            true,
            false,
            true,
            false,
        )
    };
    match padding {
        Padding::Symmetric => {
            let pad = (kernel - 1) / 2;
            conv(input, [pad, pad])
        }
        Padding::Same => {
            let size = input.size();
            let (top, bottom) = same_padding(size[2], kernel, stride);
            let (left, right) = same_padding(size[3], kernel, stride);
            if top == bottom && left == right {
                conv(input, [top, left])
            } else {
                conv(
                    &input.f_constant_pad_nd([left, right, top, bottom])?,
                    [0, 0],
                )
            }
        }
    }
}

/// `x * sigmoid(expand(act(reduce(mean(x)))))`.
pub struct SqueezeExcite {
    pub reduce: Conv,
    pub expand: Conv,
}

impl SqueezeExcite {
    pub fn forward(&self, input: &Tensor) -> Result<Tensor, tch::TchError> {
        let pooled = input.f_mean_dim([2i64, 3].as_slice(), true, None::<Kind>)?;
        let mut gate = self.expand.forward(&self.reduce.forward(&pooled)?)?;
        let _ = gate.f_sigmoid_()?;
        input.f_mul(&gate)
    }
}

/// One MBConv / depthwise-separable block.
pub struct Block {
    pub expand: Option<Conv>,
    pub depthwise: Conv,
    pub se: Option<SqueezeExcite>,
    pub project: Conv,
    pub residual: bool,
}

impl Block {
    pub fn forward(&self, input: &Tensor) -> Result<Tensor, tch::TchError> {
        let expanded = match &self.expand {
            Some(expand) => expand.forward(input)?,
            None => input.shallow_clone(),
        };
        let mut hidden = self.depthwise.forward(&expanded)?;
        if let Some(se) = &self.se {
            hidden = se.forward(&hidden)?;
        }
        let mut output = self.project.forward(&hidden)?;
        if self.residual {
            let _ = output.f_add_(input)?;
        }
        Ok(output)
    }
}
