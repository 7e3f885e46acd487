//! Checksums of cache chunks. Every chunk a cache commits (`NAME.parquet`,
//! `NAME.safetensors`) gets a seal beside it, `NAME.parquet.blake3`: the blake3
//! of the chunk's bytes, written right after the chunk is published. Readers
//! check the seal before trusting a value: a flipped byte that still decodes
//! (a feature value, an activation) is caught as surely as one that breaks the
//! Parquet pages. A damaged chunk is set aside into `damaged/` beside it, never
//! deleted, so the cache can compute its rows again and the evidence stays.
//!
//! A chunk without a seal (written before seals existed, or published by a run
//! killed before its seal) is checked by decoding it whole; the cache then seals
//! it or sets it aside.

use std::io;
use std::path::{Path, PathBuf};

/// A seal's file name is its chunk's plus this.
pub const SEAL_SUFFIX: &str = ".blake3";
/// The folder, beside the chunks, that damaged chunks are moved into.
pub const DAMAGED_DIR: &str = "damaged";

/// What a chunk's seal says about it.
#[derive(Clone, Debug, PartialEq)]
pub enum SealCheck {
    /// The bytes are the ones sealed.
    Sound,
    /// No seal: only decoding it can tell.
    Unsealed,
    /// The bytes changed since they were sealed.
    Mismatch { sealed: String, found: String },
}

pub fn seal_path(chunk: &Path) -> PathBuf {
    let mut name = chunk.as_os_str().to_owned();
    name.push(SEAL_SUFFIX);
    PathBuf::from(name)
}

fn digest(chunk: &Path) -> io::Result<String> {
    let mut hasher = blake3::Hasher::new();
    hasher.update_reader(std::fs::File::open(chunk)?)?;
    Ok(hasher.finalize().to_hex().to_string())
}

/// Records the chunk's blake3 beside it (atomically: a seal is whole or absent).
pub fn seal(chunk: &Path) -> io::Result<()> {
    let hex = digest(chunk)?;
    crate::atomic::write_atomically(&seal_path(chunk), hex.as_bytes())
}

/// Compares the chunk's bytes with its seal.
pub fn check(chunk: &Path) -> io::Result<SealCheck> {
    let sealed = match std::fs::read_to_string(seal_path(chunk)) {
        Ok(text) => text.trim().to_string(),
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(SealCheck::Unsealed),
        Err(error) => return Err(error),
    };
    let found = digest(chunk)?;
    Ok(if found == sealed {
        SealCheck::Sound
    } else {
        SealCheck::Mismatch { sealed, found }
    })
}

impl SealCheck {
    /// Why a chunk cannot be trusted, or `None` when it can (or only decoding
    /// can tell).
    pub fn damage(&self) -> Option<String> {
        match self {
            SealCheck::Mismatch { sealed, found } => Some(format!(
                "its bytes hash to blake3 {}..., its seal recorded {}...",
                &found[..found.len().min(16)],
                &sealed[..sealed.len().min(16)]
            )),
            _ => None,
        }
    }
}

/// Moves a damaged chunk (and its seal) into `damaged/` beside it; returns where
/// the chunk went. Another process having moved it first is not an error.
pub fn set_aside(chunk: &Path) -> io::Result<PathBuf> {
    let dir = chunk.parent().unwrap_or(Path::new("."));
    let name = chunk.file_name().unwrap_or_default();
    let aside = dir.join(DAMAGED_DIR);
    std::fs::create_dir_all(&aside)?;
    let target = aside.join(name);
    let moved = |from: &Path, to: &Path| match std::fs::rename(from, to) {
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    };
    moved(chunk, &target)?;
    moved(&seal_path(chunk), &seal_path(&target))?;
    Ok(target)
}

/// Seals whose chunk is gone (a chunk deleted by hand): nothing to check.
pub fn is_orphan_seal(path: &Path) -> bool {
    let name = path.to_string_lossy();
    match name.strip_suffix(SEAL_SUFFIX) {
        Some(chunk) => !Path::new(chunk).exists(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_chunk_is_sound_until_a_byte_changes_then_it_moves_aside() {
        let dir = tempfile::tempdir().unwrap();
        let chunk = dir.path().join("a-000000.parquet");
        std::fs::write(&chunk, b"some bytes of a chunk").unwrap();
        assert_eq!(check(&chunk).unwrap(), SealCheck::Unsealed);
        seal(&chunk).unwrap();
        assert_eq!(check(&chunk).unwrap(), SealCheck::Sound);
        assert!(check(&chunk).unwrap().damage().is_none());

        std::fs::write(&chunk, b"some bytes of a chunK").unwrap();
        let verdict = check(&chunk).unwrap();
        assert!(matches!(verdict, SealCheck::Mismatch { .. }), "{verdict:?}");
        assert!(verdict.damage().unwrap().contains("seal recorded"));

        let moved = set_aside(&chunk).unwrap();
        assert_eq!(moved, dir.path().join("damaged/a-000000.parquet"));
        assert!(!chunk.exists() && !seal_path(&chunk).exists());
        assert!(moved.exists() && seal_path(&moved).exists());
        // Already moved by another process: fine.
        assert!(set_aside(&chunk).is_ok());
    }

    #[test]
    fn a_seal_without_its_chunk_is_an_orphan() {
        let dir = tempfile::tempdir().unwrap();
        let chunk = dir.path().join("b.safetensors");
        std::fs::write(&chunk, b"x").unwrap();
        seal(&chunk).unwrap();
        assert!(!is_orphan_seal(&seal_path(&chunk)));
        std::fs::remove_file(&chunk).unwrap();
        assert!(is_orphan_seal(&seal_path(&chunk)));
        assert!(!is_orphan_seal(&chunk));
    }
}
