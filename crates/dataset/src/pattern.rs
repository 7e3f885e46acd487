//! `--data` patterns: braces as webdataset writes shard lists
//! (`shards/train-{00000..00099}.tar`) and shell globs as the hub serves Parquet
//! files (`data/test-*.parquet`). Every file a brace names must exist; a glob must
//! match at least one.

use std::path::{Path, PathBuf};

use crate::DatasetError;

/// Whether `--data` is a pattern rather than a path: braces, or glob characters
/// in a path that does not exist as written.
pub fn is_pattern(data: &Path) -> bool {
    let text = data.to_string_lossy();
    text.contains('{') || (!data.exists() && text.contains(['*', '?', '[']))
}

/// Whether a name (one a brace expanded to) holds glob characters.
pub fn has_glob(text: &str) -> bool {
    text.contains(['*', '?', '['])
}

fn bad(pattern: &str, reason: String) -> DatasetError {
    DatasetError::Pattern {
        pattern: pattern.to_string(),
        reason,
    }
}

/// The names the braces of a pattern stand for, in order (the pattern itself
/// when it has none); globs are left for the caller to match.
pub fn explode(pattern: &str) -> Result<Vec<String>, DatasetError> {
    let expanded = if pattern.contains('{') {
        bracoxide::explode(pattern).map_err(|e| bad(pattern, e.to_string()))?
    } else {
        vec![pattern.to_string()]
    };
    if expanded.is_empty() {
        return Err(bad(pattern, "it names no file".into()));
    }
    Ok(expanded)
}

/// The folder a pattern's paths are shown relative to: the one before the
/// first brace or glob character.
pub fn root_of(pattern: &str) -> PathBuf {
    let first_special = pattern.find(['{', '*', '?', '[']).unwrap_or(0);
    let prefix = &pattern[..first_special];
    let root = if prefix.ends_with('/') {
        PathBuf::from(prefix)
    } else {
        Path::new(prefix)
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default()
    };
    if root.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        root
    }
}

/// Every file the pattern names, in order, and the folder its paths are shown
/// relative to (the one before the first brace or glob character).
pub fn expand(pattern: &str) -> Result<(PathBuf, Vec<PathBuf>), DatasetError> {
    let expanded = explode(pattern)?;
    let root = root_of(pattern);
    let mut files = Vec::with_capacity(expanded.len());
    for name in expanded {
        if has_glob(&name) {
            let matches = glob::glob(&name).map_err(|e| bad(pattern, e.to_string()))?;
            let mut matched: Vec<PathBuf> = matches
                .filter_map(Result::ok)
                .filter(|p| p.is_file())
                .collect();
            if matched.is_empty() {
                return Err(DatasetError::NotFound {
                    path: PathBuf::from(name),
                    what: "a file the pattern names (it matches none)",
                });
            }
            matched.sort();
            files.extend(matched);
            continue;
        }
        let path = PathBuf::from(&name);
        if !path.is_file() {
            return Err(DatasetError::NotFound {
                path,
                what: "a file the pattern names",
            });
        }
        files.push(path);
    }
    Ok((root, files))
}
