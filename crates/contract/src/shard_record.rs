//! A shard's completion record, `VARIANT/_shard-0000K-of-0000N.done.json`, and
//! the state of a folder of shards. The leading underscore is Hadoop's mark for
//! metadata (`_SUCCESS`): pyarrow, pandas, Spark and DuckDB read the folder as
//! a dataset of its part files without tripping over the records.
//!
//! `extract --shard K/N` publishes the record (atomically) only after the shard's
//! part file is in place under its real name, and withdraws it when a run of the
//! same shard starts again. So a record says "this part file is complete and
//! final", and it records the part's size so that a part replaced without its
//! record (a rerun that stopped between the two) is not taken for done. Readers
//! (`extract status`, `head-train`, `tune-train`) count a shard done only then.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::records::{io_error, read_versioned_json, write_json, RecordError};
use crate::shard::{array_syntax, shards_phrase, Shard};

/// Bumped on any change a reader of the previous record would misread.
pub const SHARD_RECORD_SCHEMA_VERSION: u32 = 1;
pub const PART_SUFFIX: &str = ".parquet";
pub const RECORD_PREFIX: &str = "_";
pub const RECORD_SUFFIX: &str = ".done.json";
const WHAT: &str = "shard completion record";

/// The dataset as the shard's process scanned it: every shard of a set must
/// have seen the same one, or the set is not one dataset.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScannedDataset {
    pub root: String,
    /// Usable images in the whole dataset (every shard's).
    pub images: usize,
    /// blake3 over the sorted (key, label, split) of every image: equal for two
    /// scans exactly when they found the same images with the same labels and splits.
    pub fingerprint: String,
}

/// What one process did for one shard of one backbone.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShardRecord {
    pub schema_version: u32,
    pub tool_version: String,
    pub variant: String,
    /// `K/N`.
    pub shard: String,
    /// Where K/N came from: `--shard K/N`, or the variables `--shard auto` read.
    pub shard_from: String,
    /// The part file's name (in the record's folder) and size when published.
    pub part: String,
    pub part_bytes: u64,
    /// Rows in the part file: the shard's images less the rejected ones.
    pub rows: usize,
    /// The dataset's images that fall in this shard.
    pub images: usize,
    /// Of those, files that could not be decoded (listed in `rejects_file`).
    pub rejected: usize,
    pub rejects_file: String,
    /// Rows computed by the backbone in this run; the rest came from the cache.
    pub computed: usize,
    pub cached: usize,
    pub dataset: ScannedDataset,
    pub weights_blake3: String,
    pub feature_format_version: u32,
    pub host: String,
    pub pid: u32,
    pub started_at: String,
    pub finished_at: String,
    pub wall_seconds: f64,
    /// Decode + resize CPU seconds, shared by the run's backbones.
    pub decode_seconds: f64,
    pub backbone_seconds: f64,
}

impl ShardRecord {
    /// `dir/shard-0000K-of-0000N.parquet`.
    pub fn part_path(dir: &Path, shard: Shard) -> PathBuf {
        dir.join(format!("{}{PART_SUFFIX}", shard.tag()))
    }

    /// `dir/_shard-0000K-of-0000N.done.json`.
    pub fn path(dir: &Path, shard: Shard) -> PathBuf {
        dir.join(format!("{RECORD_PREFIX}{}{RECORD_SUFFIX}", shard.tag()))
    }

    pub fn read(path: &Path) -> Result<Self, RecordError> {
        read_versioned_json(path, WHAT, SHARD_RECORD_SCHEMA_VERSION, None)
    }

    /// Publishes the record of `shard` in `dir` atomically; call it only once the
    /// part file is complete under its real name.
    pub fn publish(&self, dir: &Path, shard: Shard) -> Result<(), RecordError> {
        write_json(&Self::path(dir, shard), self)
    }

    /// Takes back the record of `shard` in `dir`, if any: a new run of the shard is
    /// about to replace its part file, so it is not done until that run says so.
    pub fn withdraw(dir: &Path, shard: Shard) -> Result<(), RecordError> {
        let path = Self::path(dir, shard);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io_error(&path)(e)),
            _ => Ok(()),
        }
    }
}

/// The shards of one N found in a folder.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Sharding {
    pub count: u32,
    /// Shards whose record is present and describes the part file beside it.
    pub done: BTreeMap<u32, ShardRecord>,
    /// Shards with a part file or a record that do not make a done shard, and why.
    pub unconfirmed: BTreeMap<u32, String>,
}

