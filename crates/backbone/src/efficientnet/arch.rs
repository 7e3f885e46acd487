//! The EfficientNet architecture as data: one stage table and the compound-scaling
//! rules that turn it into every variant's concrete block list.
//!
//! The table is the paper's Table 1 as torchvision (`_efficientnet_conf`) and timm
//! (`_gen_efficientnet`'s `arch_def`) both write it. A recipe also names its stem and
//! head widths, activation and repeat-scaling rule, so the Lite family (no
//! squeeze-excite, ReLU6, fixed stem and head, first and last stage not repeated)
//! is one more recipe, not new code.

use std::fmt;
use std::str::FromStr;

/// How a block transforms its input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockKind {
    /// Depthwise conv, squeeze-excite, pointwise projection (timm `ds`, expand ratio 1).
    DepthwiseSeparable,
    /// Pointwise expansion, depthwise conv, squeeze-excite, pointwise projection (timm `ir`).
    InvertedResidual,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    Silu,
    Relu6,
}

/// One row of the stage table, before scaling.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StageSpec {
    pub block: BlockKind,
    pub expand_ratio: i64,
    pub kernel: i64,
    /// Stride of the stage's first block; the others use 1.
    pub stride: i64,
    pub out_channels: i64,
    pub repeats: usize,
    /// Squeeze-excite width as a fraction of the block's input channels; `None`: no SE.
    pub se_ratio: Option<f64>,
}

const fn stage(
    block: BlockKind,
    expand_ratio: i64,
    kernel: i64,
    stride: i64,
    out_channels: i64,
    repeats: usize,
) -> StageSpec {
    StageSpec {
        block,
        expand_ratio,
        kernel,
        stride,
        out_channels,
        repeats,
        se_ratio: Some(0.25),
    }
}

use BlockKind::{DepthwiseSeparable as Ds, InvertedResidual as Ir};

/// EfficientNet-B0's stages (paper Table 1; timm `ds_r1_k3_s1_e1_c16_se0.25`, ...).
pub const EFFICIENTNET_STAGES: [StageSpec; 7] = [
    stage(Ds, 1, 3, 1, 16, 1),
    stage(Ir, 6, 3, 2, 24, 2),
    stage(Ir, 6, 5, 2, 40, 2),
    stage(Ir, 6, 3, 2, 80, 3),
    stage(Ir, 6, 5, 1, 112, 3),
    stage(Ir, 6, 5, 2, 192, 4),
    stage(Ir, 6, 3, 1, 320, 1),
];

/// EfficientNet-Lite's stages: B0's table without squeeze-excite (TensorFlow's
/// `efficientnet_lite_builder` drops SE because it does not quantise well).
pub const LITE_STAGES: [StageSpec; 7] = {
    let mut stages = EFFICIENTNET_STAGES;
    let mut i = 0;
    while i < stages.len() {
        stages[i].se_ratio = None;
        i += 1;
    }
    stages
};

/// A channel count that either follows the width multiplier or stays fixed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Width {
    Scaled(i64),
    Fixed(i64),
}

/// Which stages' repeat counts follow the depth multiplier.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RepeatScaling {
    AllStages,
    /// Lite: the first and last stage keep their base repeat count.
    FixedFirstAndLast,
}

/// A family of networks sharing one stage table.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Recipe {
    pub stages: &'static [StageSpec],
    pub stem: Width,
    pub head: Width,
    pub activation: Activation,
    pub repeat_scaling: RepeatScaling,
}

pub const EFFICIENTNET: Recipe = Recipe {
    stages: &EFFICIENTNET_STAGES,
    stem: Width::Scaled(32),
    head: Width::Scaled(1280),
    activation: Activation::Silu,
    repeat_scaling: RepeatScaling::AllStages,
};

/// Lite keeps the stem and head at B0's widths and the first and last stage at one
/// block, so that every Lite variant stays cheap at its ends (efficientnet_lite_builder).
pub const EFFICIENTNET_LITE: Recipe = Recipe {
    stages: &LITE_STAGES,
    stem: Width::Fixed(32),
    head: Width::Fixed(1280),
    activation: Activation::Relu6,
    repeat_scaling: RepeatScaling::FixedFirstAndLast,
};

