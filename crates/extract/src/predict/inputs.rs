//! `IMAGES_OR_DIRS...` to the list of files to classify, in the order given.

use std::path::{Path, PathBuf};

/// One file to classify, or a named path that yields none.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputFile {
    /// As the user named it (or the named folder joined with the file's place in
    /// it): what the output's `path` column shows.
    pub shown: String,
    pub path: PathBuf,
    /// Why this entry cannot be read at all (missing, a symlink loop, ...).
    pub problem: Option<String>,
}

impl InputFile {
    fn file(path: &Path) -> Self {
        InputFile {
            shown: path.display().to_string(),
            path: path.to_path_buf(),
            problem: None,
        }
    }
}

/// Every input, in argument order: a file as given (whatever its name, even a
/// hidden one: it was named), a folder as every non-hidden file under it, sorted
/// by name, following symlinks. Whether a file is an image is decided later by
/// its content, so a stray non-image in a folder is reported, never silently
/// skipped.
pub fn collect(args: &[PathBuf]) -> Vec<InputFile> {
    let mut files = Vec::new();
    for arg in args {
        match std::fs::metadata(arg) {
            Ok(meta) if meta.is_dir() => walk(arg, &mut files),
            Ok(_) => files.push(InputFile::file(arg)),
            Err(error) => files.push(InputFile {
                problem: Some(format!("cannot read: {error}")),
                ..InputFile::file(arg)
            }),
        }
    }
    files
}

fn walk(dir: &Path, files: &mut Vec<InputFile>) {
    for entry in dataset::walk::visible_files(dir) {
        match entry {
            Ok(path) => files.push(InputFile::file(&path)),
            Err(unreadable) => files.push(InputFile {
                problem: Some(unreadable.reason(|p| p.display().to_string())),
                ..InputFile::file(&unreadable.path)
            }),
        }
    }
}
