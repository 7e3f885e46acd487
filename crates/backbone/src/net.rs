//! The tensor-level face every backbone family shows: normalised images in,
//! pooled features out, on a placement. [`crate::Extractor`] wraps one with its
//! recipe for the pipeline.

use contract::activations::CutPoint;
use contract::WeightsIdentity;
use tch::Tensor;

use crate::device::Placement;
use crate::efficientnet::EfficientNet;
use crate::error::ModelError;
use crate::ModelId;

pub trait FeatureNet: Send {
    /// `b0`, `lite2`, `convnext_tiny`: names the output files.
    fn id(&self) -> &ModelId;
    fn feature_dim(&self) -> usize;
    /// The layer the pooled features come from, recorded in the feature file.
    fn feature_layer(&self) -> String;
    fn weights(&self) -> &WeightsIdentity;
    /// Trainable parameters of the backbone (no classifier).
    fn parameter_count(&self) -> u64;
    fn placement(&self) -> Placement;
    /// Pooled features `[batch, feature_dim]`, float32 on the CPU, of normalised
    /// images `[batch, 3, height, width]` (float32, any device).
    fn features(&self, images: &Tensor) -> Result<Tensor, ModelError>;
    /// The features and, with an activation cut set, the tensor entering the
    /// cut's first block, `[batch, C, H, W]` float16 on the CPU: one forward pass.
    fn features_and_activation(
        &self,
        images: &Tensor,
    ) -> Result<(Tensor, Option<Tensor>), ModelError> {
        Ok((self.features(images)?, None))
    }
    /// `extract --tune-top`: where the network is cut; `None` when it emits no
    /// activations.
    fn activation_cut(&self) -> Option<CutPoint> {
        None
    }
    /// Cut points and tuned tops are the native EfficientNet's alone.
    fn as_efficientnet_mut(&mut self) -> Option<&mut EfficientNet> {
        None
    }
}
