//! The tune file, `tune.safetensors`: the top blocks and head convolution as
//! `tune-train` left them, under the weights file's own tensor names (so that the
//! backbone with these tensors swapped in is the tuned network). Written by
//! `tune-train` beside its `head.safetensors` (which links to it, with this
//! file's blake3); read by `extract predict` and `extract export`.
//!
//! Layout: every tensor F32, batch norm unfolded (`weight`, `bias`,
//! `running_mean`, `running_var`). Metadata: `format` (`effprobe-tune/1`),
//! `variant`, `family` (the tensor naming), `weights.source`, `weights.blake3`
//! (the backbone the untuned part comes from), `cut` (JSON
//! [`crate::activations::CutPoint`]), `batch_norm` (`frozen` or `updated`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use safetensors::SafeTensors;

use crate::activations::CutPoint;
use crate::safetensors_bytes::{
    f32_bytes, f32_values, required, safetensors_bytes, string_map, TensorBytes,
};
use crate::WeightsIdentity;

pub const TUNE_FILE_NAME: &str = "tune.safetensors";
pub const TUNE_FORMAT: &str = "effprobe-tune/1";

#[derive(Debug, thiserror::Error)]
pub enum TuneFileError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not an effprobe tune file: {reason}")]
    Invalid { path: PathBuf, reason: String },
}

#[derive(Clone, Debug, PartialEq)]
pub struct TuneFile {
    pub variant: String,
    /// `torchvision`, `timm` or `efficientnet_lite`: how the tensors are named.
    pub family: String,
    pub weights: WeightsIdentity,
    pub cut: CutPoint,
    /// Whether training updated the batch-norm running statistics.
    pub batch_norm_updated: bool,
    /// name → (shape, values).
    pub tensors: BTreeMap<String, (Vec<usize>, Vec<f32>)>,
}

impl TuneFile {
    pub fn read(path: &Path) -> Result<Self, TuneFileError> {
        let bytes = std::fs::read(path).map_err(|source| TuneFileError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_bytes(path, &bytes)
    }

    pub fn from_bytes(path: &Path, bytes: &[u8]) -> Result<Self, TuneFileError> {
        let bad = |reason: String| TuneFileError::Invalid {
            path: path.to_path_buf(),
            reason,
        };
        let (_, header) = SafeTensors::read_metadata(bytes).map_err(|e| bad(e.to_string()))?;
        let metadata = header.metadata().clone().unwrap_or_default();
        let get = |key: &str| required(&metadata, key).map(str::to_string).map_err(bad);
        let format = get("format")?;
        if format != TUNE_FORMAT {
            return Err(bad(format!(
                "format {format:?}, this build reads {TUNE_FORMAT:?}"
            )));
        }
        let safetensors = SafeTensors::deserialize(bytes).map_err(|e| bad(e.to_string()))?;
        let mut tensors = BTreeMap::new();
        for (name, view) in safetensors.tensors() {
            if view.dtype() != safetensors::Dtype::F32 {
                return Err(bad(format!(
                    "tensor {name} is {:?}, expected F32",
                    view.dtype()
                )));
            }
            tensors.insert(name, (view.shape().to_vec(), f32_values(view.data())));
        }
        if tensors.is_empty() {
            return Err(bad("no tensors".into()));
        }
        Ok(TuneFile {
            variant: get("variant")?,
            family: get("family")?,
            weights: WeightsIdentity {
                source: get("weights.source")?,
                blake3: get("weights.blake3")?,
            },
            cut: serde_json::from_str(&get("cut")?).map_err(|e| bad(format!("cut: {e}")))?,
            batch_norm_updated: match get("batch_norm")?.as_str() {
                "frozen" => false,
                "updated" => true,
                other => {
                    return Err(bad(format!(
                        "batch_norm {other:?}, expected frozen or updated"
                    )))
                }
            },
            tensors,
        })
    }

    /// The file's bytes: equal contents give byte-identical files.
    pub fn to_bytes(&self) -> Vec<u8> {
        let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = self
            .tensors
            .iter()
            .map(|(name, (shape, values))| (name.clone(), shape.clone(), f32_bytes(values)))
            .collect();
        let tensors: Vec<TensorBytes<'_>> = bytes
            .iter()
            .map(|(name, shape, bytes)| TensorBytes {
                name: name.clone(),
                dtype: "F32",
                shape: shape.clone(),
                bytes,
            })
            .collect();
        let metadata = string_map([
            ("format", TUNE_FORMAT.to_string()),
            ("variant", self.variant.clone()),
            ("family", self.family.clone()),
            ("weights.source", self.weights.source.clone()),
            ("weights.blake3", self.weights.blake3.clone()),
            (
                "cut",
                serde_json::to_string(&self.cut).expect("plain data serialises"),
            ),
            (
                "batch_norm",
                if self.batch_norm_updated {
                    "updated"
                } else {
                    "frozen"
                }
                .to_string(),
            ),
        ]);
        safetensors_bytes(&tensors, &metadata)
    }

    /// Writes the file atomically and returns its bytes' length.
    pub fn write(&self, path: &Path) -> Result<Vec<u8>, TuneFileError> {
        let bytes = self.to_bytes();
        crate::atomic::write_atomically(path, &bytes).map_err(|source| TuneFileError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(bytes)
    }
}
