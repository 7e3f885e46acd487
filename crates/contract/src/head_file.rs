//! The head file, `head.safetensors`: a trained linear head and the identity of
//! the features it was trained on. `head-train` writes it; `extract predict` and
//! `extract export` read it to rebuild the backbone those features came from, and
//! `report` reads its metadata. It lives in this contract crate because `extract`
//! may not depend on `head` (only `extract` links libtorch).
//!
//! Layout (safetensors, all tensors f32): `weight` [outputs, feature_dim], `bias`
//! [outputs] and, when standardised, `standardize.mean` and `standardize.scale`
//! [feature_dim]. Two classes have one output (sigmoid, p(class 1)); K > 2 classes
//! have K (softmax). Apply as `logits = weight · ((x − mean) / scale) + bias`.
//! Metadata, each a plain string: `format` (`effprobe-head/1`), `activation`,
//! `classes` (JSON list), `feature_dim`, `variant`, `feature_layer`,
//! `preprocessing` (JSON, as in the feature file), `weights.source`,
//! `weights.blake3`, `weights.location` (where the weights can be loaded again,
//! when the features recorded it), `threshold`, `standardized`.

use std::path::{Path, PathBuf};

use safetensors::SafeTensors;

use crate::safetensors_bytes::{f32_bytes, required, safetensors_bytes, string_map, TensorBytes};
use crate::{Preprocessing, WeightsIdentity};

/// A tensor's shape and values.
type Tensor = (Vec<usize>, Vec<f32>);

/// The file name `head-train` writes into its `--out` folder.
pub const HEAD_FILE_NAME: &str = "head.safetensors";
/// The `format` metadata value of the files this module reads and writes.
pub const HEAD_FORMAT: &str = "effprobe-head/1";
/// A head over fine-tuned top blocks: a reader of version 1 would apply it to
/// the untuned backbone's features, so it must refuse it.
pub const TUNED_HEAD_FORMAT: &str = "effprobe-head/2";

#[derive(Debug, thiserror::Error)]
pub enum HeadFileError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not an effprobe head file: {reason}")]
    Invalid { path: PathBuf, reason: String },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    /// One logit, p(class 1) = σ(z): two classes.
    Sigmoid,
    /// One logit per class.
    Softmax,
}

impl Activation {
    pub fn name(self) -> &'static str {
        match self {
            Activation::Sigmoid => "sigmoid",
            Activation::Softmax => "softmax",
        }
    }
}

/// Per-column `(x − mean) / scale`, applied to features before the head.
#[derive(Clone, Debug, PartialEq)]
pub struct HeadStandardization {
    pub mean: Vec<f32>,
    pub scale: Vec<f32>,
}

/// A head and what it was trained on.
#[derive(Clone, Debug, PartialEq)]
pub struct HeadFile {
    /// Class names in label order.
    pub classes: Vec<String>,
    pub feature_dim: usize,
    /// `outputs × feature_dim`, row-major; `outputs` is 1 for two classes, else K.
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
    pub standardization: Option<HeadStandardization>,
    pub variant: String,
    pub feature_layer: String,
    pub preprocessing: Preprocessing,
    pub weights: WeightsIdentity,
    /// An absolute safetensors path or `random:SEED` (the feature file's
    /// `effprobe.extra.weights_location`); `None` in heads trained on features that
    /// did not record it.
    pub weights_location: Option<String>,
    /// Decision threshold on p(class 1) for two classes (unused for more).
    pub threshold: f64,
    /// Set when the head sits on fine-tuned top blocks (`tune-train`): the features
    /// are the tuned network's, not the backbone's as published.
    pub tune: Option<TuneLink>,
}

/// The tuned top blocks a head belongs to: `tune.safetensors` beside the head.
#[derive(Clone, Debug, PartialEq)]
pub struct TuneLink {
    /// The tune file's name, relative to the head file's folder.
    pub file: String,
    /// blake3 of the tune file's bytes.
    pub blake3: String,
    pub cut: crate::activations::CutPoint,
}

/// Outputs of a head over `classes` classes: one logit suffices for two.
pub fn head_outputs(classes: usize) -> usize {
    if classes == 2 {
        1
    } else {
        classes
    }
}

impl HeadFile {
    /// The identity of the features this head was trained on.
    pub fn identity(&self) -> crate::FeatureIdentity {
        crate::FeatureIdentity {
            model: self.variant.clone(),
            feature_dim: self.feature_dim,
            feature_layer: self.feature_layer.clone(),
            weights_blake3: self.weights.blake3.clone(),
            preprocessing: self.preprocessing.clone(),
        }
    }

