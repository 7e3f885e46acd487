//! The scaling rules and "same" padding against the installed torchvision and timm
//! themselves (models built on PyTorch's meta device: shapes only, no weights):
//! B0..B7 in all three families, Lite0..Lite4 in timm's two.

use std::collections::HashMap;
use std::path::PathBuf;

use backbone::efficientnet::padding::same_padding;
use backbone::efficientnet::{batch_norm_eps, Family, Padding, Variant};
use serde_json::Value;

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/efficientnet_reference.py")
}

#[test]
fn widths_repeats_and_eps_match_torchvision_and_timm() {
    let Some(python) = testkit::python() else {
        return;
    };
    let facts: HashMap<String, Value> =
        serde_json::from_str(testkit::run_python(&python, &script(), &["describe"]).trim())
            .expect("describe JSON");
    let families = [
        ("torchvision", Family::Torchvision, Padding::Symmetric),
        ("timm", Family::Timm, Padding::Symmetric),
        ("timm_tf", Family::Timm, Padding::Same),
    ];
    for (label, family, padding) in families {
        for variant in Variant::ALL.into_iter().filter(|v| family.supports(*v)) {
            let reference = &facts[&format!("{label}/{variant}")];
            let arch = variant.architecture();
            let repeats: Vec<usize> = reference["stage_repeats"]
                .as_array()
                .expect("stage_repeats")
                .iter()
                .map(|n| n.as_u64().expect("count") as usize)
                .collect();
            assert_eq!(arch.stage_repeats(), repeats, "{label} {variant} repeats");
            assert_eq!(
                Some(arch.feature_dim()),
                reference["feature_dim"].as_i64(),
                "{label} {variant} feature width"
            );
            assert_eq!(
                Some(arch.stem_channels),
                reference["stem_channels"].as_i64(),
                "{label} {variant} stem"
            );
            assert_eq!(
                Some(batch_norm_eps(family, padding, variant)),
                reference["bn_eps"].as_f64(),
                "{label} {variant} batch-norm eps"
            );
        }
    }
}

#[test]
fn same_padding_matches_timm_pad_same() {
    let Some(python) = testkit::python() else {
        return;
    };
    let grid: Vec<Value> =
        serde_json::from_str(testkit::run_python(&python, &script(), &["padding"]).trim())
            .expect("padding JSON");
    assert!(grid.len() > 200);
    for case in grid {
        let get = |key: &str| case[key].as_i64().expect("integer");
        assert_eq!(
            same_padding(get("size"), get("kernel"), get("stride")),
            (get("before"), get("after")),
            "{case}"
        );
    }
}
