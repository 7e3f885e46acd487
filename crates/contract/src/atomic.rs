//! Publishing a file atomically, the one way every stage does it: written under a
//! unique temporary name in the target's own folder (so the rename never crosses
//! file systems), synced, then renamed over the target, and the folder synced. A
//! crash or an error never leaves a half-written file under the real name, and
//! two writers of the same target (shards sharing `--splits`, two runs of one
//! shard on two machines) never share a temporary.

use std::collections::hash_map::RandomState;
use std::fs::File;
use std::hash::{BuildHasher, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// Temporaries of one process are told apart by a counter.
static NEXT_TEMPORARY: AtomicU64 = AtomicU64::new(0);

/// A file being written that appears under its real name only on [`commit`].
/// Dropped uncommitted, it removes its temporary.
///
/// [`commit`]: AtomicFile::commit
#[derive(Debug)]
pub struct AtomicFile {
    target: PathBuf,
    temporary: PathBuf,
    file: Option<File>,
}

/// This process among every writer of a shared folder: its pid and 32 random
/// bits. The pid alone is not enough on shared storage: two containers on two
/// machines (a retried Kubernetes pod beside the one it replaces) are often both
/// pid 1.
pub fn process_token() -> &'static str {
    static TOKEN: OnceLock<String> = OnceLock::new();
    TOKEN.get_or_init(|| {
        // std seeds every RandomState from the operating system's randomness.
        let random = RandomState::new().build_hasher().finish();
        format!("{}-{:08x}", std::process::id(), random as u32)
    })
}

/// `.NAME.partial-PID-RANDOM-N` beside `target`: hidden, and starting with the
/// target's name, so a folder's owner can find its own leftovers.
pub fn temporary_path(target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let n = NEXT_TEMPORARY.fetch_add(1, Ordering::Relaxed);
    target.with_file_name(format!(".{name}.partial-{}-{n}", process_token()))
}

impl AtomicFile {
    pub fn create(target: impl Into<PathBuf>) -> std::io::Result<Self> {
        let target = target.into();
        let temporary = temporary_path(&target);
        let file = File::create(&temporary)?;
        Ok(AtomicFile {
            target,
            temporary,
            file: Some(file),
        })
    }

    /// Where the bytes go until the commit (for writers that open paths
    /// themselves, such as libtorch's module saver).
    pub fn temporary(&self) -> &Path {
        &self.temporary
    }

    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Syncs the file and renames it over the target.
    pub fn commit(mut self) -> std::io::Result<()> {
        if let Some(file) = self.file.take() {
            file.sync_all()?;
        }
        std::fs::rename(&self.temporary, &self.target)?;
        if let Some(dir) = self.target.parent().filter(|d| !d.as_os_str().is_empty()) {
            // Makes the rename itself durable; failing here loses nothing written.
            if let Ok(dir) = File::open(dir) {
                let _ = dir.sync_all();
            }
        }
        Ok(())
    }

    fn file(&mut self) -> std::io::Result<&mut File> {
        self.file
            .as_mut()
            .ok_or_else(|| std::io::Error::other("write after commit"))
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.file()?.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file()?.flush()
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.file.is_some() {
            let _ = std::fs::remove_file(&self.temporary);
        }
    }
}

/// Writes `bytes` to `path` atomically.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = AtomicFile::create(path)?;
    file.write_all(bytes)?;
    file.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_under_the_real_name_until_the_commit() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("run.json");
        std::fs::write(&target, "old").unwrap();
        let mut file = AtomicFile::create(&target).unwrap();
        file.write_all(b"new").unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "old");
        let temporary = file.temporary().to_path_buf();
        file.commit().unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "new");
        assert!(!temporary.exists());
    }

    #[test]
    fn a_dropped_file_leaves_nothing_and_writers_never_share_a_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("splits.csv");
        let first = AtomicFile::create(&target).unwrap();
        let second = AtomicFile::create(&target).unwrap();
        assert_ne!(first.temporary(), second.temporary());
        drop(first);
        drop(second);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
