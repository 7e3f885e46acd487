//! Admitting a committed cache chunk (features or activations) on open: the keys
//! of a chunk that can be trusted, or the chunk set aside when it is damaged, so
//! a cache heals instead of stopping every later run.

use std::path::Path;

use contract::seal::{self, SealCheck};

use super::ExtractError;

/// How one kind of chunk is read when admitting it.
pub(super) struct ChunkKind<'a> {
    /// What the warning calls it ("cache chunk", "activation chunk").
    pub name: &'a str,
    /// The keys of a chunk whose seal matches (a cheap read).
    pub keys: fn(&Path) -> Result<Vec<String>, String>,
    /// The keys of an unsealed chunk, read whole to prove it sound.
    pub check: fn(&Path) -> Result<Vec<String>, String>,
}

/// The keys of `chunk` that can be trusted, or `None` once a damaged one is set
/// aside (with a warning naming it: its images are computed again). A sealed
/// chunk must match its seal; an unsealed one (older caches, a run killed between
/// publishing and sealing) must read whole, and is then sealed.
pub(super) fn admit(chunk: &Path, kind: &ChunkKind) -> Result<Option<Vec<String>>, ExtractError> {
    let io = |source| ExtractError::Io {
        path: chunk.to_path_buf(),
        source,
    };
    let damage = match seal::check(chunk) {
        // Moved aside by another process since the folder was listed.
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(io(error)),
        Ok(SealCheck::Sound) => match (kind.keys)(chunk) {
            Ok(keys) => return Ok(Some(keys)),
            Err(error) => error,
        },
        Ok(SealCheck::Unsealed) => match (kind.check)(chunk) {
            Ok(keys) => {
                seal::seal(chunk).map_err(io)?;
                return Ok(Some(keys));
            }
            Err(error) => error,
        },
        Ok(verdict @ SealCheck::Mismatch { .. }) => verdict.damage().unwrap_or_default(),
    };
    let moved = seal::set_aside(chunk).map_err(io)?;
    tracing::warn!(
        "damaged {} {} ({damage}): set aside as {}; its images are computed again",
        kind.name,
        chunk.display(),
        moved.display()
    );
    Ok(None)
}
