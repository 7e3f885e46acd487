//! A folder of shard parts with their completion records, read as a trainer
//! reads it: complete sets open, gaps are refused naming the shards (or read
//! under `MissingShards::Allow`), and records that do not match their part,
//! mixed shardings, and shards of different datasets are never counted done.

mod common;

use std::path::Path;

use contract::shard_record::{ScannedDataset, ShardSetError, SHARD_RECORD_SCHEMA_VERSION};
use contract::{
    FeatureDataset, FeatureFileError, FeatureWriter, MissingShards, Shard, ShardRecord, ShardSet,
};

/// Writes shard `index` of `count` (3 rows) and, when `done`, its record.
fn write_shard(dir: &Path, index: u32, count: u32, done: bool, fingerprint: &str) {
    let shard = Shard::new(index, count).unwrap();
    let part = ShardRecord::part_path(dir, shard);
    let mut writer = FeatureWriter::create(&part, &common::meta(4)).unwrap();
    for mut row in common::rows(3, 4) {
        row.key = format!("{index:02}{}", &row.key[2..]);
        writer.write_row(row).unwrap();
    }
    writer.finish().unwrap();
    if done {
        record(shard, &part, fingerprint)
            .publish(dir, shard)
            .unwrap();
    }
}

fn record(shard: Shard, part: &Path, fingerprint: &str) -> ShardRecord {
    ShardRecord {
        schema_version: SHARD_RECORD_SCHEMA_VERSION,
        tool_version: "test".into(),
        variant: "b0".into(),
        shard: shard.to_string(),
        shard_from: format!("--shard {shard}"),
        part: part.file_name().unwrap().to_string_lossy().into_owned(),
        part_bytes: std::fs::metadata(part).unwrap().len(),
        rows: 3,
        images: 3,
        rejected: 0,
        rejects_file: "rejects.csv".into(),
        computed: 3,
        cached: 0,
        dataset: ScannedDataset {
            root: "data".into(),
            images: 12,
            fingerprint: fingerprint.into(),
        },
        weights_blake3: "ab".repeat(32),
        feature_format_version: contract::FORMAT_VERSION,
        host: "test".into(),
        pid: 1,
        started_at: "2025-01-01T00:00:00Z".into(),
        finished_at: "2025-01-01T00:01:00Z".into(),
        wall_seconds: 60.0,
        decode_seconds: 1.0,
        backbone_seconds: 50.0,
    }
}

fn refused(dir: &Path, partial: MissingShards) -> String {
    match FeatureDataset::open_with(dir, partial) {
        Ok(_) => panic!("{} opened", dir.display()),
        Err(error) => error.to_string(),
    }
}

#[test]
fn a_complete_set_reads_as_one_dataset() {
    let dir = tempfile::tempdir().unwrap();
    for k in 0..4 {
        write_shard(dir.path(), k, 4, true, "same");
    }
    let (dataset, coverage) = FeatureDataset::open_with(dir.path(), MissingShards::Refuse).unwrap();
    assert_eq!(dataset.num_rows(), 12);
    let coverage = coverage.unwrap();
    assert_eq!(
        (coverage.done, coverage.missing),
        (vec![0, 1, 2, 3], vec![])
    );
}

#[test]
fn gaps_are_refused_naming_the_shards_and_read_only_when_allowed() {
    let dir = tempfile::tempdir().unwrap();
    for k in [1, 2, 4] {
        write_shard(dir.path(), k, 8, true, "same");
    }
    // A part whose run stopped before its record: not done.
    write_shard(dir.path(), 6, 8, false, "same");
    let error = refused(dir.path(), MissingShards::Refuse);
    assert!(
        error.contains("shards 0,3,5-7 of 8 are not done")
            && error.contains("shard 6: shard-00006-of-00008.parquet has no completion record")
            && error.contains("--allow-partial"),
        "{error}"
    );
    let (dataset, coverage) = FeatureDataset::open_with(dir.path(), MissingShards::Allow).unwrap();
    assert_eq!(dataset.num_rows(), 9, "the unconfirmed part is not read");
    assert_eq!(coverage.unwrap().missing, vec![0, 3, 5, 6, 7]);
    // The permissive open (metadata readers) still sees every part.
    assert_eq!(FeatureDataset::open(dir.path()).unwrap().num_rows(), 12);
}

#[test]
fn a_record_that_does_not_describe_its_part_is_not_done() {
    let dir = tempfile::tempdir().unwrap();
    write_shard(dir.path(), 0, 2, true, "same");
    write_shard(dir.path(), 1, 2, true, "same");
    // A rerun replaced part 1 and stopped before its record: the old record stays.
    let part = ShardRecord::part_path(dir.path(), Shard::new(1, 2).unwrap());
    let mut bytes = std::fs::read(&part).unwrap();
    bytes.extend_from_slice(b"more");
    std::fs::write(&part, bytes).unwrap();
    let set = ShardSet::scan(dir.path()).unwrap();
    let sharding = set.single().unwrap();
    assert_eq!(sharding.missing(), vec![1]);
    assert!(
        sharding.unconfirmed[&1].contains("replaced"),
        "{:?}",
        sharding.unconfirmed
    );
    let error = refused(dir.path(), MissingShards::Refuse);
    assert!(error.contains("shard 1 of 2 is not done"), "{error}");
}

#[test]
fn mixed_shardings_and_changed_datasets_are_refused_even_when_partial_is_allowed() {
    let mixed = tempfile::tempdir().unwrap();
    write_shard(mixed.path(), 0, 2, true, "same");
    write_shard(mixed.path(), 0, 4, true, "same");
    let error = refused(mixed.path(), MissingShards::Allow);
    assert!(error.contains("N = 2 and 4"), "{error}");

    let changed = tempfile::tempdir().unwrap();
    write_shard(changed.path(), 0, 2, true, "old-scan");
    write_shard(changed.path(), 1, 2, true, "new-scan");
    let error = refused(changed.path(), MissingShards::Allow);
    assert!(
        error.contains("the dataset changed between shards")
            && error.contains("shard 0 saw 12 images")
            && error.contains("shard 1 saw 12 images"),
        "{error}"
    );
}

#[test]
fn a_record_of_a_newer_schema_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    write_shard(dir.path(), 0, 1, true, "same");
    let path = ShardRecord::path(dir.path(), Shard::new(0, 1).unwrap());
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        text.replace("\"schema_version\": 1", "\"schema_version\": 99"),
    )
    .unwrap();
    let error = FeatureDataset::open_with(dir.path(), MissingShards::Refuse).unwrap_err();
    assert!(matches!(
        error,
        FeatureFileError::Shards(ShardSetError::Record(_))
    ));
    let error = error.to_string();
    assert!(
        error.contains("done.json") && error.contains("99"),
        "{error}"
    );
}

#[test]
fn withdrawing_a_record_makes_its_shard_not_done() {
    let dir = tempfile::tempdir().unwrap();
    write_shard(dir.path(), 0, 1, true, "same");
    let shard = Shard::new(0, 1).unwrap();
    ShardRecord::withdraw(dir.path(), shard).unwrap();
    ShardRecord::withdraw(dir.path(), shard).unwrap();
    let set = ShardSet::scan(dir.path()).unwrap();
    assert_eq!(set.single().unwrap().missing(), vec![0]);
}
