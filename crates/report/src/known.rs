//! Facts about the EfficientNet family the report falls back on when the feature
//! metadata does not record them: display names, the B0..B7 order, and
//! parameter counts.
//!
//! Parameter counts are `sum(p.numel() for p in model.parameters())` of the
//! reference implementations: torchvision 0.26 `efficientnet_b0..b7` (total, and
//! `model.features` for the backbone without the classifier) and timm 1.0.31
//! `tf_efficientnet_lite0..4` (total, and `num_classes=0` for the backbone).
//! BatchNorm running statistics are buffers, not parameters, and are not counted.

/// `(variant, backbone without classifier, with the 1000-class ImageNet classifier)`.
const PARAMETERS: [(&str, u64, u64); 13] = [
    ("b0", 4_007_548, 5_288_548),
    ("b1", 6_513_184, 7_794_184),
    ("b2", 7_700_994, 9_109_994),
    ("b3", 10_696_232, 12_233_232),
    ("b4", 17_548_616, 19_341_616),
    ("b5", 28_340_784, 30_389_784),
    ("b6", 40_735_704, 43_040_704),
    ("b7", 63_786_960, 66_347_960),
    ("lite0", 3_371_008, 4_652_008),
    ("lite1", 4_135_680, 5_416_680),
    ("lite2", 4_811_072, 6_092_072),
    ("lite3", 6_916_096, 8_197_096),
    ("lite4", 11_725_568, 13_006_568),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KnownParameters {
    pub backbone: u64,
    pub with_classifier: u64,
}

pub fn parameters(variant: &str) -> Option<KnownParameters> {
    let variant = variant.to_ascii_lowercase();
    PARAMETERS.iter().find(|(name, _, _)| *name == variant).map(
        |&(_, backbone, with_classifier)| KnownParameters {
            backbone,
            with_classifier,
        },
    )
}

/// Sort key: B0..B7, then Lite0..Lite4, then anything else by name.
pub fn variant_rank(variant: &str) -> usize {
    let variant = variant.to_ascii_lowercase();
    PARAMETERS
        .iter()
        .position(|(name, _, _)| *name == variant)
        .unwrap_or(PARAMETERS.len())
}

/// `b0` → `EfficientNet-B0`, `lite2` → `EfficientNet-Lite2`; others unchanged.
pub fn display_name(variant: &str) -> String {
    let lower = variant.to_ascii_lowercase();
    if let Some(n) = lower.strip_prefix("lite").filter(|n| is_digits(n)) {
        format!("EfficientNet-Lite{n}")
    } else if let Some(n) = lower.strip_prefix('b').filter(|n| is_digits(n)) {
        format!("EfficientNet-B{n}")
    } else {
        variant.to_string()
    }
}

/// The scaling family of a native network's display name (`EfficientNet-B3` →
/// `EfficientNet-B`, `EfficientNet-Lite0` → `EfficientNet-Lite`): sizes of one
/// design, which a plot may join by a line. `None` for any other backbone (an
/// exported module is named by its timm architecture, and names do not say which
/// architectures form a family).
pub fn scaling_family(model: &str) -> Option<&str> {
    let family = model.trim_end_matches(|c: char| c.is_ascii_digit());
    (family.len() < model.len() && matches!(family, "EfficientNet-B" | "EfficientNet-Lite"))
        .then_some(family)
}

/// `b0` → `B0`, `lite2` → `Lite2`: for axis labels.
pub fn short_name(variant: &str) -> String {
    display_name(variant)
        .strip_prefix("EfficientNet-")
        .map(str::to_string)
        .unwrap_or_else(|| variant.to_string())
}

fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// The seed experiment's published training time in minutes (one GPU, 10 epochs
/// through the frozen backbone): its two endpoints, B0 9.8 and B7 307, as this
/// project's brief quotes them; the article's other rows were not available
/// here, so B1..B6 have none.
pub fn seed_training_minutes(variant: &str) -> Option<f64> {
    match variant.to_ascii_lowercase().as_str() {
        "b0" => Some(9.8),
        "b7" => Some(307.0),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_order() {
        assert_eq!(display_name("b3"), "EfficientNet-B3");
        assert_eq!(display_name("lite0"), "EfficientNet-Lite0");
        assert_eq!(display_name("resnet50"), "resnet50");
        assert_eq!(short_name("b7"), "B7");
        assert!(variant_rank("b2") < variant_rank("b10"));
        assert!(variant_rank("b7") < variant_rank("lite0"));
        assert_eq!(parameters("B0").map(|p| p.with_classifier), Some(5_288_548));
    }
}