/// Compound-scaling coefficients (paper section 3.3; timm's `_gen_efficientnet` docstring).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scaling {
    pub width: f64,
    pub depth: f64,
    /// The input size the variant was trained at.
    pub resolution: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Variant {
    B0,
    B1,
    B2,
    B3,
    B4,
    B5,
    B6,
    B7,
    Lite0,
    Lite1,
    Lite2,
    Lite3,
    Lite4,
}

impl Variant {
    /// The EfficientNet B series: what `all` means on the command line.
    pub const EFFICIENTNET: [Variant; 8] = [
        Variant::B0,
        Variant::B1,
        Variant::B2,
        Variant::B3,
        Variant::B4,
        Variant::B5,
        Variant::B6,
        Variant::B7,
    ];

    pub const LITE: [Variant; 5] = [
        Variant::Lite0,
        Variant::Lite1,
        Variant::Lite2,
        Variant::Lite3,
        Variant::Lite4,
    ];

    /// Every variant: the B series, then Lite.
    pub const ALL: [Variant; 13] = {
        let mut all = [Variant::B0; 13];
        let mut i = 0;
        while i < all.len() {
            all[i] = if i < Variant::EFFICIENTNET.len() {
                Variant::EFFICIENTNET[i]
            } else {
                Variant::LITE[i - Variant::EFFICIENTNET.len()]
            };
            i += 1;
        }
        all
    };

    pub fn name(self) -> &'static str {
        match self {
            Variant::B0 => "b0",
            Variant::B1 => "b1",
            Variant::B2 => "b2",
            Variant::B3 => "b3",
            Variant::B4 => "b4",
            Variant::B5 => "b5",
            Variant::B6 => "b6",
            Variant::B7 => "b7",
            Variant::Lite0 => "lite0",
            Variant::Lite1 => "lite1",
            Variant::Lite2 => "lite2",
            Variant::Lite3 => "lite3",
            Variant::Lite4 => "lite4",
        }
    }

    pub fn is_lite(self) -> bool {
        Variant::LITE.contains(&self)
    }

    pub fn recipe(self) -> Recipe {
        if self.is_lite() {
            EFFICIENTNET_LITE
        } else {
            EFFICIENTNET
        }
    }

    pub fn scaling(self) -> Scaling {
        let (width, depth, resolution) = match self {
            Variant::B0 => (1.0, 1.0, 224),
            Variant::B1 => (1.0, 1.1, 240),
            Variant::B2 => (1.1, 1.2, 260),
            Variant::B3 => (1.2, 1.4, 300),
            Variant::B4 => (1.4, 1.8, 380),
            Variant::B5 => (1.6, 2.2, 456),
            Variant::B6 => (1.8, 2.6, 528),
            Variant::B7 => (2.0, 3.1, 600),
            // efficientnet_lite_builder.efficientnet_lite_params
            Variant::Lite0 => (1.0, 1.0, 224),
            Variant::Lite1 => (1.0, 1.1, 240),
            Variant::Lite2 => (1.1, 1.2, 260),
            Variant::Lite3 => (1.2, 1.4, 280),
            Variant::Lite4 => (1.4, 1.8, 300),
        };
        Scaling {
            width,
            depth,
            resolution,
        }
    }

    /// torchvision builds B5..B7 with `BatchNorm2d(eps=0.001)` and B0..B4 with the
    /// default 1e-5 (`efficientnet_b5`'s `norm_layer`).
    pub fn torchvision_bn_eps(self) -> f64 {
        match self {
            Variant::B5 | Variant::B6 | Variant::B7 => 1e-3,
            _ => 1e-5,
        }
    }

    pub fn architecture(self) -> Architecture {
        Architecture::scale(self.recipe(), self.scaling())
    }
}

impl fmt::Display for Variant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown variant {0:?}: expected one of b0..b7, lite0..lite4")]
pub struct UnknownVariant(pub String);

