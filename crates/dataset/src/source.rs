//! Where an image's bytes live: a file, or a member of a tar shard read in place
//! (no unpacking to disk).

use std::path::PathBuf;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImageSource {
    File(PathBuf),
    /// `size` bytes at `offset` of an uncompressed tar file.
    TarMember {
        shard: PathBuf,
        offset: u64,
        size: u64,
    },
}

impl ImageSource {
    /// The image's bytes, read again (the scan hashed them; a caller that needs
    /// the same bytes checks the key).
    pub fn read(&self) -> std::io::Result<Vec<u8>> {
        match self {
            ImageSource::File(path) => std::fs::read(path),
            ImageSource::TarMember {
                shard,
                offset,
                size,
            } => {
                use std::io::{Read, Seek, SeekFrom};
                let mut file = std::fs::File::open(shard)?;
                file.seek(SeekFrom::Start(*offset))?;
                let length = usize::try_from(*size).map_err(std::io::Error::other)?;
                let mut bytes = vec![0u8; length];
                file.read_exact(&mut bytes)?;
                Ok(bytes)
            }
        }
    }
}
