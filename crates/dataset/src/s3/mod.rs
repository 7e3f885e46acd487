//! Datasets in S3-compatible storage (`--data s3://bucket/prefix`, `--labels
//! s3://bucket/labels.csv`), read in place: objects are listed once, images
//! and shard members read with ranged requests (nothing is unpacked to local
//! disk), and keyed by the blake3 of their bytes as local files are, so a
//! feature cache built from a local copy carries over.
//!
//! Configuration is the AWS SDKs' own: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
//! AWS_SESSION_TOKEN, AWS_REGION / AWS_DEFAULT_REGION, AWS_ENDPOINT_URL_S3 /
//! AWS_ENDPOINT_URL for other servers (plain HTTP allowed to this machine's
//! loopback address, elsewhere with AWS_ALLOW_HTTP=true), and the rest that
//! object_store's `AmazonS3Builder::from_env` reads.

mod blocks;
mod failure;
mod source;
mod url;

use std::sync::Arc;

pub use failure::{Failure, FailureKind};
pub use object_store::path::Path as ObjectPath;
pub use source::{endpoint_from_env, object_path, ObjectReader, S3Source, ENDPOINT_VARIABLES};
pub use url::{S3Url, SCHEME};

/// One object, as listed: where it is and how long it was.
#[derive(Clone)]
pub struct S3Object {
    source: Arc<S3Source>,
    location: ObjectPath,
    size: u64,
}

impl S3Object {
    pub fn new(source: Arc<S3Source>, location: ObjectPath, size: u64) -> S3Object {
        S3Object {
            source,
            location,
            size,
        }
    }

    pub fn url(&self) -> S3Url {
        self.source.url(&self.location)
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// The whole object.
    pub fn read(&self) -> std::io::Result<Vec<u8>> {
        self.source.read_all(&self.location)
    }

    /// `length` bytes at `offset`.
    pub fn read_range(&self, offset: u64, length: u64) -> std::io::Result<Vec<u8>> {
        self.source
            .read_range(&self.location, self.size, offset, length)
    }

    /// Front to back, streamed.
    pub fn open(&self) -> std::io::Result<ObjectReader> {
        self.source.open(&self.location)
    }
}

impl PartialEq for S3Object {
    fn eq(&self, other: &Self) -> bool {
        self.source.bucket() == other.source.bucket()
            && self.location == other.location
            && self.size == other.size
    }
}

impl Eq for S3Object {}

impl std::fmt::Debug for S3Object {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({} bytes)", self.url(), self.size)
    }
}
