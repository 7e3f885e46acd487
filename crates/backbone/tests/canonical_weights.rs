//! The canonical weights table against timm's own registry: the same repo per
//! variant by the rule the table documents, and every entry a checkpoint the
//! native network reads (tensor names and shapes, padding from the
//! architecture, the preprocessing recipe of its config.json).

use std::collections::BTreeMap;
use std::path::Path;

use backbone::efficientnet::canonical::CANONICAL_WEIGHTS;
use backbone::efficientnet::weights::tensor_problems;
use backbone::efficientnet::Family;
use backbone::hub_cache::TimmConfig;

#[test]
fn the_table_is_timms_default_per_variant_and_the_native_network_reads_each() {
    let Some(python) = testkit::python() else {
        return;
    };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/canonical_weights.py");
    let derived: serde_json::Value =
        serde_json::from_str(&testkit::run_python(&python, &script, &[])).unwrap();
    assert_eq!(
        derived["timm"], "1.0.31",
        "the table was read from timm 1.0.31; another timm may have other defaults"
    );
    for (variant, repo) in CANONICAL_WEIGHTS {
        let entry = &derived["variants"][variant.name()];
        assert_eq!(entry["repo"], repo, "{variant}");

        let shapes: BTreeMap<String, Vec<i64>> =
            serde_json::from_value(entry["tensors"].clone()).unwrap();
        let problems = tensor_problems(&shapes, variant, Family::Timm);
        assert!(problems.is_empty(), "{variant} {repo}: {problems:#?}");

        let config: TimmConfig = serde_json::from_value(entry["config"].clone()).unwrap();
        // The padding comes from the architecture config.json names, which is the repo's.
        let architecture = repo
            .strip_prefix("timm/")
            .and_then(|name| name.split_once('.'))
            .map(|(architecture, _tag)| architecture)
            .unwrap();
        assert_eq!(config.architecture, architecture, "{variant}");
        assert_eq!(
            config.uses_tf_same_padding(),
            architecture.starts_with("tf_"),
            "{variant}"
        );
        // Every crop mode timm uses is effprobe's too (B5's default is squashed).
        let recipe = config.recipe(Path::new("config.json")).unwrap();
        assert_eq!(
            (recipe.input_height(), recipe.input_width()),
            (
                config.pretrained_cfg.input_size[1],
                config.pretrained_cfg.input_size[2]
            ),
            "{variant}"
        );
    }
}
