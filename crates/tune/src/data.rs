//! What a tune run trains on: the labels, splits and keys of a feature file and,
//! for each row, its cached activation (memory-mapped, gathered per batch).

use std::path::{Path, PathBuf};

use contract::activations::{ActivationStore, CutPoint};
use contract::MissingShards;
use feature_matrix::{load_features_with, LoadedFeatures};
use tch::{Device, Kind, Tensor};

use crate::{Result, TuneError};

pub struct TuneData {
    /// The feature file's rows (keys, labels, splits, metadata); its pooled
    /// features are the untuned backbone's and go unused.
    pub rows: LoadedFeatures<f32>,
    pub store: ActivationStore,
}

/// The activation folder a feature file records (`effprobe.extra.activations`),
/// relative to the file's folder.
pub fn recorded_activations(input: &Path, rows: &LoadedFeatures<f32>) -> Result<PathBuf> {
    let folder = if input.is_dir() {
        input.to_path_buf()
    } else {
        input.parent().map(Path::to_path_buf).unwrap_or_default()
    };
    match rows.meta.activations_dir() {
        Some(relative) => Ok(folder.join(relative)),
        None => Err(TuneError::Input {
            path: input.to_path_buf(),
            reason: "these features were extracted without activations: rerun extract with \
                     --tune-top N (the features come from the cache; only the activations are \
                     computed), or pass --activations DIR"
                .into(),
        }),
    }
}

impl TuneData {
    /// The rows of `inputs` and the activations in `activations` (default: the
    /// folder the first input records), checked to be of the same backbone,
    /// weights and preprocessing, and to cover every row. Shard folders with
    /// shards not done are refused unless `missing` allows them.
    pub fn open(
        inputs: &[PathBuf],
        activations: Option<&Path>,
        missing: MissingShards,
    ) -> Result<TuneData> {
        let rows = load_features_with::<f32>(inputs, missing)?;
        let dir = match activations {
            Some(dir) => dir.to_path_buf(),
            None => recorded_activations(&inputs[0], &rows)?,
        };
        let store = ActivationStore::open(&dir)?;
        let meta = store.meta();
        let mismatch = |what: String| TuneError::Input {
            path: dir.clone(),
            reason: format!(
                "these activations are not of the features in {}: {what}",
                inputs[0].display()
            ),
        };
        if meta.variant != rows.meta.variant {
            return Err(mismatch(format!(
                "variant {} vs {}",
                meta.variant, rows.meta.variant
            )));
        }
        if meta.weights.blake3 != rows.meta.weights.blake3 {
            return Err(mismatch(format!(
                "weights blake3 {} vs {}",
                meta.weights.blake3, rows.meta.weights.blake3
            )));
        }
        if meta.preprocessing != rows.meta.preprocessing {
            return Err(mismatch("another preprocessing recipe".into()));
        }
        let missing: Vec<&str> = rows
            .keys
            .iter()
            .map(String::as_str)
            .filter(|k| !store.contains(k))
            .collect();
        if !missing.is_empty() {
            return Err(TuneError::Input {
                path: dir,
                reason: format!(
                    "{} of {} rows have no cached activation (first key {}); rerun extract with \
                     the same --tune-top to fill them in",
                    missing.len(),
                    rows.keys.len(),
                    missing[0]
                ),
            });
        }
        Ok(TuneData { rows, store })
    }

    pub fn cut(&self) -> CutPoint {
        self.store.meta().cut
    }

    /// Activations of `rows` (indices into the feature rows), float32
    /// `[rows, C, H, W]` on `device`.
    pub fn batch(&self, rows: &[usize], device: Device) -> Result<Tensor> {
        let cut = self.cut();
        let size = cut.bytes_per_image();
        let mut bytes = Vec::with_capacity(rows.len() * size);
        for &row in rows {
            let key = &self.rows.keys[row];
            let data = self.store.row_bytes(key).ok_or_else(|| TuneError::Input {
                path: self.store.dir().to_path_buf(),
                reason: format!("activation of {key} is out of its chunk's bounds"),
            })?;
            bytes.extend_from_slice(data);
        }
        let [c, h, w] = cut.shape.map(|d| d as i64);
        let half = Tensor::f_from_data_size(&bytes, &[rows.len() as i64, c, h, w], Kind::Half)?;
        Ok(half.f_to_device(device)?.f_to_kind(Kind::Float)?)
    }
}
