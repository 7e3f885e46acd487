//! One bucket of S3-compatible storage: the object_store client configured from
//! the standard AWS variables, and the small tokio runtime that drives it. The
//! callers stay synchronous: each call blocks on its own request (`block_on` at
//! this edge), so the decode workers' reads proceed side by side.

use std::io::Read;
use std::ops::Range;
use std::sync::Arc;

use bytes::{Buf, Bytes};
use futures_util::stream::{BoxStream, StreamExt};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path;
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt};

use super::blocks::{BlockCache, BlockId, Claim, BLOCK_BYTES};
use super::failure::{one_line, Failure};
use super::url::S3Url;

/// The variables that name the endpoint, in the order object_store takes them.
pub const ENDPOINT_VARIABLES: [&str; 3] =
    ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "AWS_ENDPOINT"];

/// A connection to one bucket.
pub struct S3Source {
    bucket: String,
    store: AmazonS3,
    runtime: tokio::runtime::Runtime,
    blocks: Arc<BlockCache>,
}

impl std::fmt::Debug for S3Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "S3Source(s3://{})", self.bucket)
    }
}

/// The endpoint the environment names, if any.
pub fn endpoint_from_env() -> Option<String> {
    ENDPOINT_VARIABLES
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()))
}

/// `http://127.0.0.1:9000`, `http://localhost`, `http://[::1]:…`: plain HTTP that
/// never leaves the machine, allowed without AWS_ALLOW_HTTP.
fn is_loopback_http(endpoint: &str) -> bool {
    let Some(rest) = endpoint.strip_prefix("http://") else {
        return false;
    };
    let authority = rest.split('/').next().unwrap_or("");
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => authority.split(':').next().unwrap_or(""),
    };
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Keys as object_store writes them (`a/b.jpg`; no empty segments).
pub fn object_path(key: &str) -> Result<Path, String> {
    Path::parse(key.trim_matches('/')).map_err(|e| format!("not an object key: {e}"))
}

