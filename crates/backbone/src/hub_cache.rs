//! Weights by name from a local Hugging Face hub cache; reading never touches
//! the network (`extract --download` fills the cache first: [`crate::hub_download`]).
//!
//! `timm/tf_efficientnet_b3.ns_jft_in1k` resolves to
//! `$HF_HUB_CACHE/models--timm--tf_efficientnet_b3.ns_jft_in1k/snapshots/<rev>/model.safetensors`,
//! with its `config.json` `pretrained_cfg` giving the preprocessing recipe.

use std::path::{Path, PathBuf};

use contract::Preprocessing;
use serde::Deserialize;

use crate::recipe::{PretrainedCfg, RecipeError};

#[derive(Debug, thiserror::Error)]
pub enum HubError {
    #[error(
        "{name}: not in the Hugging Face cache at {cache}; fetch it once with `huggingface-cli \
         download {name} model.safetensors config.json`, or let extract fetch it: --download"
    )]
    NotCached { name: String, cache: PathBuf },
    #[error("{name}: the cached snapshot {snapshot} has no model.safetensors (only safetensors weights are read)")]
    NoSafetensors { name: String, snapshot: PathBuf },
    #[error("{path}: {reason}")]
    BadConfig { path: PathBuf, reason: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Recipe { path: PathBuf, source: RecipeError },
}

/// A cached model: its weights file and, when the snapshot has one, its config.
#[derive(Debug, Clone, PartialEq)]
pub struct CachedModel {
    pub name: String,
    pub weights: PathBuf,
    pub config: Option<TimmConfig>,
}

/// The parts of a timm `config.json` that effprobe uses.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct TimmConfig {
    /// e.g. `tf_efficientnet_b3`: a `tf_` prefix means TensorFlow "same" padding.
    pub architecture: String,
    pub pretrained_cfg: PretrainedCfg,
}

/// Names look like `owner/model`; anything with a path separator beyond that, or
/// an existing file, is a path instead.
pub fn looks_like_hub_name(name: &str) -> bool {
    let parts: Vec<&str> = name.split('/').collect();
    parts.len() == 2
        && parts
            .iter()
            .all(|p| !p.is_empty() && *p != "." && *p != "..")
        && !name.ends_with(".safetensors")
        && !Path::new(name).exists()
}

/// `HF_HUB_CACHE`, else `HF_HOME/hub`, else `XDG_CACHE_HOME/huggingface/hub`,
/// else `~/.cache/huggingface/hub`, as huggingface_hub itself resolves it.
pub fn default_cache_dir() -> PathBuf {
    env_path("HF_HUB_CACHE").unwrap_or_else(|| hf_home().join("hub"))
}

/// `HF_HOME`, else `XDG_CACHE_HOME/huggingface`, else `~/.cache/huggingface`:
/// where huggingface_hub keeps the hub cache and the login token.
pub fn hf_home() -> PathBuf {
    env_path("HF_HOME").unwrap_or_else(|| {
        env_path("XDG_CACHE_HOME")
            .or_else(|| env_path("HOME").map(|h| h.join(".cache")))
            .unwrap_or_else(|| PathBuf::from(".cache"))
            .join("huggingface")
    })
}

fn env_path(key: &str) -> Option<PathBuf> {
    std::env::var_os(key)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// The folder of repo `name` in `cache` (`models--OWNER--NAME`).
pub fn repo_dir(name: &str, cache: &Path) -> PathBuf {
    cache.join(format!("models--{}", name.replace('/', "--")))
}

pub fn resolve(name: &str, cache: &Path) -> Result<CachedModel, HubError> {
    let not_cached = || HubError::NotCached {
        name: name.to_string(),
        cache: cache.to_path_buf(),
    };
    let repo = repo_dir(name, cache);
    let snapshots = repo.join("snapshots");
    // The revision `main` points at, else the newest snapshot present.
    let pinned = std::fs::read_to_string(repo.join("refs/main"))
        .ok()
        .map(|rev| snapshots.join(rev.trim()))
        .filter(|dir| dir.is_dir());
    let snapshot = match pinned {
        Some(dir) => dir,
        None => newest_subdirectory(&snapshots).ok_or_else(not_cached)?,
    };
    let weights = snapshot.join("model.safetensors");
    if !weights.exists() {
        return Err(HubError::NoSafetensors {
            name: name.to_string(),
            snapshot,
        });
    }
    let config_path = snapshot.join("config.json");
    let config = if config_path.exists() {
        let text = std::fs::read_to_string(&config_path).map_err(|source| HubError::Io {
            path: config_path.clone(),
            source,
        })?;
        Some(
            serde_json::from_str::<TimmConfig>(&text).map_err(|e| HubError::BadConfig {
                path: config_path.clone(),
                reason: format!("not a timm config with pretrained_cfg: {e}"),
            })?,
        )
    } else {
        None
    };
    Ok(CachedModel {
        name: name.to_string(),
        weights,
        config,
    })
}

fn newest_subdirectory(dir: &Path) -> Option<PathBuf> {
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .filter(|e| e.path().is_dir())
        .max_by_key(|e| e.metadata().and_then(|m| m.modified()).ok())
        .map(|e| e.path())
}

impl TimmConfig {
    /// The evaluation transform timm uses for these weights (every crop mode,
    /// non-square sizes too).
    pub fn recipe(&self, config_path: &Path) -> Result<Preprocessing, HubError> {
        self.pretrained_cfg
            .recipe()
            .map_err(|source| HubError::Recipe {
                path: config_path.to_path_buf(),
                source,
            })
    }

    /// timm's `tf_*` ports of the TensorFlow weights need TensorFlow's "same" padding.
    pub fn uses_tf_same_padding(&self) -> bool {
        self.architecture.starts_with("tf_")
    }
}
