//! The content-addressed feature cache: one folder per (variant, weights,
//! preprocessing) triple, holding chunk files committed by atomic rename, each
//! sealed with its blake3 ([`contract::seal`]). A chunk whose seal disagrees, or
//! that does not decode, is set aside into `damaged/` with a warning and its
//! images are computed again: a damaged cache heals instead of stopping a run.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use contract::seal;
use contract::{FeatureMeta, FeatureReader, FeatureRow, FeatureWriter};

use super::admit::{admit, ChunkKind};
use super::ExtractError;

const TIMING_SUFFIX: &str = ".timing.json";

/// Backbone forward time spent on a number of images.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BackboneTiming {
    pub images: usize,
    pub seconds: f64,
}

impl BackboneTiming {
    pub fn seconds_per_image(&self) -> f64 {
        self.seconds / self.images.max(1) as f64
    }
}

pub struct FeatureCache {
    dir: PathBuf,
    meta: FeatureMeta,
    known: HashSet<String>,
    /// Chunks checked against their seal (or decoded whole and sealed) by this process.
    trusted: HashSet<PathBuf>,
    chunk_prefix: String,
    chunk_rows: usize,
    next_chunk: u32,
    writer: Option<(FeatureWriter, PathBuf)>,
}

impl FeatureCache {
    /// Opens (or creates) `root/<variant>-<fingerprint>`, learning which keys its
    /// committed chunks hold. `owner` tags this process's chunk files (a shard).
    pub fn open(
        root: &Path,
        meta: FeatureMeta,
        fingerprint: &str,
        owner: &str,
        chunk_rows: usize,
    ) -> Result<Self, ExtractError> {
        let dir = Self::dir_for(root, &meta.variant, fingerprint);
        std::fs::create_dir_all(&dir).map_err(|source| ExtractError::Io {
            path: dir.clone(),
            source,
        })?;
        let mut known = HashSet::new();
        let mut trusted = HashSet::new();
        for chunk in chunk_files(&dir)? {
            let name = chunk
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if name.starts_with('.') {
                // A temporary of ours from a killed run: never committed, so garbage.
                if name.starts_with(&format!(".{owner}-")) {
                    let _ = std::fs::remove_file(&chunk);
                }
                continue;
            }
            if let Some(keys) = admit(&chunk, &FEATURE_CHUNK)? {
                known.extend(keys);
                trusted.insert(chunk);
            }
        }
        let started = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        Ok(FeatureCache {
            dir,
            meta,
            known,
            trusted,
            chunk_prefix: format!("{owner}-{started}-{}", contract::atomic::process_token()),
            chunk_rows: chunk_rows.max(1),
            next_chunk: 0,
            writer: None,
        })
    }

