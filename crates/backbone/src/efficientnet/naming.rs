//! Tensor names of the two weight families, and the full list of tensors (with
//! shapes) a variant's weights file must hold.

use std::fmt;
use std::str::FromStr;

use super::arch::{Architecture, BlockConfig, Variant};

/// Whose `state_dict` layout a weights file follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// `features.0.0.weight`, `features.1.0.block.0.0.weight`, ...
    Torchvision,
    /// `conv_stem.weight`, `bn1.*`, `blocks.i.j.*`, `conv_head.weight`, `bn2.*`.
    Timm,
    /// efficientnet_lite_pytorch (lukemelas's EfficientNet-PyTorch layout):
    /// `_conv_stem.weight`, `_bn0.*`, `_blocks.N.*` numbered through the network.
    EfficientnetLite,
}

impl Family {
    pub fn name(self) -> &'static str {
        match self {
            Family::Torchvision => "torchvision",
            Family::Timm => "timm",
            Family::EfficientnetLite => "efficientnet_lite",
        }
    }

    /// torchvision has no Lite models and efficientnet_lite_pytorch only Lite ones.
    pub fn supports(self, variant: Variant) -> bool {
        match self {
            Family::Torchvision => !variant.is_lite(),
            Family::Timm => true,
            Family::EfficientnetLite => variant.is_lite(),
        }
    }

    /// The family whose characteristic names appear in `names`, if exactly one does.
    pub fn detect<'a>(names: impl IntoIterator<Item = &'a str>) -> Option<Family> {
        let (mut torchvision, mut timm, mut lite) = (false, false, false);
        for name in names {
            torchvision |= name.starts_with("features.");
            timm |= name.starts_with("conv_stem.")
                || name.starts_with("blocks.")
                || name.starts_with("conv_head.");
            lite |= name.starts_with("_conv_stem.")
                || name.starts_with("_blocks.")
                || name.starts_with("_conv_head.");
        }
        match (torchvision, timm, lite) {
            (true, false, false) => Some(Family::Torchvision),
            (false, true, false) => Some(Family::Timm),
            (false, false, true) => Some(Family::EfficientnetLite),
            _ => None,
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown weights family {0:?}: expected `torchvision`, `timm` or `efficientnet_lite`")]
pub struct UnknownFamily(pub String);

impl FromStr for Family {
    type Err = UnknownFamily;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "torchvision" => Ok(Family::Torchvision),
            "timm" => Ok(Family::Timm),
            "efficientnet_lite" => Ok(Family::EfficientnetLite),
            _ => Err(UnknownFamily(text.to_string())),
        }
    }
}

/// A convolution followed by batch-norm: where its tensors live in the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConvBnNames {
    /// `<conv>.weight`
    pub conv: String,
    /// `<bn>.weight`, `.bias`, `.running_mean`, `.running_var`
    pub bn: String,
}

/// The squeeze-excite convs (both with bias).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeNames {
    pub reduce: String,
    pub expand: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockNames {
    pub expand: Option<ConvBnNames>,
    pub depthwise: ConvBnNames,
    pub se: Option<SeNames>,
    pub project: ConvBnNames,
}

impl Family {
    pub fn stem(self) -> ConvBnNames {
        match self {
            Family::Torchvision => ConvBnNames {
                conv: "features.0.0".into(),
                bn: "features.0.1".into(),
            },
            Family::Timm => ConvBnNames {
                conv: "conv_stem".into(),
                bn: "bn1".into(),
            },
            Family::EfficientnetLite => ConvBnNames {
                conv: "_conv_stem".into(),
                bn: "_bn0".into(),
            },
        }
    }

    /// torchvision's `features` holds the stem, one entry per stage, then the head.
    pub fn head(self, stage_count: usize) -> ConvBnNames {
        match self {
            Family::Torchvision => ConvBnNames {
                conv: format!("features.{}.0", stage_count + 1),
                bn: format!("features.{}.1", stage_count + 1),
            },
            Family::Timm => ConvBnNames {
                conv: "conv_head".into(),
                bn: "bn2".into(),
            },
            Family::EfficientnetLite => ConvBnNames {
                conv: "_conv_head".into(),
                bn: "_bn1".into(),
            },
        }
    }

