//! The pipeline's view of a backbone: resized RGB bytes in, pooled features
//! out. [`crate::Extractor`] implements it over any [`crate::FeatureNet`];
//! tests implement it without libtorch work.

use std::collections::BTreeMap;

use contract::activations::CutPoint;
use contract::{FeatureIdentity, Preprocessing, WeightsIdentity};

/// Why a forward pass failed (device out of memory, a libtorch error, ...).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BackboneError(pub String);

/// A frozen feature extractor as the pipeline sees it: a fixed input recipe, a
/// fixed output width, and a batched forward pass over preprocessed images.
pub trait Backbone: Send {
    /// The backbone's id (`b0`, `lite2`, `convnext_tiny`): names the output file.
    fn variant(&self) -> &str;
    fn feature_dim(&self) -> usize;
    /// The layer the pooled features come from, recorded in the feature file.
    fn feature_layer(&self) -> String;
    fn recipe(&self) -> &Preprocessing;
    fn weights(&self) -> &WeightsIdentity;
    /// Images per forward pass.
    fn batch_size(&self) -> usize;
    /// Where and how it runs, for the run record (`cuda:0 bf16`, `cpu fp32`).
    fn device(&self) -> String;
    fn precision(&self) -> String;
    /// What makes its features the same as others' (the cache key, and what
    /// predict and tune-train check): see [`FeatureIdentity`].
    fn identity(&self) -> FeatureIdentity {
        FeatureIdentity {
            model: self.variant().to_string(),
            feature_dim: self.feature_dim(),
            feature_layer: self.feature_layer(),
            weights_blake3: self.weights().blake3.clone(),
            preprocessing: self.recipe().clone(),
        }
    }
    /// Pooled features for `images` (each `input × input × 3` RGB bytes, row-major),
    /// returned row-major, `images.len() × feature_dim`.
    fn forward(&mut self, images: &[&[u8]]) -> Result<Vec<f32>, BackboneError>;
    /// `extract --tune-top`: where the backbone is cut; `None` when it emits no
    /// activations.
    fn activation_cut(&self) -> Option<CutPoint> {
        None
    }
    /// Float16 values (bit patterns) per image of the activation at the cut.
    fn activation_values(&self) -> usize {
        self.activation_cut().map_or(0, |c| c.values_per_image())
    }
    /// The activations of the last [`Backbone::forward`]'s images, row-major.
    fn take_activations(&mut self) -> Vec<u16> {
        Vec::new()
    }
    /// Facts for the feature file's `effprobe.extra.*` (weights size, parameter
    /// count, where the weights can be loaded again).
    fn extra(&self) -> BTreeMap<String, String> {
        BTreeMap::new()
    }
}