impl Variant {
    /// A comma-separated list of names, ranges (`b0..b3`, `lite0..lite2`) and the
    /// groups `all` (B0..B7) and `lite` (Lite0..Lite4), duplicates dropped, order kept.
    pub fn parse_list(text: &str) -> Result<Vec<Variant>, UnknownVariant> {
        let mut variants = Vec::new();
        for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match item.to_ascii_lowercase().as_str() {
                "all" => variants.extend(Variant::EFFICIENTNET),
                "lite" => variants.extend(Variant::LITE),
                _ => match item.split_once("..") {
                    Some((first, last)) => {
                        let (first, last) = (first.parse::<Variant>()?, last.parse::<Variant>()?);
                        if first.is_lite() != last.is_lite() || first > last {
                            return Err(UnknownVariant(item.to_string()));
                        }
                        variants.extend(
                            Variant::ALL
                                .into_iter()
                                .filter(|v| (first..=last).contains(v)),
                        );
                    }
                    None => variants.push(item.parse()?),
                },
            }
        }
        let mut seen = std::collections::HashSet::new();
        variants.retain(|v| seen.insert(*v));
        Ok(variants)
    }
}

impl FromStr for Variant {
    type Err = UnknownVariant;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let lower = text.trim().to_ascii_lowercase();
        let lower = lower.strip_prefix("tf_").unwrap_or(&lower);
        let short = lower
            .strip_prefix("efficientnet_")
            .or_else(|| lower.strip_prefix("efficientnet-"))
            .unwrap_or(lower);
        Variant::ALL
            .into_iter()
            .find(|v| v.name() == short)
            .ok_or_else(|| UnknownVariant(text.to_string()))
    }
}

/// Rounds `channels * multiplier` to the nearest multiple of `divisor`, never more
/// than 10% below the unrounded value (timm `make_divisible`, torchvision
/// `_make_divisible`: the same rule).
pub fn round_channels(channels: i64, multiplier: f64, divisor: i64) -> i64 {
    let value = channels as f64 * multiplier;
    let rounded = ((value + divisor as f64 / 2.0) as i64 / divisor * divisor).max(divisor);
    if (rounded as f64) < 0.9 * value {
        rounded + divisor
    } else {
        rounded
    }
}

/// Repeats rounded up (timm `round_repeats` with `depth_trunc='ceil'`,
/// torchvision `adjust_depth`).
pub fn round_repeats(repeats: usize, multiplier: f64) -> usize {
    (repeats as f64 * multiplier).ceil() as usize
}

/// One concrete block of a scaled network.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BlockConfig {
    /// Position in the whole network (efficientnet_lite_pytorch's `_blocks.N`).
    pub position: usize,
    pub stage: usize,
    /// Position within the stage.
    pub index: usize,
    pub kind: BlockKind,
    pub in_channels: i64,
    /// Channels of the depthwise conv (`in_channels` when there is no expansion).
    pub mid_channels: i64,
    pub out_channels: i64,
    pub kernel: i64,
    pub stride: i64,
    pub se_channels: Option<i64>,
}

impl BlockConfig {
    pub fn has_expansion(&self) -> bool {
        self.kind == BlockKind::InvertedResidual
    }

    pub fn has_residual(&self) -> bool {
        self.stride == 1 && self.in_channels == self.out_channels
    }
}

/// A variant's concrete layer widths and block list.
#[derive(Clone, Debug, PartialEq)]
pub struct Architecture {
    pub stem_channels: i64,
    pub blocks: Vec<BlockConfig>,
    pub head_channels: i64,
    pub activation: Activation,
}

const CHANNEL_DIVISOR: i64 = 8;

impl Architecture {
    pub fn scale(recipe: Recipe, scaling: Scaling) -> Architecture {
        let width = |w: Width| match w {
            Width::Scaled(base) => round_channels(base, scaling.width, CHANNEL_DIVISOR),
            Width::Fixed(channels) => channels,
        };
        let stem_channels = width(recipe.stem);
        let last_stage = recipe.stages.len().saturating_sub(1);
        let mut blocks = Vec::new();
        let mut in_channels = stem_channels;
        for (stage_index, spec) in recipe.stages.iter().enumerate() {
            let fixed = recipe.repeat_scaling == RepeatScaling::FixedFirstAndLast
                && (stage_index == 0 || stage_index == last_stage);
            let repeats = if fixed {
                spec.repeats
            } else {
                round_repeats(spec.repeats, scaling.depth)
            };
            let out_channels = round_channels(spec.out_channels, scaling.width, CHANNEL_DIVISOR);
            for index in 0..repeats {
                let mid_channels = match spec.block {
                    BlockKind::DepthwiseSeparable => in_channels,
                    BlockKind::InvertedResidual => {
                        round_channels(in_channels, spec.expand_ratio as f64, CHANNEL_DIVISOR)
                    }
                };
                blocks.push(BlockConfig {
                    position: blocks.len(),
                    stage: stage_index,
                    index,
                    kind: spec.block,
                    in_channels,
                    mid_channels,
                    out_channels,
                    kernel: spec.kernel,
                    stride: if index == 0 { spec.stride } else { 1 },
                    se_channels: spec
                        .se_ratio
                        .map(|ratio| ((in_channels as f64 * ratio) as i64).max(1)),
                });
                in_channels = out_channels;
            }
        }
        Architecture {
            stem_channels,
            blocks,
            head_channels: width(recipe.head),
            activation: recipe.activation,
        }
    }

