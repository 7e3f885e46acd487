//! Loading one or more feature files into a single matrix, checking that they
//! belong together and that every label is one the files declare.

use std::path::{Path, PathBuf};

use contract::metrics::PartialShards;
use contract::shard::array_syntax;
use contract::{FeatureDataset, FeatureMeta, FeatureReader, MissingShards, Split};

/// Rows per streamed batch while loading (~2.6 MB of B7 features).
const LOAD_BATCH_ROWS: usize = 256;

use crate::matrix::{Element, Matrix};
use crate::{FeatureMatrixError, Result};

/// Every row of every input, in input order.
#[derive(Debug)]
pub struct LoadedFeatures<T> {
    pub matrix: Matrix<T>,
    /// Class index per row, `< meta.classes.len()`.
    pub labels: Vec<u32>,
    pub splits: Vec<Split>,
    /// Each row's key rank (`dataset::split::key_rank` of the image's blake3):
    /// picks the holdout rows independently of file order.
    pub key_hashes: Vec<u64>,
    /// Each row's key (the image's blake3 hex): names the evaluation rows in
    /// `predictions.csv`, so models are compared on the same images.
    pub keys: Vec<String>,
    /// The first input's metadata; the others hold the same features.
    pub meta: FeatureMeta,
    pub inputs: Vec<PathBuf>,
    /// Shard folders read with shards missing (`--allow-partial` only).
    pub partial_shards: Vec<PartialShards>,
}

impl<T> LoadedFeatures<T> {
    pub fn classes(&self) -> usize {
        self.meta.classes.len()
    }
}

/// Opens every input (a file or a directory of part files) and reads all rows
/// into one preallocated matrix; the features are never held twice. A folder of
/// `extract --shard` parts with shards not done is refused, naming them.
pub fn load_features<T: Element>(inputs: &[PathBuf]) -> Result<LoadedFeatures<T>> {
    load_features_with(inputs, MissingShards::Refuse)
}

/// [`load_features`], reading only the done shards of incomplete shard folders
/// under [`MissingShards::Allow`] (recorded in `partial_shards`).
pub fn load_features_with<T: Element>(
    inputs: &[PathBuf],
    missing: MissingShards,
) -> Result<LoadedFeatures<T>> {
    let first_path = inputs.first().ok_or(FeatureMatrixError::NoInputs)?;
    let mut datasets = Vec::with_capacity(inputs.len());
    let mut partial_shards = Vec::new();
    for input in inputs {
        let (dataset, shards) = FeatureDataset::open_with(input, missing)?;
        if let Some(shards) = shards.filter(|s| !s.missing.is_empty()) {
            partial_shards.push(PartialShards {
                input: input.display().to_string(),
                shards: shards.count,
                read: array_syntax(&shards.done),
                missing: array_syntax(&shards.missing),
            });
        }
        datasets.push(dataset);
    }
    let meta = datasets[0].meta().clone();
    for (path, dataset) in inputs.iter().zip(&datasets) {
        check_compatible(first_path, &meta, path, dataset.meta())?;
        if dataset.num_rows() == 0 {
            return Err(FeatureMatrixError::EmptyInput { path: path.clone() });
        }
    }
    if meta.classes.len() < 2 {
        return Err(FeatureMatrixError::TooFewClasses(meta.classes.len()));
    }

    let total: usize = datasets.iter().map(FeatureDataset::num_rows).sum();
    let mut matrix = Matrix::<T>::zeroed(total, meta.feature_dim);
    let mut labels = Vec::with_capacity(total);
    let mut splits = Vec::with_capacity(total);
    let mut key_hashes = Vec::with_capacity(total);
    let mut keys = Vec::with_capacity(total);
    for (path, dataset) in inputs.iter().zip(&datasets) {
        let mut row_in_file = 0usize;
        // Small batches keep the transient copy beside the matrix small.
        let readers = dataset
            .parts()
            .iter()
            .map(|part| FeatureReader::open_with_batch_rows(part, LOAD_BATCH_ROWS));
        for reader in readers {
            for batch in reader? {
                let batch = batch?;
                if labels.len() + batch.len() > total {
                    return Err(FeatureMatrixError::Io {
                        path: path.clone(),
                        source: std::io::Error::other("more rows than the file's footer declares"),
                    });
                }
                for i in 0..batch.len() {
                    let label = batch.labels[i];
                    let known = usize::try_from(label)
                        .ok()
                        .and_then(|l| meta.classes.get(l));
                    if known != Some(&batch.label_names[i]) {
                        return Err(FeatureMatrixError::UnknownLabel {
                            path: path.clone(),
                            row: row_in_file + i,
                            key: batch.keys[i].clone(),
                            label,
                            name: batch.label_names[i].clone(),
                            classes: meta.classes.clone(),
                        });
                    }
                    labels.push(label as u32);
                    key_hashes.push(dataset::split::key_rank(&batch.keys[i]));
                    keys.push(batch.keys[i].clone());
                }
                matrix.fill_rows(labels.len() - batch.len(), &batch.features);
                splits.extend_from_slice(&batch.splits);
                row_in_file += batch.len();
            }
        }
    }
    if labels.len() != total {
        return Err(FeatureMatrixError::Io {
            path: first_path.clone(),
            source: std::io::Error::other("fewer rows than the files' footers declare"),
        });
    }
    Ok(LoadedFeatures {
        matrix,
        labels,
        splits,
        key_hashes,
        keys,
        meta,
        inputs: inputs.to_vec(),
        partial_shards,
    })
}

fn check_compatible(
    first_path: &Path,
    first: &FeatureMeta,
    path: &Path,
    other: &FeatureMeta,
) -> Result<()> {
    if !first.same_features_as(other) {
        let describe = |m: &FeatureMeta| {
            format!(
                "variant {} (dim {}, layer {:?}, weights {} {}, preprocessing {:?})",
                m.variant,
                m.feature_dim,
                m.feature_layer,
                m.weights.source,
                m.weights.blake3,
                m.preprocessing
            )
        };
        return Err(FeatureMatrixError::MixedInputs {
            path: path.to_path_buf(),
            first: first_path.to_path_buf(),
            expected: describe(first),
            found: describe(other),
        });
    }
    if first.classes != other.classes {
        return Err(FeatureMatrixError::MixedClasses {
            path: path.to_path_buf(),
            first: first_path.to_path_buf(),
            expected: first.classes.clone(),
            found: other.classes.clone(),
        });
    }
    Ok(())
}
