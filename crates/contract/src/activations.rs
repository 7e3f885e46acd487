//! The activation cache: per image, the tensor that enters the last N blocks of a
//! backbone (`extract --tune-top N`), what `tune-train` trains those blocks on.
//!
//! A folder of chunk files, each a safetensors file any Python reads with
//! `safetensors.numpy.load_file` (no effprobe needed):
//! - tensor `activation`: F16, `[rows, channels, height, width]` (NCHW, the layout
//!   PyTorch's convolutions take);
//! - metadata (plain strings): `format` (`effprobe-activations/1`), `keys` (JSON
//!   list, row i's image content key, blake3 hex, as in the feature file), `variant`,
//!   `weights.source`, `weights.blake3`, `preprocessing` (JSON, as in the feature
//!   file), `cut` (JSON [`CutPoint`]).
//!
//! Files are committed by atomic rename; a leading dot marks a temporary. Rows are
//! found by key and read from memory-mapped files, so a cache larger than memory
//! is paged in from disk as it is used, never loaded whole.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::safetensors_bytes::{required, safetensors_bytes, string_map, TensorBytes};
use crate::{Preprocessing, WeightsIdentity};

pub const ACTIVATIONS_FORMAT: &str = "effprobe-activations/1";
pub const ACTIVATION_TENSOR: &str = "activation";
/// Bytes per stored value (float16).
pub const VALUE_BYTES: usize = 2;

#[derive(Debug, thiserror::Error)]
pub enum ActivationError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not an effprobe activation file: {reason}")]
    Invalid { path: PathBuf, reason: String },
    #[error("{path}: holds other activations than {first}: {reason}")]
    Mixed {
        path: PathBuf,
        first: PathBuf,
        reason: String,
    },
    #[error("{dir}: no activation files (run extract with --tune-top N)")]
    Empty { dir: PathBuf },
    #[error("{path}: damaged ({reason}); run the same extract --tune-top again: it sets the chunk aside and computes its images again")]
    Damaged { path: PathBuf, reason: String },
}

/// Where a backbone is cut: the last `top_blocks` of its `total_blocks` blocks
/// are the tuned part, the first of them has index `first_block`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CutPoint {
    pub top_blocks: usize,
    pub first_block: usize,
    pub total_blocks: usize,
    /// `[channels, height, width]` of the tensor entering block `first_block`.
    pub shape: [usize; 3],
    /// The top is exactly the last stage (`--tune-top stage`, or an N that equals
    /// it): comparable across variants whose last stages differ in length.
    #[serde(default)]
    pub last_stage: bool,
}

impl CutPoint {
    pub fn values_per_image(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn bytes_per_image(&self) -> usize {
        self.values_per_image() * VALUE_BYTES
    }
}

/// What every row of an activation cache shares.
#[derive(Clone, Debug, PartialEq)]
pub struct ActivationMeta {
    pub variant: String,
    pub weights: WeightsIdentity,
    pub preprocessing: Preprocessing,
    pub cut: CutPoint,
}

impl ActivationMeta {
    fn to_metadata(&self, keys: &[String]) -> BTreeMap<String, String> {
        string_map([
            ("format", ACTIVATIONS_FORMAT.to_string()),
            ("keys", to_json(&keys)),
            ("variant", self.variant.clone()),
            ("weights.source", self.weights.source.clone()),
            ("weights.blake3", self.weights.blake3.clone()),
            ("preprocessing", to_json(&self.preprocessing)),
            ("cut", to_json(&self.cut)),
        ])
    }

