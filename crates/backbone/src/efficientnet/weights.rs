//! Reading a safetensors weights file: refusing pickles, identifying it (blake3),
//! and checking every tensor against what a variant needs.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use contract::WeightsIdentity;
use safetensors::{Dtype, SafeTensorError, SafeTensors};
use tch::{Kind, Tensor};

use super::arch::Variant;
use super::naming::{expected_tensors, Family};
use crate::error::ModelError;

/// `__metadata__` keys effprobe writes when it converts weights (all optional on read).
pub const META_FAMILY: &str = "effprobe.family";
/// `same` or `symmetric`: the only way a timm-named file can say it is a `tf_` port.
pub const META_PADDING: &str = "effprobe.padding";
pub const META_VARIANT: &str = "effprobe.variant";
/// Where the weights came from (e.g. `timm/tf_efficientnet_b3.ns_jft_in1k`).
pub const META_SOURCE: &str = "effprobe.source";

/// A safetensors file read whole into memory.
pub struct WeightsFile {
    path: PathBuf,
    bytes: Vec<u8>,
    metadata: HashMap<String, String>,
}

impl std::fmt::Debug for WeightsFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WeightsFile")
            .field("path", &self.path)
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

impl WeightsFile {
    pub fn read(path: &Path) -> Result<Self, ModelError> {
        let bytes = std::fs::read(path).map_err(|source| ModelError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        if let Some(what) = pickle_kind(&bytes) {
            return Err(ModelError::NotSafetensors {
                path: path.to_path_buf(),
                what,
            });
        }
        let bad = |error: SafeTensorError| ModelError::BadSafetensors {
            path: path.to_path_buf(),
            reason: describe_safetensors_error(&error),
        };
        // `deserialize` checks that the tensor offsets cover the data exactly,
        // which is what catches a truncated download.
        SafeTensors::deserialize(&bytes).map_err(bad)?;
        let (_, header) = SafeTensors::read_metadata(&bytes).map_err(bad)?;
        let metadata = header.metadata().clone().unwrap_or_default();
        Ok(WeightsFile {
            path: path.to_path_buf(),
            bytes,
            metadata,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's size in bytes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    pub fn metadata(&self) -> &HashMap<String, String> {
        &self.metadata
    }

    /// blake3 of the file's bytes, with `source` (or the file's own `effprobe.source`,
    /// or its path) naming where it came from.
    pub fn identity(&self, source: Option<&str>) -> WeightsIdentity {
        let source = source
            .map(str::to_string)
            .or_else(|| self.metadata.get(META_SOURCE).cloned())
            .unwrap_or_else(|| self.path.display().to_string());
        WeightsIdentity {
            source,
            blake3: blake3::hash(&self.bytes).to_hex().to_string(),
        }
    }

    fn tensors(&self) -> SafeTensors<'_> {
        SafeTensors::deserialize(&self.bytes).expect("validated when the file was read")
    }

    /// Tensor names and shapes, sorted by name.
    pub fn shapes(&self) -> BTreeMap<String, Vec<i64>> {
        self.tensors()
            .iter()
            .map(|(name, view)| {
                let shape = view.shape().iter().map(|&d| d as i64).collect();
                (name.to_string(), shape)
            })
            .collect()
    }

    /// The file's tensors, header parsed once, for building a network.
    pub fn source(&self) -> FileSource<'_> {
        FileSource {
            path: &self.path,
            tensors: self.tensors(),
        }
    }
}

/// Where a network's parameters come from, by `state_dict` name.
pub trait TensorSource {
    /// The named tensor as f64 on the CPU (batch-norm folding is done in double precision).
    fn tensor_f64(&self, name: &str) -> Result<Tensor, ModelError>;
}

impl<T: TensorSource + ?Sized> TensorSource for &T {
    fn tensor_f64(&self, name: &str) -> Result<Tensor, ModelError> {
        (**self).tensor_f64(name)
    }
}

pub struct FileSource<'a> {
    path: &'a Path,
    tensors: SafeTensors<'a>,
}

impl TensorSource for FileSource<'_> {
    fn tensor_f64(&self, name: &str) -> Result<Tensor, ModelError> {
        let view = self
            .tensors
            .tensor(name)
            .map_err(|error| ModelError::BadSafetensors {
                path: self.path.to_path_buf(),
                reason: describe_safetensors_error(&error),
            })?;
        let kind = match view.dtype() {
            Dtype::F64 => Kind::Double,
            Dtype::F32 => Kind::Float,
            Dtype::F16 => Kind::Half,
            Dtype::BF16 => Kind::BFloat16,
            other => {
                return Err(ModelError::UnsupportedDtype {
                    path: self.path.to_path_buf(),
                    name: name.to_string(),
                    dtype: format!("{other:?}"),
                })
            }
        };
        let shape: Vec<i64> = view.shape().iter().map(|&d| d as i64).collect();
        Ok(Tensor::f_from_data_size(view.data(), &shape, kind)?.f_to_kind(Kind::Double)?)
    }
}

/// PyTorch checkpoints are zip archives (`torch.save` since 1.6) or bare pickles.
fn pickle_kind(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"PK\x03\x04") {
        Some("a zip archive (a PyTorch .pth/.pt checkpoint written by torch.save)")
    } else if bytes.len() >= 2 && bytes[0] == 0x80 && (2..=5).contains(&bytes[1]) {
        Some("a Python pickle (a legacy PyTorch .pth/.pt checkpoint)")
    } else {
        None
    }
}

fn describe_safetensors_error(error: &SafeTensorError) -> String {
    match error {
        SafeTensorError::MetadataIncompleteBuffer | SafeTensorError::InvalidHeaderLength => {
            format!(
            "the file is truncated or padded: its header describes a different number of bytes \
             than the file holds ({error})"
        )
        }
        SafeTensorError::HeaderTooSmall => {
            format!("the file is too short to hold a header ({error})")
        }
        _ => error.to_string(),
    }
}

/// Everything wrong with a file as weights of `variant` in `family`: missing,
/// unexpected and wrongly shaped tensors, each on one line.
pub fn tensor_problems(
    shapes: &BTreeMap<String, Vec<i64>>,
    variant: Variant,
    family: Family,
) -> Vec<String> {
    let expected = expected_tensors(&variant.architecture(), family);
    let mut problems = Vec::new();
    let mut known = std::collections::HashSet::new();
    for tensor in &expected {
        known.insert(tensor.name.as_str());
        match shapes.get(&tensor.name) {
            None if tensor.required => {
                problems.push(format!("missing {} {}", tensor.name, tensor.shape))
            }
            None => {}
            Some(shape) if !tensor.shape.accepts(shape) => problems.push(format!(
                "wrong shape {} {:?}, expected {}",
                tensor.name, shape, tensor.shape
            )),
            Some(_) => {}
        }
    }
    for (name, shape) in shapes {
        if !known.contains(name.as_str()) {
            problems.push(format!("unexpected {name} {shape:?}"));
        }
    }
    problems
}
