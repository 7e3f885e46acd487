//! Fetching a model repo's weights into the local Hugging Face cache
//! (`extract --download`), verified before anything reaches the cache.
//!
//! The hub's own Rust client (hf-hub) downloads `config.json` and
//! `model.safetensors` at the commit the hub's API lists, into a private staging
//! cache inside the real one (same file system). There the weights are checked
//! against the sha256 the API reports for the LFS file, and as weights (the
//! safetensors checks every load does, and the variant's tensors when given).
//! Only then are the blobs and snapshot links moved into the real cache and
//! `refs/main` written, in the layout huggingface_hub and [`crate::hub_cache`]
//! read; a failed or corrupted download leaves nothing a later run would load.
//!
//! The environment, as huggingface_hub reads it: `HF_ENDPOINT` (the hub's
//! address), `HF_TOKEN`, else the token file in `HF_HOME`. The cache folder is
//! the caller's (`--hf-cache`, `HF_HUB_CACHE`, `HF_HOME/hub`, ...:
//! [`crate::hub_cache::default_cache_dir`]); hf-hub's own environment lookup
//! reads only `HF_HOME` and `HF_ENDPOINT`, so neither its cache nor its token
//! lookup is used as it stands.

use std::path::{Path, PathBuf};

use hf_hub::api::sync::{Api, ApiBuilder};
use hf_hub::{Cache, Repo, RepoType};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::efficientnet::{EfficientNetWeights, Padding, Variant, WeightsOptions};
use crate::error::ModelError;
use crate::hub_cache::{self, CachedModel, HubError, TimmConfig};

/// The hub huggingface_hub talks to when `HF_ENDPOINT` is unset.
pub const DEFAULT_ENDPOINT: &str = "https://huggingface.co";

const WEIGHTS_FILE: &str = "model.safetensors";
const CONFIG_FILE: &str = "config.json";

