//! Where an image's bytes live: a file, a member of a tar shard or a cell of a
//! Parquet image column, or an object (or a member of a tar object) in S3, read
//! in place (no unpacking to disk).

use std::path::PathBuf;

use crate::s3::S3Object;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImageSource {
    File(PathBuf),
    /// `size` bytes at `offset` of an uncompressed tar file.
    TarMember {
        shard: PathBuf,
        offset: u64,
        size: u64,
    },
    /// Row `row` of row group `row_group` in the image struct column `column` of
    /// a Parquet file (Hugging Face `datasets`' `Image` feature).
    ParquetImage {
        file: PathBuf,
        column: String,
        row_group: usize,
        row: usize,
    },
    /// An object in S3-compatible storage, read whole.
    S3Object(S3Object),
    /// `size` bytes at `offset` of an uncompressed tar object in S3-compatible
    /// storage (ranged reads of cached blocks).
    S3TarMember {
        shard: S3Object,
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
            ImageSource::ParquetImage {
                file,
                column,
                row_group,
                row,
            } => crate::parquet_images::read_image(file, column, *row_group, *row),
            ImageSource::S3Object(object) => object.read(),
            ImageSource::S3TarMember {
                shard,
                offset,
                size,
            } => shard.read_range(*offset, *size),
        }
    }
}