impl Sharding {
    /// Every shard of 0..N that is not done.
    pub fn missing(&self) -> Vec<u32> {
        (0..self.count)
            .filter(|k| !self.done.contains_key(k))
            .collect()
    }

    pub fn is_complete(&self) -> bool {
        self.done.len() == self.count as usize
    }

    /// Done shards by the dataset they scanned (fingerprint → shards): more than
    /// one entry means the dataset changed between shards.
    pub fn datasets(&self) -> BTreeMap<&str, Vec<u32>> {
        let mut by: BTreeMap<&str, Vec<u32>> = BTreeMap::new();
        for (k, record) in &self.done {
            by.entry(record.dataset.fingerprint.as_str())
                .or_default()
                .push(*k);
        }
        by
    }
}

/// The shard files of a folder (`VARIANT/` of an `extract --out`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ShardSet {
    pub dir: PathBuf,
    /// By N; more than one is two shardings mixed in one folder.
    pub shardings: BTreeMap<u32, Sharding>,
    /// `*.parquet` files whose names are not shard parts.
    pub other_parts: Vec<PathBuf>,
}

impl ShardSet {
    /// Reads the folder's names, records and part sizes (never the parts' rows).
    /// A record that cannot be read, or of a newer schema, is an error naming it.
    pub fn scan(dir: &Path) -> Result<ShardSet, RecordError> {
        let mut set = ShardSet {
            dir: dir.to_path_buf(),
            ..Default::default()
        };
        let mut parts: BTreeMap<Shard, u64> = BTreeMap::new();
        let mut records: BTreeMap<Shard, PathBuf> = BTreeMap::new();
        for entry in std::fs::read_dir(dir).map_err(io_error(dir))? {
            let path = entry.map_err(io_error(dir))?.path();
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            if name.starts_with('.') {
                continue; // temporaries of writers
            }
            let record = name.strip_prefix(RECORD_PREFIX);
            match (record, Shard::from_file_name(record.unwrap_or(name))) {
                (None, Some((shard, PART_SUFFIX))) => {
                    let bytes = std::fs::metadata(&path).map_err(io_error(&path))?.len();
                    parts.insert(shard, bytes);
                }
                (Some(_), Some((shard, RECORD_SUFFIX))) => {
                    records.insert(shard, path);
                }
                _ if name.ends_with(PART_SUFFIX) && path.is_file() => set.other_parts.push(path),
                _ => {}
            }
        }
        set.other_parts.sort();
        for shard in parts.keys().chain(records.keys()) {
            set.shardings
                .entry(shard.count)
                .or_insert_with(|| Sharding {
                    count: shard.count,
                    ..Default::default()
                });
        }
        for (shard, path) in &records {
            let record = ShardRecord::read(path)?;
            let sharding = set.shardings.get_mut(&shard.count).expect("added above");
            let part_name = format!("{}{PART_SUFFIX}", shard.tag());
            let verdict = match parts.get(shard) {
                _ if record.shard != shard.to_string() || record.part != part_name => Err(format!(
                    "its record {} describes shard {} ({}), not this one",
                    path.display(),
                    record.shard,
                    record.part
                )),
                None => Err(format!("its record {} has no part file", path.display())),
                Some(&bytes) if bytes != record.part_bytes => Err(format!(
                    "{part_name} has {bytes} bytes, its record {} says {} (replaced by a run \
                     that did not finish)",
                    path.display(),
                    record.part_bytes
                )),
                Some(_) => Ok(()),
            };
            match verdict {
                Ok(()) => {
                    sharding.done.insert(shard.index, record);
                }
                Err(why) => {
                    sharding.unconfirmed.insert(shard.index, why);
                }
            }
        }
        for shard in parts.keys().filter(|s| !records.contains_key(s)) {
            set.shardings
                .get_mut(&shard.count)
                .expect("added above")
                .unconfirmed
                .insert(
                    shard.index,
                    format!(
                        "{}{PART_SUFFIX} has no completion record (its run stopped before \
                         finishing, or an effprobe older than completion records wrote it)",
                        shard.tag()
                    ),
                );
        }
        Ok(set)
    }

    /// No shard part or record in the folder.
    pub fn is_empty(&self) -> bool {
        self.shardings.is_empty()
    }

