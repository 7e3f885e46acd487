//! Backbones exported from timm (or anything else) as TorchScript modules by
//! `tools/export_backbone.py`: the module returns the pooled pre-logits
//! features of normalised images at one input size, and its sidecar
//! (`MODULE.pt.json`, format `effprobe-backbone/1`) carries the recipe and
//! identity: timm's `pretrained_cfg`, feature width, pooling, model name,
//! versions and the blake3 of the module. The module's blake3 is its weights'
//! identity, so the cache, heads and predict key on it as on a weights file.

use std::path::{Path, PathBuf};

use contract::{Preprocessing, WeightsIdentity};
use serde::Deserialize;
use tch::{CModule, Device, Kind, Tensor};

use crate::device::Placement;
use crate::error::ModelError;
use crate::net::FeatureNet;
use crate::recipe::PretrainedCfg;
use crate::ModelId;

/// The sidecar format this build reads.
pub const MODULE_FORMAT: &str = "effprobe-backbone/1";

/// `model.pt` → `model.pt.json`.
pub fn sidecar_path(module: &Path) -> PathBuf {
    let mut name = module.as_os_str().to_owned();
    name.push(".json");
    PathBuf::from(name)
}

/// The sidecar's contents that effprobe uses (the exporter writes more: see
/// tools/export_backbone.py).
#[derive(Clone, Debug, Deserialize)]
pub struct ModuleCard {
    pub format: String,
    pub module_blake3: String,
    /// The architecture as created, e.g. timm's `convnext_tiny`.
    pub model: String,
    #[serde(default)]
    pub pretrained_tag: Option<String>,
    pub weights: CardWeights,
    pub feature_dim: usize,
    pub pooling: String,
    pub feature_layer: String,
    pub parameters: u64,
    /// timm's data config for the model, resolved by the exporter.
    pub pretrained_cfg: PretrainedCfg,
}

#[derive(Clone, Debug, Deserialize)]
pub struct CardWeights {
    /// `hf:owner/name`, `file:/path`, or `random:SEED`.
    pub spec: String,
    pub blake3: String,
}

/// An exported module, its card read and its bytes checked, not yet loaded.
#[derive(Clone, Debug)]
pub struct ExportedModule {
    pub id: ModelId,
    pub path: PathBuf,
    pub card: ModuleCard,
    pub blake3: String,
    pub bytes: u64,
}