impl S3Source {
    /// A client for `bucket` from the AWS variables (credentials, region,
    /// endpoint). Nothing is requested yet.
    pub fn connect(bucket: &str) -> Result<Arc<S3Source>, String> {
        // rustls' crypto: ring, installed once for the process (a second call
        // finds it there, which is fine). rustls 0.23.48 deprecates ring's
        // provider for lacking post-quantum key exchange; aws-lc-rs, which has
        // it, needs cmake and a C toolchain to build, and these requests carry
        // public images to a bucket.
        #[allow(deprecated)]
        let provider = rustls::crypto::ring::default_provider();
        let _ = provider.install_default();
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
        if endpoint_from_env().is_some_and(|e| is_loopback_http(&e)) {
            builder = builder.with_allow_http(true);
        }
        let store = builder
            .build()
            .map_err(|e| format!("cannot configure S3 access: {}", one_line(&e)))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("effprobe-s3")
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the S3 client's runtime: {e}"))?;
        // A few blocks per decode worker: the one it reads and the one ahead.
        let capacity = 4 * rayon::current_num_threads();
        Ok(Arc::new(S3Source {
            bucket: bucket.to_string(),
            store,
            runtime,
            blocks: Arc::new(BlockCache::new(capacity)),
        }))
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    pub fn url(&self, location: &Path) -> S3Url {
        S3Url {
            bucket: self.bucket.clone(),
            key: location.to_string(),
        }
    }

    /// Every object under the folder `prefix` (`""`: the whole bucket), or only
    /// the first page of them with `first_page_only` (a cheap check that the
    /// bucket answers).
    pub fn list(&self, prefix: &str, first_page_only: bool) -> Result<Vec<ObjectMeta>, Failure> {
        let prefix = match prefix.trim_matches('/') {
            "" => None,
            key => Some(object_path(key).map_err(|reason| Failure {
                kind: super::failure::FailureKind::Other,
                reason,
            })?),
        };
        self.runtime.block_on(async {
            let mut stream = self.store.list(prefix.as_ref());
            let mut objects = Vec::new();
            while let Some(meta) = stream.next().await {
                objects.push(meta.map_err(|e| Failure::of(&e))?);
                if first_page_only {
                    break;
                }
            }
            Ok(objects)
        })
    }

    /// The object's size, or why it cannot be had.
    pub fn head(&self, location: &Path) -> Result<u64, Failure> {
        self.runtime
            .block_on(self.store.head(location))
            .map(|meta| meta.size)
            .map_err(|e| Failure::of(&e))
    }

    fn io_error(&self, location: &Path, failure: Failure) -> std::io::Error {
        let url = self.url(location);
        let mut error = failure.into_io();
        error = std::io::Error::new(error.kind(), format!("{url}: {error}"));
        error
    }

    /// The whole object.
    pub fn read_all(&self, location: &Path) -> std::io::Result<Vec<u8>> {
        self.runtime
            .block_on(async { self.store.get(location).await?.bytes().await })
            .map(|bytes| bytes.to_vec())
            .map_err(|e| self.io_error(location, Failure::of(&e)))
    }

    async fn fetch(store: &AmazonS3, location: &Path, range: Range<u64>) -> Result<Bytes, Failure> {
        let expected = range.end - range.start;
        let bytes = store
            .get_range(location, range.clone())
            .await
            .map_err(|e| Failure::of(&e))?;
        if bytes.len() as u64 != expected {
            return Err(Failure {
                kind: super::failure::FailureKind::Other,
                reason: format!(
                    "truncated: {} of the {expected} bytes at {}..{} (the object is shorter than when it was listed)",
                    bytes.len(),
                    range.start,
                    range.end
                ),
            });
        }
        Ok(bytes)
    }

    /// One block of an object of `object_size` bytes, from the cache or the
    /// store; the block after it is requested in the background.
    fn block(&self, location: &Path, object_size: u64, index: u64) -> Result<Bytes, Failure> {
        let range_of = |i: u64| i * BLOCK_BYTES..((i + 1) * BLOCK_BYTES).min(object_size);
        let id: BlockId = (location.clone(), index);
        match self.blocks.claim(&id) {
            Claim::Ready(bytes) => Ok(bytes),
            Claim::Fetch => {
                let fetched =
                    self.runtime
                        .block_on(Self::fetch(&self.store, location, range_of(index)));
                self.blocks.finish(id, &fetched);
                let next: BlockId = (location.clone(), index + 1);
                if fetched.is_ok()
                    && (index + 1) * BLOCK_BYTES < object_size
                    && self.blocks.reserve(&next)
                {
                    let (store, blocks, range) = (
                        self.store.clone(),
                        Arc::clone(&self.blocks),
                        range_of(index + 1),
                    );
                    self.runtime.spawn(async move {
                        let fetched = Self::fetch(&store, &next.0, range).await;
                        blocks.finish(next, &fetched);
                    });
                }
                fetched
            }
        }
    }

    /// `length` bytes at `offset` of an object of `object_size` bytes (as
    /// listed), through the block cache; a read larger than two blocks goes
    /// straight to the store.
    pub fn read_range(
        &self,
        location: &Path,
        object_size: u64,
        offset: u64,
        length: u64,
    ) -> std::io::Result<Vec<u8>> {
        let end = offset + length;
        if end > object_size {
            return Err(self.io_error(
                location,
                Failure {
                    kind: super::failure::FailureKind::Other,
                    reason: format!("bytes {offset}..{end} lie past its end ({object_size} bytes)"),
                },
            ));
        }
        if length > 2 * BLOCK_BYTES {
            return self
                .runtime
                .block_on(Self::fetch(&self.store, location, offset..end))
                .map(|bytes| bytes.to_vec())
                .map_err(|f| self.io_error(location, f));
        }
        let mut out = Vec::with_capacity(length as usize);
        let mut at = offset;
        while at < end {
            let index = at / BLOCK_BYTES;
            let block = self
                .block(location, object_size, index)
                .map_err(|f| self.io_error(location, f))?;
            let start = (at - index * BLOCK_BYTES) as usize;
            let stop = ((end - index * BLOCK_BYTES) as usize).min(block.len());
            if start >= stop {
                return Err(self.io_error(
                    location,
                    Failure {
                        kind: super::failure::FailureKind::Other,
                        reason: format!("truncated at byte {at} (the object is shorter than when it was listed)"),
                    },
                ));
            }
            out.extend_from_slice(&block[start..stop]);
            at += (stop - start) as u64;
        }
        Ok(out)
    }

    /// The object as a sequential reader, streamed (object_store resumes a
    /// broken body where it stopped).
    pub fn open(self: &Arc<Self>, location: &Path) -> std::io::Result<ObjectReader> {
        let stream = self
            .runtime
            .block_on(self.store.get(location))
            .map_err(|e| self.io_error(location, Failure::of(&e)))?
            .into_stream();
        Ok(ObjectReader {
            source: Arc::clone(self),
            location: location.clone(),
            stream,
            chunk: Bytes::new(),
        })
    }
}

/// An object read front to back, one network chunk at a time.
pub struct ObjectReader {
    source: Arc<S3Source>,
    location: Path,
    stream: BoxStream<'static, object_store::Result<Bytes>>,
    chunk: Bytes,
}

impl Read for ObjectReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.chunk.is_empty() {
            match self.source.runtime.block_on(self.stream.next()) {
                None => return Ok(0),
                Some(Ok(chunk)) => self.chunk = chunk,
                Some(Err(e)) => return Err(self.source.io_error(&self.location, Failure::of(&e))),
            }
        }
        let n = buf.len().min(self.chunk.len());
        buf[..n].copy_from_slice(&self.chunk[..n]);
        self.chunk.advance(n);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_to_this_machine() {
        assert!(is_loopback_http("http://127.0.0.1:9000"));
        assert!(is_loopback_http("http://localhost:5000/"));
        assert!(is_loopback_http("http://[::1]:9000"));
        assert!(!is_loopback_http("http://10.0.0.5:9000"));
        assert!(!is_loopback_http("https://127.0.0.1:9000"));
        assert!(!is_loopback_http("http://localhost.example.com"));
    }
}
