//! "The same features": the one definition every stage uses to decide whether
//! rows made at different times, in different processes or from different
//! copies of the weights are interchangeable.
//!
//! Two rows are interchangeable when the same network (model id, feature
//! layer and width) with the same weights (by content, never by path) saw the
//! same pixels (the preprocessing recipe). Where the weights were read from is
//! provenance, not identity: the same file under another path makes the same
//! features, so the cache, head-train, tune-train and predict all agree.

use serde::Serialize;

use crate::meta::{FeatureMeta, FORMAT_VERSION};
use crate::preprocessing::Preprocessing;

/// The revision of the code that turns image bytes into a backbone's input
/// (decoder and resampler). The same recipe gave other pixels in another
/// revision, so cached rows from it are not the same features. 2: libjpeg-turbo
/// and Pillow's resampler, PIL's bytes exactly (1: zune-jpeg and
/// fast_image_resize, within a few levels).
pub const PIXELS_REVISION: u32 = 2;

/// What makes features the same (see the module docs).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FeatureIdentity {
    /// `b0`, `lite2`, `convnext_tiny`: the backbone's id.
    pub model: String,
    pub feature_dim: usize,
    pub feature_layer: String,
    /// blake3 of the weights file (or of an exported module).
    pub weights_blake3: String,
    pub preprocessing: Preprocessing,
}

impl FeatureIdentity {
    /// A hex digest naming these features: the feature cache's folder key. It
    /// also names the pixel pipeline's revision ([`PIXELS_REVISION`]), so rows
    /// decoded and resized by an earlier effprobe are not reused.
    pub fn fingerprint(&self) -> String {
        let identity = serde_json::json!({
            "format_version": FORMAT_VERSION,
            "pixels_revision": PIXELS_REVISION,
            "variant": self.model,
            "feature_dim": self.feature_dim,
            "feature_layer": self.feature_layer,
            "weights_blake3": self.weights_blake3,
            "preprocessing": self.preprocessing,
        });
        blake3::hash(identity.to_string().as_bytes())
            .to_hex()
            .to_string()
    }

    /// Each field where `other` differs, as `what: ours, theirs` (`ours` and
    /// `theirs` name the two sides in the text).
    pub fn differences(&self, other: &FeatureIdentity, ours: &str, theirs: &str) -> Vec<String> {
        let mut found = Vec::new();
        let mut compare = |what: &str, a: String, b: String| {
            if a != b {
                found.push(format!("{what}: {ours} {a}, {theirs} {b}"));
            }
        };
        compare("variant", self.model.clone(), other.model.clone());
        compare(
            "feature width",
            self.feature_dim.to_string(),
            other.feature_dim.to_string(),
        );
        compare(
            "feature layer",
            format!("{:?}", self.feature_layer),
            format!("{:?}", other.feature_layer),
        );
        compare(
            "weights blake3",
            self.weights_blake3.clone(),
            other.weights_blake3.clone(),
        );
        compare(
            "preprocessing",
            serde_json::to_string(&self.preprocessing).unwrap_or_default(),
            serde_json::to_string(&other.preprocessing).unwrap_or_default(),
        );
        found
    }
}

impl FeatureMeta {
    /// The identity of this file's features.
    pub fn identity(&self) -> FeatureIdentity {
        FeatureIdentity {
            model: self.variant.clone(),
            feature_dim: self.feature_dim,
            feature_layer: self.feature_layer.clone(),
            weights_blake3: self.weights.blake3.clone(),
            preprocessing: self.preprocessing.clone(),
        }
    }

    /// True when rows of `self` and `other` are interchangeable (see
    /// [`FeatureIdentity`]); creation time, tool version and where the weights
    /// were read from may differ.
    pub fn same_features_as(&self, other: &FeatureMeta) -> bool {
        self.identity() == other.identity()
    }
}