    pub fn block(self, block: &BlockConfig) -> BlockNames {
        match self {
            Family::Torchvision => {
                // `block` is an nn.Sequential: [expand], depthwise, SE, project.
                let prefix = format!("features.{}.{}.block", block.stage + 1, block.index);
                let mut position = 0;
                let mut next_conv_bn = || {
                    let names = ConvBnNames {
                        conv: format!("{prefix}.{position}.0"),
                        bn: format!("{prefix}.{position}.1"),
                    };
                    position += 1;
                    names
                };
                let expand = block.has_expansion().then(&mut next_conv_bn);
                let depthwise = next_conv_bn();
                let se = block.se_channels.map(|_| {
                    let se_prefix = format!("{prefix}.{position}");
                    SeNames {
                        reduce: format!("{se_prefix}.fc1"),
                        expand: format!("{se_prefix}.fc2"),
                    }
                });
                if se.is_some() {
                    position += 1;
                }
                let project = ConvBnNames {
                    conv: format!("{prefix}.{position}.0"),
                    bn: format!("{prefix}.{position}.1"),
                };
                BlockNames {
                    expand,
                    depthwise,
                    se,
                    project,
                }
            }
            Family::Timm => {
                let prefix = format!("blocks.{}.{}", block.stage, block.index);
                let conv_bn = |conv: &str, bn: &str| ConvBnNames {
                    conv: format!("{prefix}.{conv}"),
                    bn: format!("{prefix}.{bn}"),
                };
                let se = block.se_channels.map(|_| SeNames {
                    reduce: format!("{prefix}.se.conv_reduce"),
                    expand: format!("{prefix}.se.conv_expand"),
                });
                if block.has_expansion() {
                    BlockNames {
                        expand: Some(conv_bn("conv_pw", "bn1")),
                        depthwise: conv_bn("conv_dw", "bn2"),
                        se,
                        project: conv_bn("conv_pwl", "bn3"),
                    }
                } else {
                    BlockNames {
                        expand: None,
                        depthwise: conv_bn("conv_dw", "bn1"),
                        se,
                        project: conv_bn("conv_pw", "bn2"),
                    }
                }
            }
            Family::EfficientnetLite => {
                let prefix = format!("_blocks.{}", block.position);
                let conv_bn = |conv: &str, bn: &str| ConvBnNames {
                    conv: format!("{prefix}.{conv}"),
                    bn: format!("{prefix}.{bn}"),
                };
                BlockNames {
                    expand: block
                        .has_expansion()
                        .then(|| conv_bn("_expand_conv", "_bn0")),
                    depthwise: conv_bn("_depthwise_conv", "_bn1"),
                    se: block.se_channels.map(|_| SeNames {
                        reduce: format!("{prefix}._se_reduce"),
                        expand: format!("{prefix}._se_expand"),
                    }),
                    project: conv_bn("_project_conv", "_bn2"),
                }
            }
        }
    }

    /// The classifier's weight name: present in full checkpoints, never used here.
    pub fn classifier_prefix(self) -> &'static str {
        match self {
            Family::Torchvision => "classifier.1",
            Family::Timm => "classifier",
            Family::EfficientnetLite => "_fc",
        }
    }
}

/// What a file may or must hold under one name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExpectedShape {
    Exact(Vec<i64>),
    /// A linear layer's weight `[classes, in_features]` or bias `[classes]`: any class count.
    ClassifierWeight {
        in_features: i64,
    },
    ClassifierBias,
}

impl ExpectedShape {
    pub fn accepts(&self, shape: &[i64]) -> bool {
        match self {
            ExpectedShape::Exact(expected) => expected == shape,
            ExpectedShape::ClassifierWeight { in_features } => {
                shape.len() == 2 && shape[1] == *in_features
            }
            ExpectedShape::ClassifierBias => shape.len() == 1,
        }
    }
}

impl fmt::Display for ExpectedShape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExpectedShape::Exact(shape) => write!(f, "{shape:?}"),
            ExpectedShape::ClassifierWeight { in_features } => {
                write!(f, "[classes, {in_features}]")
            }
            ExpectedShape::ClassifierBias => f.write_str("[classes]"),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpectedTensor {
    pub name: String,
    pub shape: ExpectedShape,
    /// Optional tensors (classifier, `num_batches_tracked`) are checked when present.
    pub required: bool,
}

/// Every tensor a `family` file of architecture `arch` holds.
pub fn expected_tensors(arch: &Architecture, family: Family) -> Vec<ExpectedTensor> {
    let mut list = Vec::new();
    let mut conv_bn = |names: &ConvBnNames, out: i64, in_per_group: i64, kernel: i64| {
        list.push(ExpectedTensor {
            name: format!("{}.weight", names.conv),
            shape: ExpectedShape::Exact(vec![out, in_per_group, kernel, kernel]),
            required: true,
        });
        for field in ["weight", "bias", "running_mean", "running_var"] {
            list.push(ExpectedTensor {
                name: format!("{}.{field}", names.bn),
                shape: ExpectedShape::Exact(vec![out]),
                required: true,
            });
        }
        list.push(ExpectedTensor {
            name: format!("{}.num_batches_tracked", names.bn),
            shape: ExpectedShape::Exact(vec![]),
            required: false,
        });
    };
    conv_bn(&family.stem(), arch.stem_channels, 3, 3);
    let mut se_list = Vec::new();
    for block in &arch.blocks {
        let names = family.block(block);
        if let Some(expand) = &names.expand {
            conv_bn(expand, block.mid_channels, block.in_channels, 1);
        }
        conv_bn(&names.depthwise, block.mid_channels, 1, block.kernel);
        if let (Some(se), Some(squeezed)) = (&names.se, block.se_channels) {
            se_list.push((se.clone(), block.mid_channels, squeezed));
        }
        conv_bn(&names.project, block.out_channels, block.mid_channels, 1);
    }
    let stage_count = arch.stage_repeats().len();
    conv_bn(
        &family.head(stage_count),
        arch.head_channels,
        arch.last_block_channels(),
        1,
    );
    for (se, channels, squeezed) in se_list {
        for (prefix, out, input) in [
            (&se.reduce, squeezed, channels),
            (&se.expand, channels, squeezed),
        ] {
            list.push(ExpectedTensor {
                name: format!("{prefix}.weight"),
                shape: ExpectedShape::Exact(vec![out, input, 1, 1]),
                required: true,
            });
            list.push(ExpectedTensor {
                name: format!("{prefix}.bias"),
                shape: ExpectedShape::Exact(vec![out]),
                required: true,
            });
        }
    }
    let classifier = family.classifier_prefix();
    list.push(ExpectedTensor {
        name: format!("{classifier}.weight"),
        shape: ExpectedShape::ClassifierWeight {
            in_features: arch.head_channels,
        },
        required: false,
    });
    list.push(ExpectedTensor {
        name: format!("{classifier}.bias"),
        shape: ExpectedShape::ClassifierBias,
        required: false,
    });
    list
}