    /// The only sharding, or why there is not exactly one.
    pub fn single(&self) -> Result<&Sharding, ShardSetError> {
        let dir = self.dir.clone();
        if !self.other_parts.is_empty() && !self.shardings.is_empty() {
            return Err(ShardSetError::MixedParts {
                dir,
                others: self.other_parts.clone(),
            });
        }
        let mut shardings = self.shardings.values();
        match (shardings.next(), shardings.next()) {
            (Some(only), None) => Ok(only),
            (None, _) => Err(ShardSetError::NoShards { dir }),
            (Some(_), Some(_)) => Err(ShardSetError::MixedShardings {
                dir,
                counts: self.shardings.keys().copied().collect(),
            }),
        }
    }

    /// What a trainer may read: the part files of the done shards, when every
    /// shard is done or `partial` allows gaps, and all of them scanned the same
    /// dataset. `Ok(None)` when the folder holds no shards (plain part files).
    pub fn readable(&self, partial: MissingShards) -> Result<Option<ShardCoverage>, ShardSetError> {
        if self.is_empty() {
            return Ok(None);
        }
        let sharding = self.single()?;
        let datasets = sharding.datasets();
        if datasets.len() > 1 {
            let groups = datasets
                .iter()
                .map(|(fingerprint, shards)| {
                    let record = &sharding.done[&shards[0]];
                    let last = shards
                        .iter()
                        .map(|k| sharding.done[k].finished_at.as_str())
                        .max()
                        .unwrap_or_default();
                    format!(
                        "{} saw {} images (dataset {}, finished by {last})",
                        shards_phrase(shards),
                        record.dataset.images,
                        &fingerprint[..fingerprint.len().min(12)]
                    )
                })
                .collect::<Vec<_>>()
                .join("; ");
            return Err(ShardSetError::DatasetChanged {
                dir: self.dir.clone(),
                groups,
            });
        }
        let missing = sharding.missing();
        if !missing.is_empty() && (partial == MissingShards::Refuse || sharding.done.is_empty()) {
            return Err(ShardSetError::Incomplete {
                dir: self.dir.clone(),
                count: sharding.count,
                missing: array_syntax(&missing),
                several: missing.len() > 1,
                why: sharding
                    .unconfirmed
                    .iter()
                    .map(|(k, why)| format!("; shard {k}: {why}"))
                    .collect(),
                none_done: sharding.done.is_empty(),
            });
        }
        Ok(Some(ShardCoverage {
            count: sharding.count,
            parts: sharding
                .done
                .keys()
                .map(|&k| {
                    ShardRecord::part_path(
                        &self.dir,
                        Shard {
                            index: k,
                            count: sharding.count,
                        },
                    )
                })
                .collect(),
            done: sharding.done.keys().copied().collect(),
            missing,
        }))
    }
}

/// Whether a trainer goes on over a shard set with shards not done.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MissingShards {
    /// Stop, naming them: half a dataset never trains silently.
    Refuse,
    /// `--allow-partial`: read the done ones (and say so in the metrics).
    Allow,
}

/// The shards a reader reads from a folder.
#[derive(Clone, Debug, PartialEq)]
pub struct ShardCoverage {
    pub count: u32,
    /// Part files of the done shards, in shard order.
    pub parts: Vec<PathBuf>,
    pub done: Vec<u32>,
    /// Not done: left out (only under [`MissingShards::Allow`]).
    pub missing: Vec<u32>,
}

#[derive(Debug, thiserror::Error)]
pub enum ShardSetError {
    #[error(transparent)]
    Record(#[from] RecordError),
    #[error("{dir}: {} {missing} of {count} {} not done{why}. Run `extract --shard K/N` for {} (`extract status --out` lists them in sbatch --array syntax){}",
        if *several { "shards" } else { "shard" }, if *several { "are" } else { "is" },
        if *several { "them" } else { "it" },
        if *none_done { "" } else { ", or pass --allow-partial to train on the done ones" })]
    Incomplete {
        dir: PathBuf,
        count: u32,
        /// In sbatch --array syntax.
        missing: String,
        several: bool,
        why: String,
        none_done: bool,
    },
    #[error("{dir}: holds shards of {} shardings (N = {}); remove the parts and records of the one you do not mean",
        counts.len(), counts.iter().map(u32::to_string).collect::<Vec<_>>().join(" and "))]
    MixedShardings { dir: PathBuf, counts: Vec<u32> },
    #[error("{dir}: holds shard parts and other part files ({}); move one kind elsewhere",
        others.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))]
    MixedParts { dir: PathBuf, others: Vec<PathBuf> },
    #[error("{dir}: no shard parts or records")]
    NoShards { dir: PathBuf },
    #[error("{dir}: the dataset changed between shards: {groups}. Run the shards of the older scan again")]
    DatasetChanged { dir: PathBuf, groups: String },
}