    pub fn last_block_channels(&self) -> i64 {
        self.blocks
            .last()
            .map_or(self.stem_channels, |b| b.out_channels)
    }

    /// Blocks per stage, in stage order.
    pub fn stage_repeats(&self) -> Vec<usize> {
        let stages = self.blocks.iter().map(|b| b.stage + 1).max().unwrap_or(0);
        let mut counts = vec![0; stages];
        for block in &self.blocks {
            counts[block.stage] += 1;
        }
        counts
    }

    /// Width of the pooled feature vector.
    pub fn feature_dim(&self) -> i64 {
        self.head_channels
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Read from torchvision 0.26 (`features[1:-1]` lengths, `classifier[1].in_features`)
    /// and timm 1.0.31 (`blocks` lengths, `num_features`): both agree for every variant.
    /// `tests/arch_references.rs` re-checks this against the installed packages.
    const REFERENCE: [(Variant, i64, [usize; 7], i64); 8] = [
        (Variant::B0, 32, [1, 2, 2, 3, 3, 4, 1], 1280),
        (Variant::B1, 32, [2, 3, 3, 4, 4, 5, 2], 1280),
        (Variant::B2, 32, [2, 3, 3, 4, 4, 5, 2], 1408),
        (Variant::B3, 40, [2, 3, 3, 5, 5, 6, 2], 1536),
        (Variant::B4, 48, [2, 4, 4, 6, 6, 8, 2], 1792),
        (Variant::B5, 48, [3, 5, 5, 7, 7, 9, 3], 2048),
        (Variant::B6, 56, [3, 6, 6, 8, 8, 11, 3], 2304),
        (Variant::B7, 64, [4, 7, 7, 10, 10, 13, 4], 2560),
    ];

    #[test]
    fn scaling_reproduces_reference_widths_and_repeats() {
        for (variant, stem, repeats, features) in REFERENCE {
            let arch = variant.architecture();
            assert_eq!(arch.stem_channels, stem, "{variant} stem");
            assert_eq!(arch.stage_repeats(), repeats.to_vec(), "{variant} repeats");
            assert_eq!(arch.feature_dim(), features, "{variant} feature width");
        }
    }

    #[test]
    fn head_width_equals_four_times_last_stage_as_torchvision_computes_it() {
        // torchvision derives the head as 4 x the last stage's width, timm as
        // round(1280 x width): two rules that must agree for the shared weights.
        for variant in Variant::EFFICIENTNET {
            let arch = variant.architecture();
            assert_eq!(
                arch.feature_dim(),
                4 * arch.last_block_channels(),
                "{variant}"
            );
        }
    }

    #[test]
    fn channel_rounding_follows_make_divisible() {
        assert_eq!(round_channels(32, 1.1, 8), 32); // 35.2 -> 32 (within 10%)
        assert_eq!(round_channels(32, 1.2, 8), 40); // 38.4 -> 40
        assert_eq!(round_channels(112, 1.1, 8), 120); // 123.2 -> 120
        assert_eq!(round_channels(40, 1.1, 8), 48); // 44 -> 48 (ties round up)
        assert_eq!(round_channels(24, 1.6, 8), 40); // 38.4 -> 40
        assert_eq!(round_channels(4, 1.0, 8), 8); // never below the divisor
        assert_eq!(round_channels(20, 1.0, 16), 32); // 16 is < 90% of 20: bump
    }

    #[test]
    fn repeats_round_up() {
        assert_eq!(round_repeats(1, 1.1), 2);
        assert_eq!(round_repeats(4, 3.1), 13);
        assert_eq!(round_repeats(3, 1.0), 3);
    }

    #[test]
    fn first_block_of_a_stage_strides_and_later_ones_keep_width() {
        let arch = Variant::B2.architecture();
        let stage1: Vec<&BlockConfig> = arch.blocks.iter().filter(|b| b.stage == 1).collect();
        assert_eq!(stage1[0].stride, 2);
        assert!(!stage1[0].has_residual());
        assert!(stage1[1..]
            .iter()
            .all(|b| b.stride == 1 && b.has_residual()));
        // B2's stage 0 has two depthwise-separable blocks; the second is residual.
        let stage0: Vec<&BlockConfig> = arch.blocks.iter().filter(|b| b.stage == 0).collect();
        assert_eq!(stage0.len(), 2);
        assert!(stage0
            .iter()
            .all(|b| b.kind == BlockKind::DepthwiseSeparable));
        assert!(!stage0[0].has_residual() && stage0[1].has_residual());
        assert_eq!(stage0[1].mid_channels, 16);
        // Squeeze-excite width is a quarter of the block input.
        assert_eq!(stage1[0].se_channels, Some(4));
        assert_eq!(stage1[0].mid_channels, 96);
    }

    /// Read from efficientnet_lite_pytorch (`_blocks` per stage, `_conv_head`) for
    /// Lite0..2 and TensorFlow's efficientnet_lite_builder for Lite3/4.
    #[test]
    fn lite_keeps_stem_head_and_end_stages_fixed() {
        let reference = [
            (Variant::Lite0, [1, 2, 2, 3, 3, 4, 1], 320),
            (Variant::Lite1, [1, 3, 3, 4, 4, 5, 1], 320),
            (Variant::Lite2, [1, 3, 3, 4, 4, 5, 1], 352),
            (Variant::Lite3, [1, 3, 3, 5, 5, 6, 1], 384),
            (Variant::Lite4, [1, 4, 4, 6, 6, 8, 1], 448),
        ];
        for (variant, repeats, last_channels) in reference {
            let arch = variant.architecture();
            assert_eq!(arch.stem_channels, 32, "{variant}");
            assert_eq!(arch.feature_dim(), 1280, "{variant}");
            assert_eq!(arch.stage_repeats(), repeats.to_vec(), "{variant}");
            assert_eq!(arch.last_block_channels(), last_channels, "{variant}");
            assert_eq!(arch.activation, Activation::Relu6);
            assert!(arch.blocks.iter().all(|b| b.se_channels.is_none()));
            let positions: Vec<usize> = arch.blocks.iter().map(|b| b.position).collect();
            assert_eq!(positions, (0..arch.blocks.len()).collect::<Vec<_>>());
        }
    }

    #[test]
    fn variant_lists_expand_groups_and_ranges() {
        assert_eq!(
            Variant::parse_list("all").unwrap(),
            Variant::EFFICIENTNET.to_vec()
        );
        assert_eq!(
            Variant::parse_list("lite0..lite2,b3,lite1").unwrap(),
            vec![Variant::Lite0, Variant::Lite1, Variant::Lite2, Variant::B3]
        );
        assert_eq!(
            Variant::parse_list("b6..b7").unwrap(),
            vec![Variant::B6, Variant::B7]
        );
        assert!(Variant::parse_list("b0..lite2").is_err());
        assert!(Variant::parse_list("b3..b1").is_err());
        assert!(Variant::parse_list("b9").is_err());
    }

    #[test]
    fn variant_names_parse() {
        assert_eq!("b3".parse::<Variant>(), Ok(Variant::B3));
        assert_eq!("EfficientNet_B7".parse::<Variant>(), Ok(Variant::B7));
        assert!("b8".parse::<Variant>().is_err());
        assert_eq!("efficientnet-lite2".parse::<Variant>(), Ok(Variant::Lite2));
        assert_eq!(
            "tf_efficientnet_lite4".parse::<Variant>(),
            Ok(Variant::Lite4)
        );
    }
}
