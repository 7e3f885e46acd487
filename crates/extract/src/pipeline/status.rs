//! `extract status --out DIR`: per backbone, which shards of a sharded extract
//! are done (a completion record that matches its part file), running (a lock
//! held on this host, or another host's fresh heartbeat) or missing, the missing
//! ones in Slurm array syntax.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use contract::shard::{array_syntax, shards_phrase};
use contract::{RecordError, Shard, ShardSet};

use super::lock::{shard_locks, LockState};

/// One sharding (N) of one backbone.
#[derive(Clone, Debug, PartialEq)]
pub struct ShardingStatus {
    pub variant: String,
    pub count: u32,
    pub done: Vec<u32>,
    /// Shard and who runs it.
    pub running: Vec<(u32, String)>,
    /// Shard and what is known of it (a run that stopped, a part without record).
    pub missing: Vec<(u32, Option<String>)>,
}

/// The whole output folder.
#[derive(Clone, Debug, PartialEq)]
pub struct Status {
    pub out: PathBuf,
    pub shardings: Vec<ShardingStatus>,
    /// Sets that cannot train as they are: two shardings in one folder, shards
    /// that scanned different datasets.
    pub problems: Vec<String>,
}

/// How `extract status` ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Every shard of every backbone is done.
    Complete,
    /// Some shard is missing: run it again.
    Missing,
    /// None missing, some still running: wait.
    Running,
    /// The folder's shards are not one dataset (see `problems`).
    Inconsistent,
}

#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Record(#[from] RecordError),
    #[error("{0}: no shards here: no VARIANT/shard-K-of-N files and no shard locks (not started yet, or not an `extract --shard` output folder)")]
    NoShards(PathBuf),
}