    /// The folder under `root` that holds (or would hold) these features' rows.
    pub fn dir_for(root: &Path, variant: &str, fingerprint: &str) -> PathBuf {
        root.join(format!("{variant}-{}", &fingerprint[..16]))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn contains(&self, key: &str) -> bool {
        self.known.contains(key)
    }

    pub fn append(&mut self, row: FeatureRow) -> Result<(), ExtractError> {
        if self.writer.is_none() {
            let path = self.dir.join(format!(
                "{}-{:06}.parquet",
                self.chunk_prefix, self.next_chunk
            ));
            self.next_chunk += 1;
            self.writer = Some((FeatureWriter::create(&path, &self.meta)?, path));
        }
        let key = row.key.clone();
        let (writer, _) = self.writer.as_mut().expect("opened above");
        writer.write_row(row)?;
        self.known.insert(key);
        if writer.rows_written() >= self.chunk_rows {
            self.commit()?;
        }
        Ok(())
    }

    /// Makes every appended row durable: the chunk file appears under its real
    /// name only now, complete, and is sealed.
    pub fn commit(&mut self) -> Result<(), ExtractError> {
        if let Some((writer, path)) = self.writer.take() {
            writer.finish()?;
            seal::seal(&path).map_err(|source| ExtractError::Io {
                path: path.clone(),
                source,
            })?;
            self.trusted.insert(path);
        }
        Ok(())
    }

    /// Committed chunks whose values can be read: those checked already, and any
    /// another process (a shard) committed since, once they pass the same check.
    fn readable_chunks(&self) -> Result<Vec<PathBuf>, ExtractError> {
        let mut chunks = Vec::new();
        for chunk in committed_chunks(&self.dir)? {
            if self.trusted.contains(&chunk) || admit(&chunk, &FEATURE_CHUNK)?.is_some() {
                chunks.push(chunk);
            }
        }
        Ok(chunks)
    }

    /// Remembers what computing this run's rows cost, so that a later run served
    /// from the cache can still report the backbone's time per image. One file
    /// per process: shards never write the same file.
    pub fn record_timing(&self, timing: BackboneTiming) -> Result<(), ExtractError> {
        if timing.images == 0 {
            return Ok(());
        }
        let path = self
            .dir
            .join(format!("{}{TIMING_SUFFIX}", self.chunk_prefix));
        let json = serde_json::to_string(&timing).expect("plain data serialises");
        contract::atomic::write_atomically(&path, json.as_bytes()).map_err(|source| {
            ExtractError::Io {
                path: path.clone(),
                source,
            }
        })
    }

    /// Backbone time and images over every run that computed rows for this cache.
    pub fn timing(&self) -> Result<Option<BackboneTiming>, ExtractError> {
        let io = |source| ExtractError::Io {
            path: self.dir.clone(),
            source,
        };
        let mut total = BackboneTiming::default();
        for entry in std::fs::read_dir(&self.dir).map_err(io)? {
            let path = entry.map_err(io)?.path();
            if !path.to_string_lossy().ends_with(TIMING_SUFFIX) {
                continue;
            }
            let parsed = std::fs::read_to_string(&path)
                .ok()
                .and_then(|text| serde_json::from_str::<BackboneTiming>(&text).ok());
            match parsed {
                Some(timing) => {
                    total.images += timing.images;
                    total.seconds += timing.seconds;
                }
                None => tracing::warn!("ignoring unreadable timing file {}", path.display()),
            }
        }
        Ok((total.images > 0).then_some(total))
    }

    /// Features of the `wanted` keys, from every committed chunk.
    pub fn load(&self, wanted: &HashSet<&str>) -> Result<HashMap<String, Vec<f32>>, ExtractError> {
        let mut found: HashMap<String, Vec<f32>> = HashMap::with_capacity(wanted.len());
        for chunk in self.readable_chunks()? {
            for batch in FeatureReader::open(&chunk)? {
                let batch = batch?;
                for (row, key) in batch.keys.iter().enumerate() {
                    if wanted.contains(key.as_str()) && !found.contains_key(key) {
                        found.insert(key.clone(), batch.feature(row).to_vec());
                    }
                }
            }
        }
        Ok(found)
    }
}

/// Decoded chunks kept at once while streaming in another order than the chunks':
/// one run's chunks follow path order, so a few suffice.
const OPEN_CHUNKS: usize = 4;

impl FeatureCache {
    /// Calls `write(position, feature)` for each key of `in_order` that a committed
    /// chunk holds, in that order, with only the keys' places and a few chunks in
    /// memory: what a run writes does not grow with the dataset.
    pub fn for_each_in_order(
        &self,
        in_order: &[&str],
        mut write: impl FnMut(usize, &[f32]) -> Result<(), ExtractError>,
    ) -> Result<(), ExtractError> {
        let wanted: HashSet<&str> = in_order.iter().copied().collect();
        let mut chunks = Vec::new();
        let mut place: HashMap<&str, (usize, usize)> = HashMap::with_capacity(wanted.len());
        for chunk in self.readable_chunks()? {
            let (_, keys) = FeatureReader::read_keys(&chunk)?;
            for (row, key) in keys.iter().enumerate() {
                if let Some(&wanted) = wanted.get(key.as_str()) {
                    place.entry(wanted).or_insert((chunks.len(), row));
                }
            }
            chunks.push(chunk);
        }
        let mut open: std::collections::VecDeque<(usize, contract::FeatureBatch)> =
            Default::default();
        for (position, key) in in_order.iter().enumerate() {
            let Some(&(chunk, row)) = place.get(key) else {
                continue;
            };
            let slot = match open.iter().position(|(c, _)| *c == chunk) {
                Some(slot) => slot,
                None => {
                    if open.len() == OPEN_CHUNKS {
                        open.pop_front();
                    }
                    open.push_back((chunk, FeatureReader::open(&chunks[chunk])?.read_all()?));
                    open.len() - 1
                }
            };
            write(position, open[slot].1.feature(row))?;
        }
        Ok(())
    }
}

/// Feature chunks: keys from the footer-indexed key column when sealed; an
/// unsealed one must decode whole.
const FEATURE_CHUNK: ChunkKind = ChunkKind {
    name: "cache chunk",
    keys: |chunk| {
        FeatureReader::read_keys(chunk)
            .map(|(_, keys)| keys)
            .map_err(|e| e.to_string())
    },
    check: |chunk| {
        FeatureReader::open(chunk)
            .and_then(|reader| reader.read_all())
            .map(|batch| batch.keys)
            .map_err(|e| e.to_string())
    },
};

/// Chunk files under their real names (a leading dot marks a temporary).
fn committed_chunks(dir: &Path) -> Result<Vec<PathBuf>, ExtractError> {
    Ok(chunk_files(dir)?
        .into_iter()
        .filter(|chunk| {
            !chunk
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect())
}

fn chunk_files(dir: &Path) -> Result<Vec<PathBuf>, ExtractError> {
    let io = |source| ExtractError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.ends_with(".parquet") || name.contains(".parquet.partial-") {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}