    fn from_metadata(
        path: &Path,
        metadata: &HashMap<String, String>,
    ) -> Result<(Self, Vec<String>), ActivationError> {
        let bad = |reason: String| ActivationError::Invalid {
            path: path.to_path_buf(),
            reason,
        };
        let get = |key: &str| required(metadata, key).map_err(bad);
        let format = get("format")?;
        if format != ACTIVATIONS_FORMAT {
            return Err(bad(format!(
                "format {format:?}, this build reads {ACTIVATIONS_FORMAT:?}"
            )));
        }
        fn parse<T: serde::de::DeserializeOwned>(
            text: &str,
            key: &str,
            bad: impl Fn(String) -> ActivationError,
        ) -> Result<T, ActivationError> {
            serde_json::from_str(text).map_err(|e| bad(format!("{key}: {e}")))
        }
        let keys: Vec<String> = parse(get("keys")?, "keys", bad)?;
        let meta = ActivationMeta {
            variant: get("variant")?.to_string(),
            weights: WeightsIdentity {
                source: get("weights.source")?.to_string(),
                blake3: get("weights.blake3")?.to_string(),
            },
            preprocessing: parse(get("preprocessing")?, "preprocessing", bad)?,
            cut: parse(get("cut")?, "cut", bad)?,
        };
        Ok((meta, keys))
    }

    /// Why rows of `other` are not interchangeable with these; `None` when they are.
    pub fn difference(&self, other: &ActivationMeta) -> Option<String> {
        if self.variant != other.variant {
            return Some(format!("variant {} vs {}", other.variant, self.variant));
        }
        if self.weights.blake3 != other.weights.blake3 {
            return Some(format!(
                "weights blake3 {} vs {}",
                other.weights.blake3, self.weights.blake3
            ));
        }
        if self.preprocessing != other.preprocessing {
            return Some("another preprocessing recipe".into());
        }
        if self.cut != other.cut {
            return Some(format!("cut {:?} vs {:?}", other.cut, self.cut));
        }
        None
    }
}

fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("plain data serialises")
}

