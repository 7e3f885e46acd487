use std::collections::BTreeMap;
use std::path::Path;

use parquet::file::metadata::KeyValue;
use serde::{Deserialize, Serialize};

use crate::{FeatureFileError, Preprocessing, Result};

/// Bumped on any change a reader of the previous version would misread.
pub const FORMAT_VERSION: u32 = 1;

const PREFIX: &str = "effprobe.";
const EXTRA_PREFIX: &str = "effprobe.extra.";

/// Which weights produced the features: where they came from and the blake3 of the file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeightsIdentity {
    pub source: String,
    pub blake3: String,
}

/// Everything a feature file says about itself in its Parquet key-value metadata.
/// Each field is its own `effprobe.*` key holding a plain string, so any Parquet
/// reader can show it.
#[derive(Clone, Debug, PartialEq)]
pub struct FeatureMeta {
    pub variant: String,
    pub feature_dim: usize,
    /// The layer the pooled features are taken from (e.g. `head.act -> global avg pool`).
    pub feature_layer: String,
    pub preprocessing: Preprocessing,
    pub weights: WeightsIdentity,
    /// Class names in label order: label `i` is `classes[i]`.
    pub classes: Vec<String>,
    pub tool_version: String,
    /// RFC 3339, UTC.
    pub created_at: String,
    /// Free-form additions (`effprobe.extra.<name>`), e.g. the shard a part file holds.
    pub extra: BTreeMap<String, String>,
}

impl FeatureMeta {
    /// Metadata stamped with this crate's version and the current time.
    pub fn new(
        variant: impl Into<String>,
        feature_dim: usize,
        feature_layer: impl Into<String>,
        preprocessing: Preprocessing,
        weights: WeightsIdentity,
        classes: Vec<String>,
    ) -> Self {
        FeatureMeta {
            variant: variant.into(),
            feature_dim,
            feature_layer: feature_layer.into(),
            preprocessing,
            weights,
            classes,
            tool_version: format!("effprobe {}", env!("CARGO_PKG_VERSION")),
            created_at: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
            extra: BTreeMap::new(),
        }
    }

    pub fn to_key_values(&self) -> Vec<KeyValue> {
        let mut pairs = vec![
            ("format_version".to_string(), FORMAT_VERSION.to_string()),
            ("variant".to_string(), self.variant.clone()),
            ("feature_dim".to_string(), self.feature_dim.to_string()),
            ("feature_layer".to_string(), self.feature_layer.clone()),
            (
                "input_size".to_string(),
                self.preprocessing.input_size_label(),
            ),
            ("preprocessing".to_string(), to_json(&self.preprocessing)),
            ("weights.source".to_string(), self.weights.source.clone()),
            ("weights.blake3".to_string(), self.weights.blake3.clone()),
            ("classes".to_string(), to_json(&self.classes)),
            ("tool_version".to_string(), self.tool_version.clone()),
            ("created_at".to_string(), self.created_at.clone()),
        ];
        pairs.extend(
            self.extra
                .iter()
                .map(|(k, v)| (format!("extra.{k}"), v.clone())),
        );
        pairs
            .into_iter()
            .map(|(key, value)| KeyValue::new(format!("{PREFIX}{key}"), value))
            .collect()
    }

    pub fn from_key_values(path: &Path, pairs: Option<&Vec<KeyValue>>) -> Result<Self> {
        let map: BTreeMap<&str, &str> = pairs
            .map(|pairs| {
                pairs
                    .iter()
                    .filter_map(|kv| Some((kv.key.as_str(), kv.value.as_deref()?)))
                    .collect()
            })
            .unwrap_or_default();
        let get = |key: &str| -> Result<&str> {
            map.get(format!("{PREFIX}{key}").as_str())
                .copied()
                .ok_or_else(|| FeatureFileError::MissingMetadata {
                    path: path.to_path_buf(),
                    key: format!("{PREFIX}{key}"),
                })
        };
        let bad = |key: &str, reason: String| FeatureFileError::BadMetadata {
            path: path.to_path_buf(),
            key: format!("{PREFIX}{key}"),
            reason,
        };

        let version = get("format_version")?;
        if version.parse::<u32>().ok() != Some(FORMAT_VERSION) {
            return Err(FeatureFileError::UnknownFormatVersion {
                path: path.to_path_buf(),
                found: version.to_string(),
                supported: FORMAT_VERSION,
            });
        }
        let feature_dim = get("feature_dim")?
            .parse::<usize>()
            .map_err(|e| bad("feature_dim", e.to_string()))?;
        if feature_dim == 0 {
            return Err(bad("feature_dim", "must be at least 1".into()));
        }
        let preprocessing: Preprocessing = serde_json::from_str(get("preprocessing")?)
            .map_err(|e| bad("preprocessing", e.to_string()))?;
        let classes: Vec<String> =
            serde_json::from_str(get("classes")?).map_err(|e| bad("classes", e.to_string()))?;
        let extra = map
            .iter()
            .filter_map(|(k, v)| Some((k.strip_prefix(EXTRA_PREFIX)?.to_string(), v.to_string())))
            .collect();
        Ok(FeatureMeta {
            variant: get("variant")?.to_string(),
            feature_dim,
            feature_layer: get("feature_layer")?.to_string(),
            preprocessing,
            weights: WeightsIdentity {
                source: get("weights.source")?.to_string(),
                blake3: get("weights.blake3")?.to_string(),
            },
            classes,
            tool_version: get("tool_version")?.to_string(),
            created_at: get("created_at")?.to_string(),
            extra,
        })
    }
}

/// Only used on plain structs and strings, which cannot fail to serialise.
fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("plain data always serialises")
}
