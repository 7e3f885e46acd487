use std::collections::HashMap;
use std::path::Path;

use safetensors::SafeTensors;

use crate::error::{io_error, ReportError, Result};

/// The metadata strings of head-train's `head.safetensors` the report uses.
#[derive(Clone, Debug, PartialEq)]
pub struct HeadFileMeta {
    pub variant: String,
    /// Side of the backbone's square input, from the stored preprocessing recipe.
    pub input_size: u32,
    pub weights_source: String,
    pub weights_blake3: String,
}

const FORMAT: &str = "effprobe-head/1";

impl HeadFileMeta {
    pub fn read(path: &Path) -> Result<Self> {
        let bad = |reason: String| ReportError::BadInput {
            path: path.to_path_buf(),
            reason,
        };
        let bytes = std::fs::read(path).map_err(io_error(path))?;
        let (_, header) = SafeTensors::read_metadata(&bytes).map_err(|e| bad(e.to_string()))?;
        let metadata: HashMap<String, String> = header.metadata().clone().unwrap_or_default();
        let get = |key: &str| {
            metadata
                .get(key)
                .cloned()
                .ok_or_else(|| bad(format!("metadata key {key} missing")))
        };
        let format = get("format")?;
        if format != FORMAT {
            return Err(bad(format!("format {format:?}, expected {FORMAT:?}")));
        }
        let preprocessing: featurefile::Preprocessing =
            serde_json::from_str(&get("preprocessing")?)
                .map_err(|e| bad(format!("preprocessing: {e}")))?;
        Ok(HeadFileMeta {
            variant: get("variant")?,
            input_size: preprocessing.input_size,
            weights_source: get("weights.source")?,
            weights_blake3: get("weights.blake3")?,
        })
    }
}
