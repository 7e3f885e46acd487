//! `s3://bucket/key` as people write it on a command line, and the object paths
//! the rest of the crate carries: `Path`s whose text is the URL, so that joining,
//! stripping a root and naming files work as they do for local paths.

use std::path::{Path, PathBuf};

/// The scheme every object location starts with.
pub const SCHEME: &str = "s3://";

/// A bucket and a key (or key prefix) in S3-compatible storage.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct S3Url {
    pub bucket: String,
    /// Without a leading slash; empty for the whole bucket.
    pub key: String,
}

impl S3Url {
    /// Whether `path` is written as an object location (`s3://…`).
    pub fn is_s3(path: &Path) -> bool {
        path.to_string_lossy().starts_with(SCHEME)
    }

    /// `s3://bucket/key` → bucket and key; `Err` says what is wrong with it.
    pub fn parse(text: &str) -> Result<S3Url, String> {
        let rest = text
            .strip_prefix(SCHEME)
            .ok_or_else(|| format!("does not start with {SCHEME}"))?;
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        let valid_bucket = !bucket.is_empty()
            && bucket
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'));
        if !valid_bucket {
            return Err(format!(
                "{bucket:?} is not a bucket name (write s3://BUCKET/PREFIX)"
            ));
        }
        Ok(S3Url {
            bucket: bucket.to_string(),
            key: key.trim_start_matches('/').to_string(),
        })
    }

    /// The location as a path: `s3://bucket/key`, without a trailing slash.
    pub fn to_path(&self) -> PathBuf {
        PathBuf::from(self.to_string().trim_end_matches('/'))
    }

    /// The key of an object path under this bucket (`s3://bucket/a/b.jpg` →
    /// `a/b.jpg`), or `None` for a path elsewhere.
    pub fn key_of(&self, path: &Path) -> Option<String> {
        let text = path.to_string_lossy();
        let rest = text
            .strip_prefix(SCHEME)?
            .strip_prefix(self.bucket.as_str())?;
        if !(rest.is_empty() || rest.starts_with('/')) {
            return None;
        }
        Some(
            rest.split('/')
                .filter(|part| !part.is_empty())
                .collect::<Vec<_>>()
                .join("/"),
        )
    }
}

impl std::fmt::Display for S3Url {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{SCHEME}{}/{}", self.bucket, self.key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_as_written() {
        let url = S3Url::parse("s3://photos/train/shards/").unwrap();
        assert_eq!(url.bucket, "photos");
        assert_eq!(url.key, "train/shards/");
        assert_eq!(url.to_path(), PathBuf::from("s3://photos/train/shards"));
        assert_eq!(S3Url::parse("s3://photos").unwrap().key, "");
        assert!(S3Url::parse("s3:///key").is_err());
        assert!(S3Url::parse("s3://a b/key").is_err());
        assert!(S3Url::is_s3(Path::new("s3://b/k")));
        assert!(!S3Url::is_s3(Path::new("data/s3:/k")));
    }

    #[test]
    fn object_paths_join_and_strip_like_local_ones() {
        let root = S3Url::parse("s3://photos/train").unwrap();
        let file = root.to_path().join("cat/1.jpg");
        assert_eq!(file, PathBuf::from("s3://photos/train/cat/1.jpg"));
        assert_eq!(root.key_of(&file).as_deref(), Some("train/cat/1.jpg"));
        assert_eq!(
            crate::walk::relative_path(&root.to_path(), &file),
            "cat/1.jpg"
        );
        assert_eq!(file.file_name().unwrap(), "1.jpg");
        assert_eq!(root.key_of(Path::new("s3://photosx/a")), None);
    }
}
