//! The activation cache (`extract --tune-top N`): beside a backbone's feature
//! cache, one folder per (variant, weights, preprocessing, cut) holding
//! safetensors chunks ([`contract::activations`]), committed by atomic rename and
//! sealed with their blake3 ([`contract::seal`]), so a rerun computes only the
//! images it lacks. A chunk that fails its seal or does not read is set aside into
//! `damaged/` with a warning, and its images are computed again.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use contract::activations::{chunk_keys, write_chunk, ActivationMeta, CutPoint};
use contract::seal;

use super::admit::{admit, ChunkKind};
use super::ExtractError;

/// The most a chunk buffers before it is written (B7 at 600 px: 240 images).
const CHUNK_BYTES: usize = 64 << 20;

pub struct ActivationCache {
    dir: PathBuf,
    meta: ActivationMeta,
    known: HashSet<String>,
    chunk_prefix: String,
    chunk_rows: usize,
    next_chunk: u32,
    keys: Vec<String>,
    values: Vec<u16>,
}

/// Identifies the activations: the features' fingerprint and the cut.
pub fn fingerprint(feature_fingerprint: &str, cut: &CutPoint) -> String {
    let identity = serde_json::json!({
        "features": feature_fingerprint,
        "cut": cut,
        "dtype": "f16",
    });
    blake3::hash(identity.to_string().as_bytes())
        .to_hex()
        .to_string()
}

impl ActivationCache {
    pub fn open(
        root: &Path,
        meta: ActivationMeta,
        fingerprint: &str,
        owner: &str,
        chunk_rows: usize,
    ) -> Result<Self, ExtractError> {
        let dir = root.join(format!(
            "{}-top{}-{}",
            meta.variant,
            meta.cut.top_blocks,
            &fingerprint[..16]
        ));
        let io = |source| ExtractError::Io {
            path: dir.clone(),
            source,
        };
        std::fs::create_dir_all(&dir).map_err(io)?;
        let mut known = HashSet::new();
        for entry in std::fs::read_dir(&dir).map_err(io)? {
            let path = entry.map_err(io)?.path();
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if name.starts_with('.') {
                // A temporary of ours from a killed run: never committed, so garbage.
                if name.starts_with(&format!(".{owner}-")) {
                    let _ = std::fs::remove_file(&path);
                }
                continue;
            }
            if !name.ends_with(".safetensors") {
                continue;
            }
            if let Some(keys) = admit(&path, &ACTIVATION_CHUNK)? {
                known.extend(keys);
            }
        }
        let started = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        let per_chunk =
            (CHUNK_BYTES / meta.cut.bytes_per_image().max(1)).clamp(1, chunk_rows.max(1));
        Ok(ActivationCache {
            dir,
            meta,
            known,
            chunk_prefix: format!("{owner}-{started}-{}", contract::atomic::process_token()),
            chunk_rows: per_chunk,
            next_chunk: 0,
            keys: Vec::new(),
            values: Vec::new(),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn cut(&self) -> CutPoint {
        self.meta.cut
    }

    pub fn contains(&self, key: &str) -> bool {
        self.known.contains(key)
    }

    /// How many of `keys` the cache holds.
    pub fn count_of<'a>(&self, keys: impl IntoIterator<Item = &'a str>) -> usize {
        keys.into_iter().filter(|k| self.known.contains(*k)).count()
    }

    pub fn append(&mut self, key: &str, activation: &[u16]) -> Result<(), ExtractError> {
        self.keys.push(key.to_string());
        self.values.extend_from_slice(activation);
        self.known.insert(key.to_string());
        if self.keys.len() >= self.chunk_rows {
            self.commit()?;
        }
        Ok(())
    }

    /// Makes every appended row durable in one chunk file.
    pub fn commit(&mut self) -> Result<(), ExtractError> {
        if self.keys.is_empty() {
            return Ok(());
        }
        let path = self.dir.join(format!(
            "{}-{:06}.safetensors",
            self.chunk_prefix, self.next_chunk
        ));
        self.next_chunk += 1;
        write_chunk(&path, &self.meta, &self.keys, &self.values)
            .map_err(|e| ExtractError::Activations(e.to_string()))?;
        seal::seal(&path).map_err(|source| ExtractError::Io {
            path: path.clone(),
            source,
        })?;
        self.keys.clear();
        self.values.clear();
        Ok(())
    }
}

/// Activation chunks: keys from the header when sealed; an unsealed one must
/// read whole (header, keys and the activation tensor's shape).
const ACTIVATION_CHUNK: ChunkKind = ChunkKind {
    name: "activation chunk",
    keys: |chunk| {
        chunk_keys(chunk)
            .map(|(_, keys)| keys)
            .map_err(|e| e.to_string())
    },
    check: |chunk| contract::activations::check_chunk(chunk).map_err(|e| e.to_string()),
};