#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    #[error("{name}: downloading from {endpoint}: {reason}")]
    Hub {
        name: String,
        endpoint: String,
        reason: String,
    },
    #[error(
        "{name}: {endpoint} lists no {WEIGHTS_FILE} at revision {revision} (files: {files}); \
         effprobe reads only safetensors weights"
    )]
    NoSafetensors {
        name: String,
        endpoint: String,
        revision: String,
        files: String,
    },
    #[error(
        "{name}: {endpoint} reports no sha256 for {WEIGHTS_FILE} (not an LFS file), so a download \
         cannot be verified; nothing was fetched"
    )]
    Unverifiable { name: String, endpoint: String },
    #[error(
        "{name}: the {WEIGHTS_FILE} downloaded from {endpoint} is not the file the hub lists \
         (sha256 {found}, {found_bytes} bytes; expected {expected}, {expected_bytes} bytes); \
         nothing was kept in the cache"
    )]
    Corrupted {
        name: String,
        endpoint: String,
        found: String,
        found_bytes: u64,
        expected: String,
        expected_bytes: u64,
    },
    #[error(
        "{name}: {endpoint} served revision {served} while listing {listed} (the repo changed \
         during the download); run again"
    )]
    RevisionMoved {
        name: String,
        endpoint: String,
        served: String,
        listed: String,
    },
    #[error("{name}: the {CONFIG_FILE} from {endpoint} is not a timm config ({reason}); nothing was kept in the cache")]
    BadConfig {
        name: String,
        endpoint: String,
        reason: String,
    },
    #[error("{name}: the {WEIGHTS_FILE} from {endpoint} was refused ({source}); nothing was kept in the cache")]
    BadWeights {
        name: String,
        endpoint: String,
        source: Box<ModelError>,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Cache(#[from] HubError),
}

/// What the download checks beyond the sha256, and how it shows itself.
#[derive(Clone, Debug, Default)]
pub struct DownloadOptions {
    /// Check the weights as this variant's (tensor names and shapes).
    pub variant: Option<Variant>,
    /// hf-hub's progress bar on stderr (drawn only on a terminal).
    pub progress: bool,
}

/// A finished download.
#[derive(Debug, Clone)]
pub struct Downloaded {
    pub model: CachedModel,
    pub endpoint: String,
    pub revision: String,
    pub bytes: u64,
    pub sha256: String,
}

/// `HF_ENDPOINT` without a trailing slash, else [`DEFAULT_ENDPOINT`].
pub fn endpoint() -> String {
    std::env::var("HF_ENDPOINT")
        .ok()
        .map(|e| e.trim_end_matches('/').to_string())
        .filter(|e| !e.is_empty())
        .unwrap_or_else(|| DEFAULT_ENDPOINT.to_string())
}

/// `HF_TOKEN`, else the token `huggingface-cli login` saved in `HF_HOME`.
fn token() -> Option<String> {
    std::env::var("HF_TOKEN")
        .ok()
        .filter(|t| !t.trim().is_empty())
        .or_else(|| Cache::new(hub_cache::hf_home().join("hub")).token())
}

/// The API's answer to `/api/models/NAME/revision/main?blobs=true`: the commit
/// and each file, with the sha256 and size of the LFS ones.
#[derive(Debug, Deserialize)]
struct Listing {
    sha: String,
    siblings: Vec<Sibling>,
}

#[derive(Debug, Deserialize)]
struct Sibling {
    rfilename: String,
    #[serde(default)]
    lfs: Option<LfsFile>,
}

#[derive(Debug, Deserialize)]
struct LfsFile {
    sha256: String,
    size: u64,
}

/// Downloads repo `name`'s weights (and config) into `cache`, verified.
pub fn download(
    name: &str,
    cache: &Path,
    options: &DownloadOptions,
) -> Result<Downloaded, DownloadError> {
    let endpoint = endpoint();
    let hub_error = |reason: String| DownloadError::Hub {
        name: name.to_string(),
        endpoint: endpoint.clone(),
        reason,
    };
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| DownloadError::Io { path, source }
    };
    std::fs::create_dir_all(cache).map_err(io(cache))?;
    // Removed on every return: only what is moved out of it stays.
    let staging = tempfile::Builder::new()
        .prefix(".effprobe-download-")
        .tempdir_in(cache)
        .map_err(io(cache))?;
    let api = ApiBuilder::from_cache(Cache::new(staging.path().to_path_buf()))
        .with_endpoint(endpoint.clone())
        .with_token(token())
        .with_progress(options.progress)
        .with_retries(3)
        .with_user_agent("effprobe", env!("CARGO_PKG_VERSION"))
        .build()
        .map_err(|e| hub_error(e.to_string()))?;

    let listing = list(&api, name).map_err(hub_error)?;
    let weights_entry = listing
        .siblings
        .iter()
        .find(|s| s.rfilename == WEIGHTS_FILE)
        .ok_or_else(|| DownloadError::NoSafetensors {
            name: name.to_string(),
            endpoint: endpoint.clone(),
            revision: listing.sha.clone(),
            files: listing
                .siblings
                .iter()
                .map(|s| s.rfilename.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })?;
    let expected = weights_entry
        .lfs
        .as_ref()
        .ok_or_else(|| DownloadError::Unverifiable {
            name: name.to_string(),
            endpoint: endpoint.clone(),
        })?;
    let has_config = listing.siblings.iter().any(|s| s.rfilename == CONFIG_FILE);

    // At the listed commit, so the files are the ones the listing describes.
    let pinned = api.repo(Repo::with_revision(
        name.to_string(),
        RepoType::Model,
        listing.sha.clone(),
    ));
    let fetch = |file: &str| pinned.download(file).map_err(|e| hub_error(e.to_string()));
    let config_link = has_config.then(|| fetch(CONFIG_FILE)).transpose()?;
    let weights_link = fetch(WEIGHTS_FILE)?;
    let served = weights_link
        .parent()
        .and_then(Path::file_name)
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if served != listing.sha {
        return Err(DownloadError::RevisionMoved {
            name: name.to_string(),
            endpoint,
            served,
            listed: listing.sha,
        });
    }

    let (sha256, bytes) = sha256_of(&weights_link).map_err(io(&weights_link))?;
    if sha256 != expected.sha256.to_ascii_lowercase() || bytes != expected.size {
        return Err(DownloadError::Corrupted {
            name: name.to_string(),
            endpoint,
            found: sha256,
            found_bytes: bytes,
            expected: expected.sha256.clone(),
            expected_bytes: expected.size,
        });
    }
    let config = match &config_link {
        Some(path) => Some(
            read_config(path).map_err(|reason| DownloadError::BadConfig {
                name: name.to_string(),
                endpoint: endpoint.clone(),
                reason,
            })?,
        ),
        None => None,
    };
    // The checks every load does, before the file can be loaded at all.
    let padding = config.as_ref().map(|c| {
        if c.uses_tf_same_padding() {
            Padding::Same
        } else {
            Padding::Symmetric
        }
    });
    let weights_options = WeightsOptions {
        variant: options.variant,
        padding,
        source: Some(name.to_string()),
    };
    EfficientNetWeights::open(&weights_link, &weights_options).map_err(|source| {
        DownloadError::BadWeights {
            name: name.to_string(),
            endpoint: endpoint.clone(),
            source: Box::new(source),
        }
    })?;

    let staged_repo = hub_cache::repo_dir(name, staging.path());
    let cache_repo = hub_cache::repo_dir(name, cache);
    // The config first: a snapshot is loadable once its weights link exists.
    let files: Vec<&str> = config_link
        .iter()
        .map(|_| CONFIG_FILE)
        .chain([WEIGHTS_FILE])
        .collect();
    publish(&staged_repo, &cache_repo, &listing.sha, &files)?;
    Ok(Downloaded {
        model: hub_cache::resolve(name, cache)?,
        endpoint,
        revision: listing.sha,
        bytes,
        sha256,
    })
}

fn list(api: &Api, name: &str) -> Result<Listing, String> {
    let mut response = api
        .model(name.to_string())
        .info_request()
        .query("blobs", "true")
        .call()
        .map_err(|e| e.to_string())?;
    response
        .body_mut()
        .read_json::<Listing>()
        .map_err(|e| format!("the API's file list: {e}"))
}

fn read_config(path: &Path) -> Result<TimmConfig, String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    serde_json::from_str(&text).map_err(|e| e.to_string())
}