impl Status {
    pub fn scan(out: &Path) -> Result<Status, StatusError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| StatusError::Io { path, source }
        };
        let mut sets: BTreeMap<String, ShardSet> = BTreeMap::new();
        for entry in std::fs::read_dir(out).map_err(io(out))? {
            let path = entry.map_err(io(out))?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if name.starts_with('.') || !path.is_dir() {
                continue;
            }
            let set = ShardSet::scan(&path)?;
            if !set.is_empty() {
                sets.insert(name.to_string(), set);
            }
        }
        let mut locks: Vec<(Shard, LockState)> = Vec::new();
        for (shard, path) in shard_locks(out).map_err(io(out))? {
            locks.push((shard, LockState::inspect(&path).map_err(io(&path))?));
        }
        // A lock names its run's backbones; an unreadable one may be any's.
        let names = |state: &LockState, variant: &str| {
            state
                .holder()
                .is_none_or(|h| h.variants.iter().any(|v| v == variant))
        };
        let mut variants: BTreeSet<String> = sets.keys().cloned().collect();
        for (_, state) in &locks {
            if let Some(holder) = state.holder() {
                variants.extend(holder.variants.iter().cloned());
            }
        }

        let mut status = Status {
            out: out.to_path_buf(),
            shardings: Vec::new(),
            problems: Vec::new(),
        };
        for variant in &variants {
            let set = sets.get(variant);
            // N from the variant's files, and from its runs in progress; from
            // ended runs only while it has no files (every task died early).
            let mut counts: BTreeSet<u32> = set
                .map(|s| s.shardings.keys().copied().collect())
                .unwrap_or_default();
            let has_files = !counts.is_empty();
            for (shard, state) in &locks {
                if names(state, variant) && (state.is_running() || !has_files) {
                    counts.insert(shard.count);
                }
            }
            if counts.len() > 1 {
                status.problems.push(format!(
                    "{variant}: shards of {} shardings (N = {}) in one folder: remove the parts and records of the one you do not mean",
                    counts.len(),
                    counts.iter().map(u32::to_string).collect::<Vec<_>>().join(" and ")
                ));
            }
            if let Some(set) = set.filter(|s| !s.other_parts.is_empty()) {
                status.problems.push(format!(
                    "{variant}: shard parts beside other part files ({}): move one kind elsewhere",
                    set.other_parts
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            for count in counts {
                let sharding = set.and_then(|s| s.shardings.get(&count));
                if let Some(sharding) = sharding {
                    let datasets = sharding.datasets();
                    if datasets.len() > 1 {
                        status.problems.push(format!(
                            "{variant}: the dataset changed between shards: {}",
                            datasets
                                .values()
                                .map(|shards| format!(
                                    "{} saw {} images",
                                    shards_phrase(shards),
                                    sharding.done[&shards[0]].dataset.images
                                ))
                                .collect::<Vec<_>>()
                                .join("; ")
                        ));
                    }
                }
                let mut row = ShardingStatus {
                    variant: variant.clone(),
                    count,
                    done: Vec::new(),
                    running: Vec::new(),
                    missing: Vec::new(),
                };
                for index in 0..count {
                    if sharding.is_some_and(|s| s.done.contains_key(&index)) {
                        row.done.push(index);
                        continue;
                    }
                    let shard = Shard { index, count };
                    let lock = locks
                        .iter()
                        .find(|(s, state)| *s == shard && names(state, variant))
                        .map(|(_, state)| state);
                    match lock {
                        Some(state) if state.is_running() => {
                            row.running.push((index, state.describe()));
                        }
                        _ => {
                            let note = sharding
                                .and_then(|s| s.unconfirmed.get(&index).cloned())
                                .or_else(|| lock.map(LockState::describe));
                            row.missing.push((index, note));
                        }
                    }
                }
                status.shardings.push(row);
            }
        }
        if status.shardings.is_empty() {
            return Err(StatusError::NoShards(out.to_path_buf()));
        }
        Ok(status)
    }

    pub fn verdict(&self) -> Verdict {
        if !self.problems.is_empty() {
            Verdict::Inconsistent
        } else if self.shardings.iter().any(|s| !s.missing.is_empty()) {
            Verdict::Missing
        } else if self.shardings.iter().any(|s| !s.running.is_empty()) {
            Verdict::Running
        } else {
            Verdict::Complete
        }
    }

    /// Shards missing for any backbone, by N: one run of a shard extracts all of
    /// its backbones, so these are the tasks to submit again.
    pub fn missing_by_count(&self) -> BTreeMap<u32, Vec<u32>> {
        let mut by: BTreeMap<u32, BTreeSet<u32>> = BTreeMap::new();
        for sharding in &self.shardings {
            let entry = by.entry(sharding.count).or_default();
            entry.extend(sharding.missing.iter().map(|(k, _)| *k));
        }
        by.into_iter()
            .filter(|(_, missing)| !missing.is_empty())
            .map(|(n, missing)| (n, missing.into_iter().collect()))
            .collect()
    }

    pub fn render(&self) -> String {
        let list = |shards: &[u32]| {
            if shards.is_empty() {
                "none".to_string()
            } else {
                array_syntax(shards)
            }
        };
        let mut text = String::new();
        for s in &self.shardings {
            let running: Vec<u32> = s.running.iter().map(|(k, _)| *k).collect();
            let missing: Vec<u32> = s.missing.iter().map(|(k, _)| *k).collect();
            let _ = writeln!(
                text,
                "{}: {} shards: done {}; running {}; missing {}",
                s.variant,
                s.count,
                list(&s.done),
                list(&running),
                list(&missing)
            );
            for (k, who) in &s.running {
                let _ = writeln!(text, "  shard {k} running: {who}");
            }
            for (k, note) in &s.missing {
                if let Some(note) = note {
                    let _ = writeln!(text, "  shard {k} missing: {note}");
                }
            }
        }
        for problem in &self.problems {
            let _ = writeln!(text, "problem: {problem}");
        }
        for (count, missing) in self.missing_by_count() {
            let _ = writeln!(
                text,
                "missing shards of {count}: {}  (sbatch --array={} with the same script and {}={count})",
                array_syntax(&missing),
                array_syntax(&missing),
                super::shard::NUM_SHARDS_VAR
            );
        }
        text
    }
}
