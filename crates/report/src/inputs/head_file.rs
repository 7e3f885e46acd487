use std::path::Path;

use contract::HeadFile;

use crate::error::Result;

/// What the report uses of head-train's `head.safetensors` (read through the
/// contract crate's [`HeadFile`], so the format has one reader).
#[derive(Clone, Debug, PartialEq)]
pub struct HeadFileMeta {
    pub variant: String,
    /// Side of the backbone's square input, from the stored preprocessing recipe.
    pub input_size: u32,
    pub weights_source: String,
    pub weights_blake3: String,
}

impl HeadFileMeta {
    pub fn read(path: &Path) -> Result<Self> {
        let head = HeadFile::read(path)?;
        Ok(HeadFileMeta {
            variant: head.variant,
            input_size: head.preprocessing.input_size,
            weights_source: head.weights.source,
            weights_blake3: head.weights.blake3,
        })
    }
}
