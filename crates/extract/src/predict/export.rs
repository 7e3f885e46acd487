//! `extract export`: the backbone and its head as ONE TorchScript module, for
//! serving without effprobe.
//!
//! TorchScript because libtorch writes and reads it natively: this binary makes
//! it by tracing the Rust network (tch `CModule::create_by_tracing`), and any
//! libtorch program (C++, tch, Python `torch.jit.load`) runs it without Python or
//! effprobe. ONNX export exists only in Python torch, which the product never
//! needs.
//!
//! The module takes what predict feeds the backbone: `uint8 [N, S, S, 3]` RGB,
//! already resized and cropped by the recipe, and does the rest inside (scale to
//! [0, 1], normalise, backbone, standardise, head, sigmoid or softmax); it returns
//! `float32 [N, K]` class probabilities on the CPU. TorchScript files made by tch
//! cannot carry extra files, so the resize/crop recipe, classes and threshold go
//! in a JSON file beside the module (`MODULE.json`).

use std::path::{Path, PathBuf};

use contract::atomic::{write_atomically, AtomicFile};
use contract::head_file::Activation;
use contract::{Preprocessing, WeightsIdentity};
use serde::Serialize;
use tch::{CModule, Device, Kind, Tensor};

use crate::pipeline::Backbone;
use backbone::Extractor;

use super::rebuild::HeadInput;
use super::PredictError;

pub const EXPORT_FORMAT: &str = "effprobe-export/1";

/// The JSON written beside the module.
#[derive(Clone, Debug, Serialize)]
pub struct ExportSidecar {
    pub format: &'static str,
    /// The module's file name.
    pub module: String,
    pub input: InputSpec,
    pub output: OutputSpec,
    pub classes: Vec<String>,
    pub activation: &'static str,
    /// Predict class 1 when p(class 1) >= threshold (two classes); else argmax.
    pub threshold: Option<f64>,
    /// How images become the input: decode to RGB with EXIF orientation applied,
    /// resize (shorter side to `resize_size` then centre crop `input_size`, or
    /// stretch), antialiased as PIL does. `mean`/`std` are applied inside.
    pub preprocessing: Preprocessing,
    pub variant: String,
    pub feature_dim: usize,
    pub weights: WeightsIdentity,
    pub head: String,
    pub head_blake3: String,
    /// Where the module's tensors live (the device it was traced on).
    pub device: String,
    pub tool_version: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct InputSpec {
    pub dtype: &'static str,
    /// `["N", H, W, 3]`
    pub shape: (String, u32, u32, u32),
    pub layout: &'static str,
    pub channels: &'static str,
}

#[derive(Clone, Debug, Serialize)]
pub struct OutputSpec {
    pub dtype: &'static str,
    /// `["N", K]`
    pub shape: (String, usize),
    pub meaning: &'static str,
}

/// `model.pt` → `model.pt.json`.
pub fn sidecar_path(module: &Path) -> PathBuf {
    let mut name = module.as_os_str().to_owned();
    name.push(".json");
    PathBuf::from(name)
}

/// The largest |Δp| between the saved module and the network it was traced
/// from that export accepts (both run the same fp32 operations).
const SELF_CHECK_TOLERANCE: f64 = 1e-5;

/// Traces `backbone` + the head into `out` and writes the sidecar; then loads
/// the file back and checks it against the untraced network on a batch of a
/// different size than the traced one.
pub fn export(
    head: &HeadInput,
    backbone: &Extractor,
    out: &Path,
) -> Result<ExportSidecar, PredictError> {
    let fail = |reason: String| PredictError::Export {
        path: out.to_path_buf(),
        reason,
    };
    let classifier = Classifier::new(head, backbone).map_err(|e| fail(e.to_string()))?;
    let recipe = backbone.recipe();
    let size = (
        i64::from(recipe.input_height()),
        i64::from(recipe.input_width()),
    );
    let example = Tensor::zeros([2, size.0, size.1, 3], (Kind::Uint8, Device::Cpu));
    let mut traced_error = None;
    let mut closure = |inputs: &[Tensor]| -> Vec<Tensor> {
        match classifier.forward(&inputs[0]) {
            Ok(probabilities) => vec![probabilities],
            Err(error) => {
                traced_error = Some(error);
                vec![inputs[0].shallow_clone()]
            }
        }
    };
    let module =
        CModule::create_by_tracing("EffprobeClassifier", "forward", &[example], &mut closure)
            .map_err(|e| fail(format!("tracing failed: {e}")))?;
    if let Some(error) = traced_error {
        return Err(fail(format!("tracing failed: {error}")));
    }

    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model.pt".into());
    let io = |source| PredictError::Io {
        path: out.to_path_buf(),
        source,
    };
    // libtorch writes the module itself, to the temporary; only a module that
    // loads back and agrees with the network is renamed into place.
    let saved = AtomicFile::create(out).map_err(io)?;
    module
        .save(saved.temporary())
        .map_err(|e| fail(format!("cannot save: {e}")))?;
    self_check(saved.temporary(), &classifier, size).map_err(fail)?;
    saved.commit().map_err(io)?;

    let file = &head.file;
    let head_bytes = std::fs::read(&head.path).map_err(|source| PredictError::Io {
        path: head.path.clone(),
        source,
    })?;
    let recipe = backbone.recipe().clone();
    let sidecar = ExportSidecar {
        format: EXPORT_FORMAT,
        module: name,
        input: InputSpec {
            dtype: "uint8",
            shape: ("N".into(), recipe.input_height(), recipe.input_width(), 3),
            layout: "NHWC",
            channels: "RGB",
        },
        output: OutputSpec {
            dtype: "float32",
            shape: ("N".into(), file.classes.len()),
            meaning: "class probabilities, in the order of `classes`",
        },
        classes: file.classes.clone(),
        activation: file.activation().name(),
        threshold: (file.classes.len() == 2).then_some(file.threshold),
        preprocessing: recipe,
        variant: file.variant.clone(),
        feature_dim: file.feature_dim,
        weights: file.weights.clone(),
        head: std::fs::canonicalize(&head.path)
            .unwrap_or_else(|_| head.path.clone())
            .display()
            .to_string(),
        head_blake3: blake3::hash(&head_bytes).to_hex().to_string(),
        device: backbone.device(),
        tool_version: format!("effprobe {}", env!("CARGO_PKG_VERSION")),
    };
    let json = serde_json::to_string_pretty(&sidecar).expect("plain data serialises");
    let sidecar_file = sidecar_path(out);
    write_atomically(&sidecar_file, json.as_bytes()).map_err(|source| PredictError::Io {
        path: sidecar_file,
        source,
    })?;
    Ok(sidecar)
}

/// Loads the saved module and compares it with the network it came from.
fn self_check(
    path: &Path,
    classifier: &Classifier<'_>,
    (height, width): (i64, i64),
) -> Result<(), String> {
    let module = CModule::load(path).map_err(|e| format!("cannot load it back: {e}"))?;
    // Three images (the trace saw two) of varied, deterministic pixels.
    let count = 3 * height * width * 3;
    let pixels = Tensor::arange(count, (Kind::Int64, Device::Cpu))
        .remainder(251)
        .to_kind(Kind::Uint8)
        .view([3, height, width, 3]);
    let loaded = module
        .forward_ts(&[&pixels])
        .map_err(|e| format!("the saved module fails on a batch of 3: {e}"))?;
    let direct = classifier.forward(&pixels)?;
    let difference = (loaded - direct).abs().max().double_value(&[]);
    if difference > SELF_CHECK_TOLERANCE {
        return Err(format!(
            "the saved module differs from the network by {difference:.2e} in probability"
        ));
    }
    Ok(())
}

/// The computation that is traced: bytes to probabilities.
struct Classifier<'a> {
    backbone: &'a Extractor,
    standardize: Option<(Tensor, Tensor)>,
    weight: Tensor,
    bias: Tensor,
    activation: Activation,
}

