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

fn is_hidden(name: &str) -> bool {
    name.starts_with('.')
}

fn walk(dir: &Path, files: &mut Vec<InputFile>) {
    let walker = walkdir::WalkDir::new(dir)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|entry| {
            entry.depth() == 0 || !is_hidden(&entry.file_name().to_string_lossy())
        });
    for entry in walker {
        match entry {
            Ok(entry) if entry.file_type().is_file() => files.push(InputFile::file(entry.path())),
            Ok(_) => {}
            Err(error) => {
                let reason = match error.loop_ancestor() {
                    Some(ancestor) => format!("symlink loop back to {}", ancestor.display()),
                    None => format!(
                        "cannot read: {}",
                        error
                            .io_error()
                            .map_or(error.to_string(), |e| e.to_string())
                    ),
                };
                files.push(InputFile {
                    problem: Some(reason),
                    ..InputFile::file(error.path().unwrap_or(dir))
                });
            }
        }
    }
}
