mod common;

use contract::{FeatureDataset, FeatureReader, FeatureWriter};

#[test]
fn rows_and_metadata_round_trip_across_row_groups_and_batches() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b0.parquet");
    let meta = common::meta(16);
    let rows = common::rows(1000, 16);

    let mut writer = FeatureWriter::create(&path, &meta)
        .unwrap()
        .with_rows_per_group(128);
    writer.write_rows(rows.clone()).unwrap();
    assert_eq!(writer.finish().unwrap(), 1000);

    let reader = FeatureReader::open_with_batch_rows(&path, 100).unwrap();
    assert_eq!(reader.meta(), &meta);
    assert_eq!(reader.num_rows(), 1000);
    let mut seen = 0;
    for batch in reader {
        let batch = batch.unwrap();
        assert!(batch.len() <= 100, "streaming must honour the batch size");
        for i in 0..batch.len() {
            let expected = &rows[seen + i];
            assert_eq!(batch.keys[i], expected.key);
            assert_eq!(batch.paths[i], expected.path);
            assert_eq!(batch.labels[i], expected.label);
            assert_eq!(batch.label_names[i], expected.label_name);
            assert_eq!(batch.splits[i], expected.split);
            let bits: Vec<u32> = batch.feature(i).iter().map(|v| v.to_bits()).collect();
            let expected_bits: Vec<u32> = expected.feature.iter().map(|v| v.to_bits()).collect();
            assert_eq!(bits, expected_bits);
        }
        seen += batch.len();
    }
    assert_eq!(seen, 1000);
}

#[test]
fn a_directory_of_parts_reads_as_one_dataset() {
    let dir = tempfile::tempdir().unwrap();
    let meta = common::meta(8);
    let rows = common::rows(30, 8);
    for (part, chunk) in rows.chunks(10).enumerate() {
        let mut writer =
            FeatureWriter::create(dir.path().join(format!("part-{part:03}.parquet")), &meta)
                .unwrap();
        writer.write_rows(chunk.to_vec()).unwrap();
        writer.finish().unwrap();
    }
    // An in-progress temporary of another writer is not a part.
    std::fs::write(dir.path().join(".part-003.parquet.partial-1"), b"junk").unwrap();

    let dataset = FeatureDataset::open(dir.path()).unwrap();
    assert_eq!(dataset.parts().len(), 3);
    assert_eq!(dataset.num_rows(), 30);
    let all = dataset.read_all().unwrap();
    assert_eq!(
        all.keys,
        rows.iter().map(|r| r.key.clone()).collect::<Vec<_>>()
    );
    assert_eq!(
        all.features,
        rows.iter()
            .flat_map(|r| r.feature.clone())
            .collect::<Vec<_>>()
    );
}

#[test]
fn an_unfinished_writer_leaves_no_file_and_keeps_the_old_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b0.parquet");
    let meta = common::meta(4);
    let mut first = FeatureWriter::create(&path, &meta).unwrap();
    first.write_rows(common::rows(5, 4)).unwrap();
    first.finish().unwrap();

    let mut second = FeatureWriter::create(&path, &meta)
        .unwrap()
        .with_rows_per_group(2);
    second.write_rows(common::rows(9, 4)).unwrap();
    drop(second); // as if the process died before finish

    assert_eq!(FeatureReader::open(&path).unwrap().num_rows(), 5);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(leftovers.len(), 1, "the temporary file must be cleaned up");
}

#[test]
fn the_writer_refuses_rows_that_the_reader_would_reject() {
    let dir = tempfile::tempdir().unwrap();
    let mut writer = FeatureWriter::create(dir.path().join("x.parquet"), &common::meta(4)).unwrap();
    let mut row = common::rows(1, 4).remove(0);
    row.feature[2] = f32::NAN;
    let error = writer.write_row(row.clone()).unwrap_err().to_string();
    assert!(
        error.contains("non-finite") && error.contains("index 2"),
        "{error}"
    );
    row.feature.push(1.0);
    let error = writer.write_row(row).unwrap_err().to_string();
    assert!(
        error.contains("length 5") && error.contains("declares 4"),
        "{error}"
    );
}

#[test]
fn keys_alone_can_be_read_without_the_features() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b0.parquet");
    let rows = common::rows(50, 8);
    let mut writer = FeatureWriter::create(&path, &common::meta(8))
        .unwrap()
        .with_rows_per_group(7);
    writer.write_rows(rows.clone()).unwrap();
    writer.finish().unwrap();
    let (meta, keys) = FeatureReader::read_keys(&path).unwrap();
    assert_eq!((meta.variant.as_str(), meta.feature_dim), ("b0", 8));
    assert_eq!(keys, rows.iter().map(|r| r.key.clone()).collect::<Vec<_>>());
}