/// Writes one chunk file atomically: `values` holds `keys.len()` rows of
/// `meta.cut.values_per_image()` float16 values (as their bit patterns).
pub fn write_chunk(
    path: &Path,
    meta: &ActivationMeta,
    keys: &[String],
    values: &[u16],
) -> Result<(), ActivationError> {
    let per_image = meta.cut.values_per_image();
    assert_eq!(
        values.len(),
        keys.len() * per_image,
        "rows × values per image"
    );
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    let [c, h, w] = meta.cut.shape;
    let tensors = [TensorBytes {
        name: ACTIVATION_TENSOR.to_string(),
        dtype: "F16",
        shape: vec![keys.len(), c, h, w],
        bytes: &bytes,
    }];
    let file = safetensors_bytes(&tensors, &meta.to_metadata(keys));
    crate::atomic::write_atomically(path, &file).map_err(|source| ActivationError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// A chunk's metadata and keys, from its header alone.
pub fn chunk_keys(path: &Path) -> Result<(ActivationMeta, Vec<String>), ActivationError> {
    use std::io::Read;
    let io = |source| ActivationError::Io {
        path: path.to_path_buf(),
        source,
    };
    let bad = |reason: String| ActivationError::Invalid {
        path: path.to_path_buf(),
        reason,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut length = [0u8; 8];
    file.read_exact(&mut length).map_err(io)?;
    let length = u64::from_le_bytes(length);
    if length > 256 << 20 {
        return Err(bad(format!("header of {length} bytes")));
    }
    let mut header = vec![0u8; length as usize];
    file.read_exact(&mut header).map_err(io)?;
    let header: serde_json::Value =
        serde_json::from_slice(&header).map_err(|e| bad(format!("header: {e}")))?;
    let metadata: HashMap<String, String> = header
        .get("__metadata__")
        .cloned()
        .map(serde_json::from_value)
        .transpose()
        .map_err(|e| bad(format!("__metadata__: {e}")))?
        .unwrap_or_default();
    ActivationMeta::from_metadata(path, &metadata)
}

/// Maps one chunk and checks it whole: its header, metadata, keys, and the
/// activation tensor's dtype, shape and extent.
fn open_chunk(path: &Path) -> Result<(ActivationMeta, Vec<String>, Chunk), ActivationError> {
    let io = |source| ActivationError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    // SAFETY: chunk files are written once under a temporary name and never
    // modified after the rename that publishes them.
    let map = unsafe { memmap2::Mmap::map(&file) }.map_err(io)?;
    let bad = |reason: String| ActivationError::Invalid {
        path: path.to_path_buf(),
        reason,
    };
    let tensors = safetensors::SafeTensors::deserialize(&map).map_err(|e| bad(e.to_string()))?;
    let (header_len, header) =
        safetensors::SafeTensors::read_metadata(&map).map_err(|e| bad(e.to_string()))?;
    let (meta, keys) =
        ActivationMeta::from_metadata(path, &header.metadata().clone().unwrap_or_default())?;
    let view = tensors
        .tensor(ACTIVATION_TENSOR)
        .map_err(|e| bad(format!("tensor {ACTIVATION_TENSOR}: {e}")))?;
    let [c, h, w] = meta.cut.shape;
    if view.dtype() != safetensors::Dtype::F16 || view.shape() != [keys.len(), c, h, w] {
        return Err(bad(format!(
            "tensor {ACTIVATION_TENSOR} is {:?} {:?}, expected F16 [{}, {c}, {h}, {w}]",
            view.dtype(),
            view.shape(),
            keys.len()
        )));
    }
    let offset = header
        .tensors()
        .get(ACTIVATION_TENSOR)
        .map(|info| info.data_offsets.0)
        .unwrap_or(0);
    let data_start = 8 + header_len + offset;
    let chunk = Chunk {
        path: path.to_path_buf(),
        map,
        data_start,
    };
    Ok((meta, keys, chunk))
}

/// The keys of a chunk that reads whole (see [`open_chunk`]): how a cache
/// checks a chunk that has no seal yet.
pub fn check_chunk(path: &Path) -> Result<Vec<String>, ActivationError> {
    open_chunk(path).map(|(_, keys, _)| keys)
}

struct Chunk {
    path: PathBuf,
    map: memmap2::Mmap,
    /// Where the `activation` tensor's bytes start in the file.
    data_start: usize,
}

/// Every committed chunk of one cache folder, indexed by key.
pub struct ActivationStore {
    dir: PathBuf,
    meta: ActivationMeta,
    chunks: Vec<Chunk>,
    rows: HashMap<String, (usize, usize)>,
}

impl ActivationStore {
    /// Opens every committed chunk of `dir`; all must hold the same activations.
    pub fn open(dir: &Path) -> Result<Self, ActivationError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| ActivationError::Io { path, source }
        };
        let mut paths = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io(dir))? {
            let path = entry.map_err(io(dir))?.path();
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if name.ends_with(".safetensors") && !name.starts_with('.') {
                paths.push(path);
            }
        }
        paths.sort();
        let mut store: Option<ActivationStore> = None;
        for path in paths {
            let verdict = crate::seal::check(&path).map_err(io(&path))?;
            if let Some(reason) = verdict.damage() {
                return Err(ActivationError::Damaged { path, reason });
            }
            let (meta, keys, chunk) = open_chunk(&path)?;
            let store = store.get_or_insert_with(|| ActivationStore {
                dir: dir.to_path_buf(),
                meta: meta.clone(),
                chunks: Vec::new(),
                rows: HashMap::new(),
            });
            if let Some(reason) = store.meta.difference(&meta) {
                return Err(ActivationError::Mixed {
                    path,
                    first: store.chunks[0].path.clone(),
                    reason,
                });
            }
            let index = store.chunks.len();
            for (row, key) in keys.into_iter().enumerate() {
                store.rows.entry(key).or_insert((index, row));
            }
            store.chunks.push(chunk);
        }
        store.ok_or_else(|| ActivationError::Empty {
            dir: dir.to_path_buf(),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn meta(&self) -> &ActivationMeta {
        &self.meta
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn contains(&self, key: &str) -> bool {
        self.rows.contains_key(key)
    }

    /// Every key the store holds.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.rows.keys().map(String::as_str)
    }

    /// The float16 bytes (little-endian) of `key`'s activation, CHW order.
    pub fn row_bytes(&self, key: &str) -> Option<&[u8]> {
        let &(chunk, row) = self.rows.get(key)?;
        let chunk = &self.chunks[chunk];
        let size = self.meta.cut.bytes_per_image();
        let start = chunk.data_start + row * size;
        chunk.map.get(start..start + size)
    }
}
