//! The weights a native variant uses when the command names none: one Hugging
//! Face repo per variant, read from the local cache (`extract --download`
//! fetches it there first).
//!
//! How the table was chosen, from timm 1.0.31's own pretrained registry: for
//! each variant, the default pretrained tag of timm's `efficientnet_<variant>`
//! (the first tag of its default config, when `timm.list_pretrained()` lists it
//! as having weights); where that default is `untrained` (B6, B7, Lite1..Lite4),
//! the default tag of its TensorFlow port `tf_efficientnet_<variant>`. The repo
//! is that model's `pretrained_cfg.hf_hub_id`. Every entry is a timm-named
//! checkpoint the native network reads (naming.rs, `Family::Timm`) whose
//! `config.json` names its architecture: a `tf_` port gets TensorFlow "same"
//! padding, the others PyTorch symmetric padding (hub_cache.rs).
//! tests/canonical_weights.rs re-derives the table from timm's registry and
//! checks each entry's tensor names and shapes against the native network.

use super::Variant;

/// `(variant, Hugging Face repo)`, in [`Variant::ALL`] order.
pub const CANONICAL_WEIGHTS: [(Variant, &str); 13] = [
    (Variant::B0, "timm/efficientnet_b0.ra_in1k"),
    (Variant::B1, "timm/efficientnet_b1.ra4_e3600_r240_in1k"),
    (Variant::B2, "timm/efficientnet_b2.ra_in1k"),
    (Variant::B3, "timm/efficientnet_b3.ra2_in1k"),
    (Variant::B4, "timm/efficientnet_b4.ra2_in1k"),
    (Variant::B5, "timm/efficientnet_b5.sw_in12k_ft_in1k"),
    (Variant::B6, "timm/tf_efficientnet_b6.ns_jft_in1k"),
    (Variant::B7, "timm/tf_efficientnet_b7.ns_jft_in1k"),
    (Variant::Lite0, "timm/efficientnet_lite0.ra_in1k"),
    (Variant::Lite1, "timm/tf_efficientnet_lite1.in1k"),
    (Variant::Lite2, "timm/tf_efficientnet_lite2.in1k"),
    (Variant::Lite3, "timm/tf_efficientnet_lite3.in1k"),
    (Variant::Lite4, "timm/tf_efficientnet_lite4.in1k"),
];

/// The repo of `variant`'s canonical timm weights.
pub fn canonical_weights(variant: Variant) -> &'static str {
    CANONICAL_WEIGHTS
        .iter()
        .find(|(v, _)| *v == variant)
        .map(|(_, repo)| *repo)
        .unwrap_or_else(|| unreachable!("CANONICAL_WEIGHTS lists every variant"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_entry_per_variant_in_order() {
        let listed: Vec<Variant> = CANONICAL_WEIGHTS.iter().map(|(v, _)| *v).collect();
        assert_eq!(listed, Variant::ALL.to_vec());
        for variant in Variant::ALL {
            let repo = canonical_weights(variant);
            let tail = format!("efficientnet_{}.", variant.name());
            assert!(repo.starts_with("timm/") && repo.contains(&tail), "{repo}");
        }
    }
}