    pub fn outputs(&self) -> usize {
        head_outputs(self.classes.len())
    }

    pub fn activation(&self) -> Activation {
        if self.outputs() == 1 {
            Activation::Sigmoid
        } else {
            Activation::Softmax
        }
    }

    /// A run folder (holding `head.safetensors`) or the file itself.
    pub fn resolve_path(path: &Path) -> PathBuf {
        if path.is_dir() {
            path.join(HEAD_FILE_NAME)
        } else {
            path.to_path_buf()
        }
    }

    pub fn read(path: &Path) -> Result<Self, HeadFileError> {
        let bytes = std::fs::read(path).map_err(|source| HeadFileError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_bytes(path, &bytes)
    }

    /// Parses and checks the file's bytes; `path` only names it in errors.
    pub fn from_bytes(path: &Path, bytes: &[u8]) -> Result<Self, HeadFileError> {
        let bad = |reason: String| HeadFileError::Invalid {
            path: path.to_path_buf(),
            reason,
        };
        let (_, header) = SafeTensors::read_metadata(bytes).map_err(|e| bad(e.to_string()))?;
        let metadata = header.metadata().clone().unwrap_or_default();
        let get = |key: &str| required(&metadata, key).map(str::to_string).map_err(bad);
        let format = get("format")?;
        if format != HEAD_FORMAT && format != TUNED_HEAD_FORMAT {
            return Err(bad(format!(
                "format {format:?}, this build reads {HEAD_FORMAT:?} and {TUNED_HEAD_FORMAT:?}"
            )));
        }
        let tensors = SafeTensors::deserialize(bytes).map_err(|e| bad(e.to_string()))?;
        let floats = |name: &str| -> Result<Option<Tensor>, HeadFileError> {
            let Ok(view) = tensors.tensor(name) else {
                return Ok(None);
            };
            if view.dtype() != safetensors::Dtype::F32 {
                return Err(bad(format!(
                    "tensor {name} is {:?}, expected F32",
                    view.dtype()
                )));
            }
            let values = view
                .data()
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            Ok(Some((view.shape().to_vec(), values)))
        };
        let classes: Vec<String> =
            serde_json::from_str(&get("classes")?).map_err(|e| bad(format!("classes: {e}")))?;
        if classes.len() < 2 {
            return Err(bad(format!(
                "{} class(es); a head has at least two",
                classes.len()
            )));
        }
        let feature_dim: usize = get("feature_dim")?
            .parse()
            .map_err(|_| bad("feature_dim is not a number".into()))?;
        let outputs = head_outputs(classes.len());
        let (shape, weight) =
            floats("weight")?.ok_or_else(|| bad("tensor weight missing".into()))?;
        if shape != [outputs, feature_dim] {
            return Err(bad(format!(
                "weight has shape {shape:?}, expected [{outputs}, {feature_dim}] for {} classes",
                classes.len()
            )));
        }
        let (shape, bias) = floats("bias")?.ok_or_else(|| bad("tensor bias missing".into()))?;
        if shape != [outputs] {
            return Err(bad(format!(
                "bias has shape {shape:?}, expected [{outputs}]"
            )));
        }
        let standardization = match (floats("standardize.mean")?, floats("standardize.scale")?) {
            (Some((mean_shape, mean)), Some((scale_shape, scale))) => {
                if mean_shape != [feature_dim] || scale_shape != [feature_dim] {
                    return Err(bad(format!(
                        "standardize.mean/scale have shapes {mean_shape:?}/{scale_shape:?}, expected [{feature_dim}]"
                    )));
                }
                Some(HeadStandardization { mean, scale })
            }
            (None, None) => None,
            _ => {
                return Err(bad(
                    "only one of standardize.mean and standardize.scale".into()
                ))
            }
        };
        let activation = get("activation")?;
        let expected = if outputs == 1 { "sigmoid" } else { "softmax" };
        if activation != expected {
            return Err(bad(format!(
                "activation {activation:?} with {} classes (expected {expected})",
                classes.len()
            )));
        }
        let preprocessing: Preprocessing = serde_json::from_str(&get("preprocessing")?)
            .map_err(|e| bad(format!("preprocessing: {e}")))?;
        Ok(HeadFile {
            classes,
            feature_dim,
            weight,
            bias,
            standardization,
            variant: get("variant")?,
            feature_layer: get("feature_layer")?,
            preprocessing,
            weights: WeightsIdentity {
                source: get("weights.source")?,
                blake3: get("weights.blake3")?,
            },
            weights_location: metadata.get("weights.location").cloned(),
            threshold: get("threshold")?
                .parse()
                .map_err(|_| bad("threshold is not a number".into()))?,
            tune: if format == TUNED_HEAD_FORMAT {
                Some(TuneLink {
                    file: get("tune.file")?,
                    blake3: get("tune.blake3")?,
                    cut: serde_json::from_str(&get("tune.cut")?)
                        .map_err(|e| bad(format!("tune.cut: {e}")))?,
                })
            } else {
                None
            },
        })
    }

    /// Writes the file atomically.
    pub fn write(&self, path: &Path) -> Result<(), HeadFileError> {
        crate::atomic::write_atomically(path, &self.to_bytes()).map_err(|source| {
            HeadFileError::Io {
                path: path.to_path_buf(),
                source,
            }
        })
    }

    /// The file's bytes: equal heads give byte-identical files.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut tensors: Vec<(String, Vec<usize>, Vec<u8>)> = vec![
            (
                "weight".into(),
                vec![self.outputs(), self.feature_dim],
                f32_bytes(&self.weight),
            ),
            ("bias".into(), vec![self.outputs()], f32_bytes(&self.bias)),
        ];
        if let Some(s) = &self.standardization {
            tensors.push((
                "standardize.mean".into(),
                vec![self.feature_dim],
                f32_bytes(&s.mean),
            ));
            tensors.push((
                "standardize.scale".into(),
                vec![self.feature_dim],
                f32_bytes(&s.scale),
            ));
        }
        let mut metadata = string_map([
            (
                "format",
                if self.tune.is_some() {
                    TUNED_HEAD_FORMAT
                } else {
                    HEAD_FORMAT
                }
                .to_string(),
            ),
            ("activation", self.activation().name().to_string()),
            ("classes", to_json(&self.classes)),
            ("feature_dim", self.feature_dim.to_string()),
            ("variant", self.variant.clone()),
            ("feature_layer", self.feature_layer.clone()),
            ("preprocessing", to_json(&self.preprocessing)),
            ("weights.source", self.weights.source.clone()),
            ("weights.blake3", self.weights.blake3.clone()),
            ("threshold", self.threshold.to_string()),
            ("standardized", self.standardization.is_some().to_string()),
        ]);
        if let Some(location) = &self.weights_location {
            metadata.insert("weights.location".into(), location.clone());
        }
        if let Some(tune) = &self.tune {
            metadata.insert("tune.file".into(), tune.file.clone());
            metadata.insert("tune.blake3".into(), tune.blake3.clone());
            metadata.insert("tune.cut".into(), to_json(&tune.cut));
        }
        let tensors: Vec<TensorBytes<'_>> = tensors
            .iter()
            .map(|(name, shape, bytes)| TensorBytes {
                name: name.clone(),
                dtype: "F32",
                shape: shape.clone(),
                bytes,
            })
            .collect();
        safetensors_bytes(&tensors, &metadata)
    }

    /// Class probabilities of one feature vector (length `feature_dim`), in class
    /// order: standardised in f32 as `head-train`'s f32 feature matrix is, logits in
    /// f64.
    pub fn probabilities(&self, feature: &[f32]) -> Vec<f64> {
        let standardized: Vec<f32> = match &self.standardization {
            Some(s) => feature
                .iter()
                .zip(&s.mean)
                .zip(&s.scale)
                .map(|((v, m), s)| (v - m) / s)
                .collect(),
            None => feature.to_vec(),
        };
        let logits: Vec<f64> = (0..self.outputs())
            .map(|k| {
                let row = &self.weight[k * self.feature_dim..(k + 1) * self.feature_dim];
                let dot: f64 = row
                    .iter()
                    .zip(&standardized)
                    .map(|(w, x)| f64::from(*w) * f64::from(*x))
                    .sum();
                f64::from(self.bias[k]) + dot
            })
            .collect();
        match self.activation() {
            Activation::Sigmoid => {
                let z = logits[0];
                let p = if z >= 0.0 {
                    1.0 / (1.0 + (-z).exp())
                } else {
                    let e = z.exp();
                    e / (1.0 + e)
                };
                vec![1.0 - p, p]
            }
            Activation::Softmax => {
                let max = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let exps: Vec<f64> = logits.iter().map(|z| (z - max).exp()).collect();
                let sum: f64 = exps.iter().sum();
                exps.into_iter().map(|e| e / sum).collect()
            }
        }
    }

    /// The predicted class: [`crate::predictions::predicted_class`], the one rule.
    pub fn predicted(probabilities: &[f64], threshold: f64) -> usize {
        crate::predictions::predicted_class(probabilities, threshold)
    }
}

/// Only used on plain structs and strings, which cannot fail to serialise.
fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("plain data always serialises")
}
