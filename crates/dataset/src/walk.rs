//! Walking folders the way every stage does: hidden entries skipped, symlinks
//! followed, unreadable entries and loops reported with their reason.

use std::path::{Path, PathBuf};

pub fn is_hidden(name: &str) -> bool {
    name.starts_with('.')
}

/// `path` relative to `root`, `/`-separated (the form feature files record).
pub fn relative_path(root: &Path, path: &Path) -> String {
    let relative = path.strip_prefix(root).unwrap_or(path);
    relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// An entry under a walked folder that cannot be read.
#[derive(Debug)]
pub struct UnreadableEntry {
    pub path: PathBuf,
    pub loop_ancestor: Option<PathBuf>,
    pub error: String,
}

impl UnreadableEntry {
    /// Why, with paths shown by `show` (relative to a dataset root, or as given).
    pub fn reason(&self, show: impl Fn(&Path) -> String) -> String {
        match &self.loop_ancestor {
            Some(ancestor) => format!("symlink loop back to {}", show(ancestor)),
            None => format!("cannot read: {}", self.error),
        }
    }
}

/// Every non-hidden file under `dir` (hidden folders are not entered), sorted by
/// name, following symlinks; each entry that cannot be read is an error.
pub fn visible_files(dir: &Path) -> impl Iterator<Item = Result<PathBuf, UnreadableEntry>> + '_ {
    walkdir::WalkDir::new(dir)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|entry| {
            entry.depth() == 0 || !is_hidden(&entry.file_name().to_string_lossy())
        })
        .filter_map(move |entry| match entry {
            Ok(entry) if entry.file_type().is_file() => Some(Ok(entry.into_path())),
            Ok(_) => None,
            Err(error) => Some(Err(UnreadableEntry {
                path: error.path().unwrap_or(dir).to_path_buf(),
                loop_ancestor: error.loop_ancestor().map(Path::to_path_buf),
                error: error
                    .io_error()
                    .map_or(error.to_string(), |e| e.to_string()),
            })),
        })
}

/// Entries of one folder: (name, path), sorted by name.
pub type NamedPaths = Vec<(String, PathBuf)>;

/// The visible entries directly inside `dir`: (folders, files).
pub fn top_level(dir: &Path) -> std::io::Result<(NamedPaths, NamedPaths)> {
    let mut folders = Vec::new();
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if is_hidden(&name) {
            continue;
        }
        let path = entry.path();
        // `is_dir` follows symlinks, as the walk does.
        if path.is_dir() {
            folders.push((name, path));
        } else {
            files.push((name, path));
        }
    }
    folders.sort();
    files.sort();
    Ok((folders, files))
}