impl ExportedModule {
    /// Reads the sidecar and checks the module is the one it describes.
    pub fn open(id: ModelId, path: &Path) -> Result<Self, ModelError> {
        let sidecar = sidecar_path(path);
        let bad = |reason: String| ModelError::BadModule {
            path: path.to_path_buf(),
            reason,
        };
        let bytes = std::fs::read(path).map_err(|source| ModelError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let text = match std::fs::read_to_string(&sidecar) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Err(bad(format!(
                    "its sidecar {} is missing: an exported backbone is the module and its \
                     sidecar, both written by tools/export_backbone.py",
                    sidecar.display()
                )))
            }
            Err(source) => {
                return Err(ModelError::Io {
                    path: sidecar,
                    source,
                })
            }
        };
        let card: ModuleCard = serde_json::from_str(&text).map_err(|e| ModelError::BadModule {
            path: sidecar.clone(),
            reason: format!("not an effprobe-backbone sidecar: {e}"),
        })?;
        if card.format != MODULE_FORMAT {
            return Err(ModelError::BadModule {
                path: sidecar,
                reason: format!("format {:?}; this build reads {MODULE_FORMAT}", card.format),
            });
        }
        let blake3 = blake3::hash(&bytes).to_hex().to_string();
        if blake3 != card.module_blake3 {
            return Err(bad(format!(
                "blake3 {blake3}, but its sidecar describes a module with blake3 {}: the module \
                 was replaced after export; export it again",
                card.module_blake3
            )));
        }
        if card.feature_dim == 0 || card.pretrained_cfg.input_size[0] != 3 {
            return Err(ModelError::BadModule {
                path: sidecar,
                reason: format!(
                    "feature width {} and input {:?}: expected a width of 1 or more and 3 channels",
                    card.feature_dim, card.pretrained_cfg.input_size
                ),
            });
        }
        Ok(ExportedModule {
            id,
            path: path.to_path_buf(),
            card,
            blake3,
            bytes: bytes.len() as u64,
        })
    }

    /// `(height, width)` the module was traced at: the only size it is fed.
    pub fn input_size(&self) -> (u32, u32) {
        self.card.pretrained_cfg.height_width()
    }

    /// timm's evaluation transform for the model (`resolve_data_config` +
    /// `create_transform`), from the card.
    pub fn recipe(&self) -> Result<Preprocessing, ModelError> {
        self.card
            .pretrained_cfg
            .recipe()
            .map_err(|e| ModelError::BadModule {
                path: sidecar_path(&self.path),
                reason: e.to_string(),
            })
    }

    /// What the features are made with: the module, by content.
    pub fn identity(&self) -> WeightsIdentity {
        WeightsIdentity {
            source: format!(
                "{} ({}) exported to {}",
                self.card.model,
                self.card.weights.spec,
                self.path.display()
            ),
            blake3: self.blake3.clone(),
        }
    }

    /// Loads the module onto `placement`'s device, in its precision.
    pub fn build(&self, placement: Placement) -> Result<ScriptedNet, ModelError> {
        let fail = |e: tch::TchError| ModelError::BadModule {
            path: self.path.clone(),
            reason: format!("libtorch cannot load it: {e}"),
        };
        // On the CPU, frozen as PyTorch users run TorchScript (BatchNorm folded,
        // constants propagated; about 1e-6 relative from the unfrozen module). On a
        // GPU as loaded: the profiling executor fuses there, and a frozen module's
        // constants would stay on the device it was frozen on.
        let (mut module, parameters) = if placement.device == tch::Device::Cpu {
            let frozen =
                crate::frozen::frozen_module(&self.path, placement.kind()).map_err(|reason| {
                    ModelError::BadModule {
                        path: self.path.clone(),
                        reason: format!("libtorch cannot freeze it: {reason}"),
                    }
                })?;
            let module = CModule::load_data_on_device(
                &mut std::io::Cursor::new(frozen.bytes),
                placement.device,
            )
            .map_err(fail)?;
            (module, frozen.parameters)
        } else {
            let mut module = CModule::load_on_device(&self.path, placement.device).map_err(fail)?;
            if placement.kind() != Kind::Float {
                module.to(placement.device, placement.kind(), false);
            }
            let parameters = module
                .named_parameters()
                .map_err(fail)?
                .iter()
                .map(|(_, p)| p.numel() as u64)
                .sum();
            (module, parameters)
        };
        module.f_set_eval().map_err(fail)?;
        crate::device::configure_libtorch(&placement);
        let (height, width) = self.input_size();
        Ok(ScriptedNet {
            id: self.id.clone(),
            module,
            path: self.path.clone(),
            weights: self.identity(),
            feature_dim: self.card.feature_dim,
            feature_layer: self.card.feature_layer.clone(),
            parameters,
            placement,
            input: (i64::from(height), i64::from(width)),
        })
    }
}

/// A loaded exported module.
pub struct ScriptedNet {
    id: ModelId,
    module: CModule,
    path: PathBuf,
    weights: WeightsIdentity,
    feature_dim: usize,
    feature_layer: String,
    parameters: u64,
    placement: Placement,
    /// `(height, width)`: the one size the module is fed.
    input: (i64, i64),
}

impl FeatureNet for ScriptedNet {
    fn id(&self) -> &ModelId {
        &self.id
    }

    fn feature_dim(&self) -> usize {
        self.feature_dim
    }

    fn feature_layer(&self) -> String {
        self.feature_layer.clone()
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
        let size = images.size();
        if size.len() != 4 || size[1] != 3 || (size[2], size[3]) != self.input {
            return Err(ModelError::BadModule {
                path: self.path.clone(),
                reason: format!(
                    "it takes [N, 3, {}, {}] images, was given {size:?}",
                    self.input.0, self.input.1
                ),
            });
        }
        // Channels-last where the placement prefers it (oneDNN's and cuDNN's
        // faster convolutions), as for the native network.
        let input = self.placement.place(images)?;
        let output = tch::no_grad(|| self.module.forward_ts(&[input]))?;
        let expected = [size[0], self.feature_dim as i64];
        if output.size() != expected {
            return Err(ModelError::BadModule {
                path: self.path.clone(),
                reason: format!(
                    "it returned {:?} for a batch of {}, its sidecar promises {expected:?}",
                    output.size(),
                    size[0]
                ),
            });
        }
        Ok(output.f_to_kind(Kind::Float)?.f_to_device(Device::Cpu)?)
    }
}
