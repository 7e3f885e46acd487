//! The safetensors layout (8-byte little-endian header length, JSON header padded
//! with spaces to a multiple of 8, then the data), written here rather than by the
//! `safetensors` crate because its header comes from a `HashMap` whose order
//! changes from run to run: this way equal contents give byte-identical files.

use std::collections::{BTreeMap, HashMap};

/// One tensor: name, safetensors dtype (`F32`, `F16`), shape, little-endian bytes.
pub struct TensorBytes<'a> {
    pub name: String,
    pub dtype: &'static str,
    pub shape: Vec<usize>,
    pub bytes: &'a [u8],
}

pub fn safetensors_bytes(
    tensors: &[TensorBytes<'_>],
    metadata: &BTreeMap<String, String>,
) -> Vec<u8> {
    let mut header = serde_json::Map::new();
    header.insert("__metadata__".into(), serde_json::json!(metadata));
    let mut offset = 0usize;
    for tensor in tensors {
        header.insert(
            tensor.name.clone(),
            serde_json::json!({"dtype": tensor.dtype, "shape": tensor.shape, "data_offsets": [offset, offset + tensor.bytes.len()]}),
        );
        offset += tensor.bytes.len();
    }
    let mut header = serde_json::Value::Object(header).to_string().into_bytes();
    header.resize(header.len().div_ceil(8) * 8, b' ');
    let mut out = Vec::with_capacity(8 + header.len() + offset);
    out.extend_from_slice(&(header.len() as u64).to_le_bytes());
    out.extend_from_slice(&header);
    for tensor in tensors {
        out.extend_from_slice(tensor.bytes);
    }
    out
}

pub fn f32_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

pub fn f32_values(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// A file's metadata from `(key, value)` pairs.
pub fn string_map<const N: usize>(pairs: [(&str, String); N]) -> BTreeMap<String, String> {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// A metadata value every reader of the file needs.
pub fn required<'a>(metadata: &'a HashMap<String, String>, key: &str) -> Result<&'a str, String> {
    metadata
        .get(key)
        .map(String::as_str)
        .ok_or_else(|| format!("metadata key {key} missing"))
}
