//! Where an image's bytes live: a file, a member of a tar shard or a cell of a
//! Parquet image column, read in place (no unpacking to disk).

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
    /// Row `row` of row group `row_group` in the image struct column `column` of
    /// a Parquet file (Hugging Face `datasets`' `Image` feature).
    ParquetImage {
        file: PathBuf,
        column: String,
        row_group: usize,
        row: usize,
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
        }
    }
}
