//! The activation cache and the tune file: written, read back, and refused when
//! they do not belong together.

mod common;

use std::collections::BTreeMap;

use contract::activations::{chunk_keys, write_chunk, ActivationMeta, ActivationStore, CutPoint};
use contract::tune_file::TuneFile;
use contract::WeightsIdentity;

fn meta(blake3: &str) -> ActivationMeta {
    ActivationMeta {
        variant: "lite0".into(),
        weights: WeightsIdentity {
            source: "lite0.safetensors".into(),
            blake3: blake3.into(),
        },
        preprocessing: common::preprocessing(),
        cut: CutPoint {
            top_blocks: 1,
            first_block: 15,
            total_blocks: 16,
            shape: [3, 2, 2],
            last_stage: true,
        },
    }
}

fn rows(keys: &[&str], first: u16) -> (Vec<String>, Vec<u16>) {
    let values = (0..keys.len() * 12).map(|i| first + i as u16).collect();
    (keys.iter().map(|k| k.to_string()).collect(), values)
}

#[test]
fn chunks_read_back_by_key_across_files() {
    let dir = tempfile::tempdir().unwrap();
    let m = meta("aa");
    let (keys, values) = rows(&["k1", "k2"], 100);
    write_chunk(&dir.path().join("a-000000.safetensors"), &m, &keys, &values).unwrap();
    let (keys, values) = rows(&["k3"], 500);
    write_chunk(&dir.path().join("a-000001.safetensors"), &m, &keys, &values).unwrap();
    // A temporary of a killed run is not a chunk.
    std::fs::write(
        dir.path().join(".a-000002.safetensors.partial-1-0"),
        b"junk",
    )
    .unwrap();

    let (read_meta, read_keys) = chunk_keys(&dir.path().join("a-000000.safetensors")).unwrap();
    assert_eq!(read_meta, m);
    assert_eq!(read_keys, ["k1", "k2"]);
    let store = ActivationStore::open(dir.path()).unwrap();
    assert_eq!(store.len(), 3);
    assert_eq!(store.meta(), &m);
    let second: Vec<u8> = (112..124u16).flat_map(|v| v.to_le_bytes()).collect();
    assert_eq!(store.row_bytes("k2").unwrap(), second.as_slice());
    let third: Vec<u8> = (500..512u16).flat_map(|v| v.to_le_bytes()).collect();
    assert_eq!(store.row_bytes("k3").unwrap(), third.as_slice());
    assert!(store.row_bytes("k9").is_none());
}

#[test]
fn chunks_of_other_weights_in_one_folder_are_refused_naming_both() {
    let dir = tempfile::tempdir().unwrap();
    let (keys, values) = rows(&["k1"], 0);
    write_chunk(
        &dir.path().join("a.safetensors"),
        &meta("aa"),
        &keys,
        &values,
    )
    .unwrap();
    write_chunk(
        &dir.path().join("b.safetensors"),
        &meta("bb"),
        &keys,
        &values,
    )
    .unwrap();
    let error = ActivationStore::open(dir.path())
        .err()
        .expect("mixed folder")
        .to_string();
    assert!(
        error.contains("b.safetensors") && error.contains("a.safetensors"),
        "{error}"
    );
    assert!(error.contains("weights blake3"), "{error}");
}

#[test]
fn an_empty_folder_says_how_to_fill_it() {
    let dir = tempfile::tempdir().unwrap();
    let error = ActivationStore::open(dir.path())
        .err()
        .expect("empty")
        .to_string();
    assert!(error.contains("--tune-top"), "{error}");
}

#[test]
fn tune_files_round_trip_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let tune = TuneFile {
        variant: "b0".into(),
        family: "torchvision".into(),
        weights: WeightsIdentity {
            source: "b0.safetensors".into(),
            blake3: "cd".repeat(32),
        },
        cut: meta("aa").cut,
        batch_norm_updated: true,
        tensors: BTreeMap::from([
            (
                "features.7.0.block.3.1.weight".to_string(),
                (vec![2], vec![0.5, -1.25]),
            ),
            (
                "features.8.0.weight".to_string(),
                (vec![1, 2, 1, 1], vec![3.0, 4.0]),
            ),
        ]),
    };
    let path = dir.path().join("tune.safetensors");
    let bytes = tune.write(&path).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
    assert_eq!(TuneFile::read(&path).unwrap(), tune);
    assert_eq!(tune.to_bytes(), bytes);
}