/// The lowercase hex sha256 of a file and its length.
fn sha256_of(path: &Path) -> std::io::Result<(String, u64)> {
    let mut hasher = Sha256::new();
    let bytes = std::io::copy(&mut std::fs::File::open(path)?, &mut hasher)?;
    Ok((format!("{:x}", hasher.finalize()), bytes))
}

/// Moves the staged blobs of `files` at `commit` into `cache_repo`, links them
/// from its snapshot (each link published by a rename, so a reader sees the old
/// link or the new one), then points `refs/main` at the commit.
fn publish(
    staged_repo: &Path,
    cache_repo: &Path,
    commit: &str,
    files: &[&str],
) -> Result<(), DownloadError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| DownloadError::Io { path, source }
    };
    let blobs = cache_repo.join("blobs");
    let snapshot = cache_repo.join("snapshots").join(commit);
    let refs = cache_repo.join("refs");
    for dir in [&blobs, &snapshot, &refs] {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
    }
    for file in files {
        let staged_link = staged_repo.join("snapshots").join(commit).join(file);
        // hf-hub names the blob by the file's etag (the sha256 for LFS files).
        let staged_blob = std::fs::canonicalize(&staged_link).map_err(io(&staged_link))?;
        let blob_name = staged_blob
            .file_name()
            .map(|n| n.to_os_string())
            .ok_or_else(|| DownloadError::Io {
                path: staged_blob.clone(),
                source: std::io::Error::other("not a blob"),
            })?;
        let blob = blobs.join(&blob_name);
        std::fs::rename(&staged_blob, &blob).map_err(io(&blob))?;
        let link = snapshot.join(file);
        let temporary = contract::atomic::temporary_path(&link);
        link_blob(
            &Path::new("../../blobs").join(&blob_name),
            &blob,
            &temporary,
        )
        .map_err(io(&temporary))?;
        std::fs::rename(&temporary, &link).map_err(io(&link))?;
    }
    let main = refs.join("main");
    contract::atomic::write_atomically(&main, commit.as_bytes()).map_err(io(&main))
}

/// The snapshot entry for a blob: a relative symlink, as huggingface_hub makes.
#[cfg(unix)]
fn link_blob(relative: &Path, _blob: &Path, link: &Path) -> std::io::Result<()> {
    std::os::unix::fs::symlink(relative, link)
}

/// Where symlinks need privileges, huggingface_hub copies the blob instead.
#[cfg(not(unix))]
fn link_blob(_relative: &Path, blob: &Path, link: &Path) -> std::io::Result<()> {
    std::fs::copy(blob, link).map(|_| ())
}
