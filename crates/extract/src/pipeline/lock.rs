//! The lock a run holds on its output folder (or on one shard of it), and what
//! `extract status` can learn from a lock file.
//!
//! The lock is the kernel's (`flock`): the OS releases it when the process dies,
//! so a `kill -9` never leaves a stale lock behind. The file also says who holds
//! it (pid, host, variants), and the holder rewrites it every [`HEARTBEAT`]: on
//! this host the kernel's lock table tells whether a run is alive; a run on
//! another host sharing the folder can only be judged by that heartbeat.

use std::fs::{File, OpenOptions, TryLockError};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::ExtractError;

/// How often a running extract rewrites its lock file.
pub const HEARTBEAT: Duration = Duration::from_secs(30);
/// A lock file of another host not rewritten for this long belongs to a run
/// that is presumably dead (clocks assumed to agree within a minute).
pub const STALE_AFTER: Duration = Duration::from_secs(120);

/// What a lock file says about its holder.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LockHolder {
    pub pid: u32,
    pub host: String,
    pub started_at: String,
    pub heartbeat_at: String,
    /// The backbones the run extracts.
    pub variants: Vec<String>,
    /// False once the run has ended and released the lock.
    pub running: bool,
}

impl LockHolder {
    fn describe(&self) -> String {
        format!(
            "pid {} on {} since {}",
            self.pid, self.host, self.started_at
        )
    }

    fn write_to(&self, file: &File) -> std::io::Result<()> {
        let mut text = serde_json::to_string(self).map_err(std::io::Error::other)?;
        text.push('\n');
        file.write_all_at(text.as_bytes(), 0)?;
        file.set_len(text.len() as u64)
    }
}

fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

/// This machine's name, as the kernel has it.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown-host".into())
}

/// An exclusive lock on an output directory (or one shard of it), held for the
/// life of the value, with a heartbeat thread rewriting the file.
pub struct OutputLock {
    file: File,
    holder: LockHolder,
    stop: Option<mpsc::Sender<()>>,
    heartbeat: Option<JoinHandle<()>>,
}

impl OutputLock {
    pub fn acquire(dir: &Path, name: &str, variants: &[String]) -> Result<Self, ExtractError> {
        let path = dir.join(name);
        let io = |source| ExtractError::Io {
            path: path.clone(),
            source,
        };
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                let holder = serde_json::from_str::<LockHolder>(&text)
                    .map(|h| h.describe())
                    .unwrap_or_else(|_| text.trim().to_string());
                return Err(ExtractError::AlreadyRunning {
                    dir: dir.to_path_buf(),
                    holder,
                });
            }
            Err(TryLockError::Error(source)) => return Err(io(source)),
        }
        let started_at = now_rfc3339();
        let holder = LockHolder {
            pid: std::process::id(),
            host: hostname(),
            started_at: started_at.clone(),
            heartbeat_at: started_at,
            variants: variants.to_vec(),
            running: true,
        };
        holder.write_to(&file).map_err(io)?;
        let (stop, stopped) = mpsc::channel::<()>();
        let beat_file = file.try_clone().map_err(io)?;
        let mut beat = holder.clone();
        let heartbeat = std::thread::Builder::new()
            .name("lock-heartbeat".into())
            .spawn(move || {
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(HEARTBEAT) {
                    beat.heartbeat_at = now_rfc3339();
                    if let Err(error) = beat.write_to(&beat_file) {
                        tracing::warn!("cannot refresh the lock file's heartbeat: {error}");
                    }
                }
            })
            .map_err(io)?;
        Ok(OutputLock {
            file,
            holder,
            stop: Some(stop),
            heartbeat: Some(heartbeat),
        })
    }
}

impl Drop for OutputLock {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(heartbeat) = self.heartbeat.take() {
            let _ = heartbeat.join();
        }
        // Said before the kernel releases the lock, so no reader sees a fresh
        // heartbeat of a run that has ended.
        self.holder.heartbeat_at = now_rfc3339();
        self.holder.running = false;
        let _ = self.holder.write_to(&self.file);
    }
}

/// What a lock file says about its run, as far as this host can tell.
#[derive(Clone, Debug, PartialEq)]
pub enum LockState {
    /// Held now by a process on this host: the kernel's lock table lists it.
    Held(Option<LockHolder>),
    /// Another host's run with a heartbeat younger than [`STALE_AFTER`]:
    /// presumably running; this host cannot check.
    Heartbeat { holder: LockHolder, age: Duration },
    /// Not held: the run ended, died, or (another host) stopped beating.
    Idle {
        holder: Option<LockHolder>,
        why: String,
    },
}

impl LockState {
    pub fn is_running(&self) -> bool {
        !matches!(self, LockState::Idle { .. })
    }

    pub fn holder(&self) -> Option<&LockHolder> {
        match self {
            LockState::Held(holder) => holder.as_ref(),
            LockState::Heartbeat { holder, .. } => Some(holder),
            LockState::Idle { holder, .. } => holder.as_ref(),
        }
    }

    /// One phrase for `extract status`.
    pub fn describe(&self) -> String {
        match self {
            LockState::Held(Some(holder)) => format!("{}, alive", holder.describe()),
            LockState::Held(None) => "locked by a process on this host".into(),
            LockState::Heartbeat { holder, age } => format!(
                "{}, heartbeat {} s ago (another host: not checked)",
                holder.describe(),
                age.as_secs()
            ),
            LockState::Idle { why, .. } => why.clone(),
        }
    }

