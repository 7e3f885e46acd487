//! The `effprobe.extra.*` keys of a feature file's metadata: facts about how the
//! features were made that are not part of their identity. `extract` writes them,
//! `head-train` and `report` read them through [`crate::FeatureMeta`]'s getters.

/// Size in bytes of the weights file the backbone was loaded from.
pub const WEIGHTS_BYTES: &str = "weights_bytes";
/// Trainable parameters of the backbone, without its classifier.
pub const BACKBONE_PARAMETERS: &str = "backbone_parameters";
/// The `--weights` text that loads the same weights again: an absolute file path,
/// a Hugging Face cache name, or `random:SEED`.
pub const WEIGHTS_LOCATION: &str = "weights_location";
/// Mean backbone forward seconds per image over every run that computed rows of
/// the cache these features came from.
pub const SECONDS_PER_IMAGE: &str = "backbone_seconds_per_image";
/// How many images that mean covers.
pub const TIMED_IMAGES: &str = "backbone_timed_images";
/// The architecture's own name where the variant id is the user's: timm's model
/// name of an exported module (e.g. `convnext_tiny`). Native variants have none.
pub const BACKBONE_MODEL: &str = "backbone_model";
/// `K/N` for a part file written by `extract --shard K/N`.
pub const SHARD: &str = "shard";
/// `extract --tune-top N`: the activation cache folder of these rows, relative
/// to the feature file's folder.
pub const ACTIVATIONS: &str = "activations";

impl crate::FeatureMeta {
    fn extra_number<T: std::str::FromStr>(&self, key: &str) -> Option<T> {
        self.extra.get(key)?.parse().ok()
    }

    pub fn weights_bytes(&self) -> Option<u64> {
        self.extra_number(WEIGHTS_BYTES)
    }

    pub fn backbone_parameters(&self) -> Option<u64> {
        self.extra_number(BACKBONE_PARAMETERS)
    }

    pub fn activations_dir(&self) -> Option<&str> {
        self.extra.get(ACTIVATIONS).map(String::as_str)
    }

    pub fn backbone_model(&self) -> Option<&str> {
        self.extra.get(BACKBONE_MODEL).map(String::as_str)
    }

    pub fn weights_location(&self) -> Option<&str> {
        self.extra.get(WEIGHTS_LOCATION).map(String::as_str)
    }

    /// A finite, non-negative mean, or nothing.
    pub fn backbone_seconds_per_image(&self) -> Option<f64> {
        self.extra_number::<f64>(SECONDS_PER_IMAGE)
            .filter(|s| s.is_finite() && *s >= 0.0)
    }
}
