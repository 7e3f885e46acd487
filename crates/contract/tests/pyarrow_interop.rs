//! A file written here is read by pyarrow and pandas, value for value, bit for bit.

mod common;

use contract::FeatureWriter;

#[test]
fn pyarrow_and_pandas_read_every_value_bit_exactly() {
    let Some(python) = testkit::python() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b0.parquet");
    let meta = common::meta(12);
    let rows = common::rows(257, 12);
    let mut writer = FeatureWriter::create(&path, &meta)
        .unwrap()
        .with_rows_per_group(100);
    writer.write_rows(rows.clone()).unwrap();
    writer.finish().unwrap();

    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/dump_features.py");
    let stdout = testkit::run_python(&python, &script, &[path.to_str().unwrap()]);
    let seen: serde_json::Value = serde_json::from_str(&stdout).unwrap();

    assert_eq!(
        seen["columns"],
        serde_json::json!(["key", "path", "label", "label_name", "split", "feature"])
    );
    assert_eq!(
        seen["feature_type"],
        "fixed_size_list<item: float not null>[12]"
    );
    let column = |name: &str| seen[name].as_array().unwrap().clone();
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(column("key")[i], row.key.as_str());
        assert_eq!(column("path")[i], row.path.as_str());
        assert_eq!(column("label")[i], row.label);
        assert_eq!(column("label_name")[i], row.label_name.as_str());
        assert_eq!(column("split")[i], row.split.as_str());
        let bits: Vec<String> = row
            .feature
            .iter()
            .map(|v| format!("{:08x}", v.to_bits()))
            .collect();
        assert_eq!(
            column("feature_bits")[i],
            serde_json::json!(bits),
            "row {i}"
        );
    }

    let metadata = seen["metadata"].as_object().unwrap();
    for pair in meta.to_key_values() {
        assert_eq!(
            metadata[&pair.key],
            pair.value.unwrap().as_str(),
            "metadata {}",
            pair.key
        );
    }
    assert_eq!(metadata["effprobe.variant"], "b0");
    assert_eq!(metadata["effprobe.feature_dim"], "12");
    assert_eq!(metadata["effprobe.input_size"], "224");
    let recipe: serde_json::Value =
        serde_json::from_str(metadata["effprobe.preprocessing"].as_str().unwrap()).unwrap();
    assert_eq!(recipe["interpolation"], "bicubic");
    assert_eq!(recipe["crop_fraction"], 0.875);
}
