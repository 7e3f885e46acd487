//! What `--data s3://bucket/…` names, found by listing the bucket once: a
//! folder prefix (`s3://bucket/photos/`), one object (`…/train-00000.tar`) or a
//! pattern of objects (`…/train-{00000..00099}.tar`, `…/*.tar`), as the same
//! forms name local files. A missing bucket, a denied request and a missing
//! object are one-line errors naming the location.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::pattern::{explode, has_glob, root_of};
use crate::s3::{object_path, Failure, FailureKind, S3Source, S3Url};
use crate::tree::{FileTree, ObjectTree};
use crate::DatasetError;

/// What an S3 `--data` names.
pub enum Named {
    Folder(PathBuf),
    File(PathBuf),
    /// The folder the pattern's objects are shown relative to, and the objects.
    Pattern {
        root: PathBuf,
        files: Vec<PathBuf>,
    },
}

fn storage_error(location: &str, failure: Failure) -> DatasetError {
    DatasetError::Storage {
        location: location.to_string(),
        missing: matches!(failure.kind, FailureKind::NoBucket | FailureKind::NoObject),
        reason: failure.reason,
    }
}

fn parse(path: &Path) -> Result<S3Url, DatasetError> {
    let text = path.to_string_lossy();
    S3Url::parse(&text).map_err(|reason| DatasetError::Storage {
        location: text.to_string(),
        reason,
        missing: true,
    })
}

fn connect(url: &S3Url) -> Result<Arc<S3Source>, DatasetError> {
    S3Source::connect(&url.bucket).map_err(|reason| DatasetError::Storage {
        location: url.to_string(),
        reason,
        missing: false,
    })
}

/// The folder a key sits in (`a/b/c.tar` → `a/b`, `a/b/` → `a/b`).
fn folder_of(key: &str) -> &str {
    match key.trim_end_matches('/').rfind('/') {
        _ if key.ends_with('/') => key.trim_end_matches('/'),
        Some(slash) => &key[..slash],
        None => "",
    }
}

/// Lists the folder `key` of the bucket into a tree rooted there.
fn list_tree(source: &Arc<S3Source>, url: &S3Url) -> Result<ObjectTree, DatasetError> {
    let listed = source
        .list(&url.key, false)
        .map_err(|failure| storage_error(&url.to_string(), failure))?;
    Ok(ObjectTree::new(
        source,
        url,
        listed.into_iter().map(|meta| (meta.location, meta.size)),
    ))
}

/// The cheap check before any slow setup: the bucket answers and lets us list
/// the folder the location is in.
pub fn check(path: &Path) -> Result<(), DatasetError> {
    let url = parse(path)?;
    let source = connect(&url)?;
    let key = if has_glob(&url.key) || url.key.contains('{') {
        root_of(&url.key).to_string_lossy().into_owned()
    } else {
        folder_of(&url.key).to_string()
    };
    let key = key.trim_start_matches('.').to_string();
    source
        .list(&key, true)
        .map(|_| ())
        .map_err(|failure| storage_error(&path.to_string_lossy(), failure))
}

/// The check of one object (a `--labels` manifest): it exists and may be read.
pub fn check_object(path: &Path) -> Result<(), DatasetError> {
    let url = parse(path)?;
    let source = connect(&url)?;
    let location = object_path(&url.key).map_err(|reason| DatasetError::Storage {
        location: url.to_string(),
        reason,
        missing: true,
    })?;
    match source.head(&location) {
        Ok(_) => Ok(()),
        // A HEAD answer has no body: a 404 may be the bucket; the listing says.
        Err(failure) if failure.kind == FailureKind::NoObject => {
            source
                .list(folder_of(&url.key), true)
                .map_err(|failure| storage_error(&url.to_string(), failure))?;
            let failure = Failure {
                reason: format!("{} (the --labels manifest)", failure.reason),
                ..failure
            };
            Err(storage_error(&url.to_string(), failure))
        }
        Err(failure) => Err(storage_error(&url.to_string(), failure)),
    }
}

/// Lists what `path` names and says which form it is.
pub fn resolve(path: &Path) -> Result<(FileTree, Named), DatasetError> {
    let text = path.to_string_lossy().into_owned();
    let url = parse(path)?;
    let source = connect(&url)?;
    if has_glob(&url.key) || url.key.contains('{') {
        let root = S3Url {
            bucket: url.bucket.clone(),
            key: root_of(&url.key)
                .to_string_lossy()
                .trim_start_matches('.')
                .to_string(),
        };
        let tree = list_tree(&source, &root)?;
        let tree = FileTree::Objects(tree);
        let everything: Vec<PathBuf> = tree
            .visible_files(&root.to_path())
            .filter_map(Result::ok)
            .collect();
        let mut files = Vec::new();
        for name in explode(&text)? {
            if has_glob(&name) {
                let glob = glob::Pattern::new(&name).map_err(|e| DatasetError::Pattern {
                    pattern: text.clone(),
                    reason: e.to_string(),
                })?;
                let options = glob::MatchOptions {
                    require_literal_separator: true,
                    ..Default::default()
                };
                let matched: Vec<PathBuf> = everything
                    .iter()
                    .filter(|p| glob.matches_with(&p.to_string_lossy(), options))
                    .cloned()
                    .collect();
                if matched.is_empty() {
                    return Err(DatasetError::Storage {
                        location: name,
                        reason: "no object matches it (a pattern of --data)".into(),
                        missing: true,
                    });
                }
                files.extend(matched);
            } else if tree.is_file(Path::new(&name)) {
                files.push(PathBuf::from(name));
            } else {
                return Err(DatasetError::Storage {
                    location: name,
                    reason: "no such object (the pattern of --data names it)".into(),
                    missing: true,
                });
            }
        }
        return Ok((
            tree,
            Named::Pattern {
                root: root.to_path(),
                files,
            },
        ));
    }
    if !url.key.is_empty() && !url.key.ends_with('/') {
        let location = object_path(&url.key).map_err(|reason| DatasetError::Storage {
            location: text.clone(),
            reason,
            missing: true,
        })?;
        match source.head(&location) {
            Ok(size) => {
                let folder = S3Url {
                    bucket: url.bucket.clone(),
                    key: folder_of(&url.key).to_string(),
                };
                let tree = ObjectTree::new(&source, &folder, [(location, size)]);
                return Ok((FileTree::Objects(tree), Named::File(url.to_path())));
            }
            Err(failure) if failure.kind == FailureKind::NoObject => {}
            Err(failure) => return Err(storage_error(&text, failure)),
        }
    }
    // A folder: everything under it.
    let tree = list_tree(&source, &url)?;
    let root = url.to_path();
    let tree = FileTree::Objects(tree);
    if tree.visible_files(&root).next().is_none() {
        return Err(DatasetError::Storage {
            location: text,
            reason: "no such object, and no objects under it (the dataset --data names)".into(),
            missing: true,
        });
    }
    Ok((tree, Named::Folder(root)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_of_keys() {
        assert_eq!(folder_of("a/b/c.tar"), "a/b");
        assert_eq!(folder_of("a/b/"), "a/b");
        assert_eq!(folder_of("c.tar"), "");
        assert_eq!(folder_of(""), "");
    }
}
