use std::fs::{File, OpenOptions, TryLockError};
use std::io::Write;
use std::path::Path;

use super::ExtractError;

/// An exclusive lock on an output directory (or one shard of it), held for the
/// life of the value. The OS releases it if the process dies, so a `kill -9`
/// never leaves a stale lock behind.
pub struct OutputLock {
    _file: File,
}

impl OutputLock {
    pub fn acquire(dir: &Path, name: &str) -> Result<Self, ExtractError> {
        let path = dir.join(name);
        let io = |source| ExtractError::Io {
            path: path.clone(),
            source,
        };
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let holder = std::fs::read_to_string(&path).unwrap_or_default();
                return Err(ExtractError::AlreadyRunning {
                    dir: dir.to_path_buf(),
                    holder: holder.trim().to_string(),
                });
            }
            Err(TryLockError::Error(source)) => return Err(io(source)),
        }
        file.set_len(0).map_err(io)?;
        writeln!(file, "pid {}", std::process::id()).map_err(io)?;
        Ok(OutputLock { _file: file })
    }
}
