//! Where a dataset's files are: the local file system, or the objects listed
//! under an S3 prefix. Every way of reading a dataset (image folders, manifests,
//! labels from names, tar shards) walks, reads and names its files through this
//! one interface, so an S3 prefix is read exactly as a local copy of it would be.
//! Object paths are `s3://bucket/key` paths (see `s3::url`).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::s3::{S3Object, S3Source, S3Url};
use crate::source::ImageSource;
use crate::walk::{is_hidden, relative_path, NamedPaths, UnreadableEntry};

pub enum FileTree {
    Local,
    Objects(ObjectTree),
}

/// The objects under one prefix of a bucket, listed once.
pub struct ObjectTree {
    root: PathBuf,
    /// Key relative to the root → the object.
    objects: BTreeMap<String, S3Object>,
}

impl ObjectTree {
    /// `listed` are (key, size) pairs of the bucket under `root`.
    pub fn new(
        source: &Arc<S3Source>,
        root: &S3Url,
        listed: impl IntoIterator<Item = (crate::s3::ObjectPath, u64)>,
    ) -> ObjectTree {
        let root_key = root.key.trim_matches('/');
        let objects = listed
            .into_iter()
            .filter_map(|(location, size)| {
                let key = location.as_ref();
                let relative = match root_key {
                    "" => key,
                    prefix => key.strip_prefix(prefix)?.strip_prefix('/')?,
                };
                // Console "folder" markers are no file.
                (!relative.is_empty() && !key.ends_with('/')).then(|| {
                    (
                        relative.to_string(),
                        S3Object::new(Arc::clone(source), location.clone(), size),
                    )
                })
            })
            .collect();
        ObjectTree {
            root: root.to_path(),
            objects,
        }
    }

    /// The key under the root that `path` names (`""` for the root).
    fn relative(&self, path: &Path) -> Option<String> {
        path.strip_prefix(&self.root)
            .ok()
            .map(|p| relative_path(Path::new(""), p))
    }

    fn object(&self, path: &Path) -> std::io::Result<&S3Object> {
        self.relative(path)
            .and_then(|key| self.objects.get(&key))
            .ok_or_else(|| {
                std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    format!("{}: not among the listed objects", path.display()),
                )
            })
    }

    /// Keys under the folder `relative` (`""`: all), with what follows it.
    fn under<'a>(&'a self, relative: &'a str) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        let start = if relative.is_empty() {
            String::new()
        } else {
            format!("{relative}/")
        };
        let skip = start.len();
        self.objects
            .range(start.clone()..)
            .take_while(move |(key, _)| key.starts_with(&start))
            .map(move |(key, _)| (key.as_str(), &key[skip..]))
    }
}

impl FileTree {
    /// The visible entries directly inside `dir`: (folders, files), by name.
    pub fn top_level(&self, dir: &Path) -> std::io::Result<(NamedPaths, NamedPaths)> {
        let tree = match self {
            FileTree::Local => return crate::walk::top_level(dir),
            FileTree::Objects(tree) => tree,
        };
        let relative = tree.relative(dir).unwrap_or_default();
        let mut folders: BTreeMap<String, PathBuf> = BTreeMap::new();
        let mut files = Vec::new();
        let mut any = false;
        for (_, rest) in tree.under(&relative) {
            any = true;
            let (name, is_folder) = match rest.split_once('/') {
                Some((folder, _)) => (folder, true),
                None => (rest, false),
            };
            if is_hidden(name) {
                continue;
            }
            if is_folder {
                folders
                    .entry(name.to_string())
                    .or_insert_with(|| dir.join(name));
            } else {
                files.push((name.to_string(), dir.join(name)));
            }
        }
        if !any && !relative.is_empty() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no objects under this prefix",
            ));
        }
        Ok((folders.into_iter().collect(), files))
    }

    /// Every non-hidden file under `dir` (hidden folders are not entered), in the
    /// order a sorted walk visits them; entries that cannot be read are errors.
    pub fn visible_files<'a>(
        &'a self,
        dir: &'a Path,
    ) -> Box<dyn Iterator<Item = Result<PathBuf, UnreadableEntry>> + 'a> {
        let tree = match self {
            FileTree::Local => return Box::new(crate::walk::visible_files(dir)),
            FileTree::Objects(tree) => tree,
        };
        let relative = tree.relative(dir).unwrap_or_default();
        let mut keys: Vec<String> = tree
            .under(&relative)
            .filter(|(_, rest)| !rest.split('/').any(is_hidden))
            .map(|(_, rest)| rest.to_string())
            .collect();
        // A walk sorted by name within each folder: by path components.
        keys.sort_by(|a, b| a.split('/').cmp(b.split('/')));
        Box::new(keys.into_iter().map(move |rest| Ok(dir.join(rest))))
    }

    pub fn is_file(&self, path: &Path) -> bool {
        match self {
            FileTree::Local => path.is_file(),
            FileTree::Objects(tree) => tree.object(path).is_ok(),
        }
    }

    /// The file's bytes.
    pub fn read(&self, path: &Path) -> std::io::Result<Vec<u8>> {
        match self {
            FileTree::Local => std::fs::read(path),
            FileTree::Objects(tree) => tree.object(path)?.read(),
        }
    }

    /// The file front to back (tar shards are read once, sequentially).
    pub fn open(&self, path: &Path) -> std::io::Result<Box<dyn Read + Send>> {
        match self {
            FileTree::Local => Ok(Box::new(std::fs::File::open(path)?)),
            FileTree::Objects(tree) => Ok(Box::new(tree.object(path)?.open()?)),
        }
    }

    /// Where the pipeline reads the file again.
    pub fn source(&self, path: &Path) -> std::io::Result<ImageSource> {
        match self {
            FileTree::Local => Ok(ImageSource::File(path.to_path_buf())),
            FileTree::Objects(tree) => Ok(ImageSource::S3Object(tree.object(path)?.clone())),
        }
    }

    /// Where the pipeline reads `size` bytes at `offset` of a tar shard.
    pub fn member_source(
        &self,
        shard: &Path,
        offset: u64,
        size: u64,
    ) -> std::io::Result<ImageSource> {
        match self {
            FileTree::Local => Ok(ImageSource::TarMember {
                shard: shard.to_path_buf(),
                offset,
                size,
            }),
            FileTree::Objects(tree) => Ok(ImageSource::S3TarMember {
                shard: tree.object(shard)?.clone(),
                offset,
                size,
            }),
        }
    }
}