    /// Inspects `path` without taking the lock (taking it, even for a moment,
    /// would make a run starting then fail with "already writing").
    pub fn inspect(path: &Path) -> std::io::Result<LockState> {
        let metadata = std::fs::metadata(path)?;
        let text = std::fs::read_to_string(path)?;
        let holder = serde_json::from_str::<LockHolder>(&text).ok();
        let held_here = locked_in_kernel_table(&metadata);
        if held_here {
            return Ok(LockState::Held(holder));
        }
        let here = hostname();
        let Some(holder) = holder else {
            let age = metadata
                .modified()
                .ok()
                .and_then(|m| SystemTime::now().duration_since(m).ok())
                .unwrap_or_default();
            return Ok(LockState::Idle {
                holder: None,
                why: format!(
                    "{} (unreadable lock file, last written {} s ago) is not held on this host",
                    path.display(),
                    age.as_secs()
                ),
            });
        };
        let age = humantime::parse_rfc3339(&holder.heartbeat_at)
            .ok()
            .and_then(|beat| SystemTime::now().duration_since(beat).ok())
            .unwrap_or_default();
        let why = if !holder.running {
            format!("{}: ended at {}", holder.describe(), holder.heartbeat_at)
        } else if holder.host == here {
            format!(
                "{}: stopped without finishing (not alive on this host)",
                holder.describe()
            )
        } else if age <= STALE_AFTER {
            return Ok(LockState::Heartbeat { holder, age });
        } else {
            format!(
                "{}: no heartbeat for {} s, presumably dead",
                holder.describe(),
                age.as_secs()
            )
        };
        Ok(LockState::Idle {
            holder: Some(holder),
            why,
        })
    }
}

/// Whether Linux's `/proc/locks` lists a lock on this file (device and inode):
/// locks held by processes of this host, whatever the file system.
fn locked_in_kernel_table(metadata: &std::fs::Metadata) -> bool {
    let Ok(table) = std::fs::read_to_string("/proc/locks") else {
        return false;
    };
    let dev = metadata.dev();
    // glibc's gnu_dev_major / gnu_dev_minor.
    let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
    let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
    let wanted = (major, minor, metadata.ino());
    table.lines().any(|line| {
        // `1: FLOCK  ADVISORY  WRITE 28401 fe:00:6127618 0 EOF`; a waiter's
        // line carries `->` and is not a holder.
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.get(1) == Some(&"->") {
            return false;
        }
        let Some(id) = fields.get(5) else {
            return false;
        };
        let mut parts = id.split(':');
        let (Some(major), Some(minor), Some(inode)) = (parts.next(), parts.next(), parts.next())
        else {
            return false;
        };
        let parsed = (
            u64::from_str_radix(major, 16),
            u64::from_str_radix(minor, 16),
            inode.parse::<u64>(),
        );
        matches!(parsed, (Ok(a), Ok(b), Ok(c)) if (a, b, c) == wanted)
    })
}

/// Lock files of shards in an output folder: `.lock-shard-K-of-N`.
pub fn shard_locks(out: &Path) -> std::io::Result<Vec<(contract::Shard, PathBuf)>> {
    let mut locks = Vec::new();
    for entry in std::fs::read_dir(out)? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if let Some(tag) = name.strip_prefix(LOCK_PREFIX) {
            if let Some((shard, "")) = contract::Shard::from_file_name(tag) {
                locks.push((shard, path));
            }
        }
    }
    locks.sort();
    Ok(locks)
}

/// Lock files are `.lock-OWNER` (`.lock-all`, `.lock-shard-00003-of-00008`).
pub const LOCK_PREFIX: &str = ".lock-";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_lock_is_seen_held_and_a_released_one_ended() {
        let dir = tempfile::tempdir().unwrap();
        let lock = OutputLock::acquire(dir.path(), ".lock-all", &["b0".into()]).unwrap();
        let state = LockState::inspect(&dir.path().join(".lock-all")).unwrap();
        assert!(
            matches!(&state, LockState::Held(Some(h)) if h.pid == std::process::id()),
            "{state:?}"
        );
        let second = OutputLock::acquire(dir.path(), ".lock-all", &[])
            .err()
            .unwrap();
        assert!(
            second
                .to_string()
                .contains(&format!("pid {}", std::process::id())),
            "{second}"
        );
        drop(lock);
        let state = LockState::inspect(&dir.path().join(".lock-all")).unwrap();
        assert!(
            !state.is_running() && state.describe().contains("ended"),
            "{state:?}"
        );
    }

    #[test]
    fn another_hosts_lock_is_judged_by_its_heartbeat() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".lock-shard-00001-of-00004");
        let write = |age: Duration| {
            let holder = LockHolder {
                pid: 1,
                host: "another-node".into(),
                started_at: "2025-01-01T00:00:00Z".into(),
                heartbeat_at: humantime::format_rfc3339_seconds(SystemTime::now() - age)
                    .to_string(),
                variants: vec!["b0".into()],
                running: true,
            };
            std::fs::write(&path, serde_json::to_string(&holder).unwrap()).unwrap();
        };
        write(Duration::from_secs(10));
        let state = LockState::inspect(&path).unwrap();
        assert!(matches!(state, LockState::Heartbeat { .. }), "{state:?}");
        write(STALE_AFTER + Duration::from_secs(60));
        let state = LockState::inspect(&path).unwrap();
        assert!(
            !state.is_running() && state.describe().contains("presumably dead"),
            "{state:?}"
        );
        assert_eq!(
            shard_locks(dir.path()).unwrap(),
            vec![(contract::Shard::new(1, 4).unwrap(), path)]
        );
    }
}