impl<'a> Classifier<'a> {
    fn new(head: &HeadInput, backbone: &'a Extractor) -> Result<Self, tch::TchError> {
        let file = &head.file;
        let dim = file.feature_dim as i64;
        // Features come back on the CPU (`FeatureNet::features`): the head
        // lives there too.
        let row = |values: &[f32]| Tensor::f_from_slice(values)?.f_view([1, dim]);
        let standardize = match &file.standardization {
            Some(s) => Some((row(&s.mean)?, row(&s.scale)?)),
            None => None,
        };
        Ok(Classifier {
            backbone,
            standardize,
            weight: Tensor::f_from_slice(&file.weight)?.f_view([file.outputs() as i64, dim])?,
            bias: Tensor::f_from_slice(&file.bias)?,
            activation: file.activation(),
        })
    }

    /// `uint8 [N, S, S, 3]` → `float32 [N, K]`, normalised as predict's input
    /// path is ([`Extractor::normalize`]).
    fn forward(&self, pixels: &Tensor) -> Result<Tensor, String> {
        let text = |e: tch::TchError| e.to_string();
        let features = self
            .backbone
            .features_of_pixels(pixels)
            .map_err(|e| e.to_string())?;
        let features = match &self.standardize {
            Some((mean, scale)) => features
                .f_sub(mean)
                .and_then(|f| f.f_div(scale))
                .map_err(text)?,
            None => features,
        };
        let logits = features
            .f_matmul(&self.weight.f_tr().map_err(text)?)
            .and_then(|z| z.f_add(&self.bias))
            .map_err(text)?;
        match self.activation {
            Activation::Sigmoid => {
                let p = logits.f_sigmoid().map_err(text)?;
                let q = p.f_neg().and_then(|q| q.f_add_scalar(1.0)).map_err(text)?;
                Tensor::f_cat(&[q, p], 1).map_err(text)
            }
            Activation::Softmax => logits.f_softmax(1, Kind::Float).map_err(text),
        }
    }
}
