//! A damaged cache heals instead of stopping: a feature chunk with bytes flipped
//! in its compressed pages, a feature chunk rewritten by pyarrow with one value
//! changed (it still decodes: only its seal can tell), and an activation chunk
//! with bytes flipped in its tensor (decodable too) are each named in a warning,
//! moved into `damaged/`, and their images computed again; the run exits 0 with
//! features and activations bit for bit those of a clean run. tune-train's
//! reader refuses the damaged activation chunk with the command that heals it.
//! A chunk without a seal (an older cache) is decoded whole and sealed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use contract::activations::{chunk_keys, ActivationStore};
use contract::seal::seal_path;
use contract::{FeatureDataset, FeatureReader};

const EXTRACT: &str = env!("CARGO_BIN_EXE_extract");

/// 12 ants and 12 bees from hymenoptera's train split.
fn sample(dir: &Path) -> Option<()> {
    let shared = testkit::shared_dataset("hymenoptera")?;
    for class in ["ants", "bees"] {
        testkit::copy_photos(&shared.join("train").join(class), 0, 12, &dir.join(class));
    }
    Some(())
}

/// `extract` with random B0, four images per chunk and the last block's input
/// cached: (run.json, stderr).
fn extract(data: &Path, out: &Path) -> (serde_json::Value, String) {
    let output = Command::new(EXTRACT)
        .args([
            "--variant",
            "b0",
            "--weights",
            "random:7",
            "--device",
            "cpu",
        ])
        .args(["--batch-size", "4", "--chunk-rows", "4", "--tune-top", "1"])
        .arg("--data")
        .arg(data)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "extract failed: {stderr}");
    let record = std::fs::read_to_string(out.join("run.json")).unwrap();
    (serde_json::from_str(&record).unwrap(), stderr)
}

/// Feature bits by key.
fn features(out: &Path) -> BTreeMap<String, Vec<u32>> {
    let all = FeatureDataset::open(out.join("b0.parquet"))
        .unwrap()
        .read_all()
        .unwrap();
    (0..all.len())
        .map(|i| {
            let bits = all.feature(i).iter().map(|v| v.to_bits()).collect();
            (all.keys[i].clone(), bits)
        })
        .collect()
}

/// The cache folder of the features (`b0-*`) or of the activations (`b0-top1-*`).
fn cache_dir(out: &Path, activations: bool) -> PathBuf {
    std::fs::read_dir(out.join(".cache"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            name.starts_with("b0-") && name.starts_with("b0-top1-") == activations
        })
        .unwrap_or_else(|| panic!("no cache folder in {}", out.display()))
}

fn chunks(dir: &Path, extension: &str) -> Vec<PathBuf> {
    let mut found: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == extension))
        .collect();
    found.sort();
    found
}

/// Activation bytes by key.
fn activations(out: &Path) -> BTreeMap<String, Vec<u8>> {
    let store = ActivationStore::open(&cache_dir(out, true)).unwrap();
    let keys: Vec<String> = store.keys().map(str::to_string).collect();
    keys.into_iter()
        .map(|k| {
            let bytes = store.row_bytes(&k).unwrap().to_vec();
            (k, bytes)
        })
        .collect()
}

fn flip_bytes(path: &Path, at: usize, count: usize) {
    let mut bytes = std::fs::read(path).unwrap();
    assert!(bytes.len() > at + count, "{} too short", path.display());
    for byte in &mut bytes[at..at + count] {
        *byte ^= 0x5a;
    }
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn damaged_chunks_are_set_aside_and_recomputed_to_a_clean_runs_values() {
    let data = tempfile::tempdir().unwrap();
    if sample(data.path()).is_none() {
        return;
    }
    let Some(python) = testkit::python() else {
        return;
    };
    let clean = tempfile::tempdir().unwrap();
    extract(data.path(), clean.path());

    let out = tempfile::tempdir().unwrap();
    let (first, _) = extract(data.path(), out.path());
    assert_eq!(first["variants"][0]["computed"], 24);
    let feature_dir = cache_dir(out.path(), false);
    let activation_dir = cache_dir(out.path(), true);
    let feature_chunks = chunks(&feature_dir, "parquet");
    let activation_chunks = chunks(&activation_dir, "safetensors");
    assert!(feature_chunks.len() >= 3 && !activation_chunks.is_empty());
    for chunk in feature_chunks.iter().chain(&activation_chunks) {
        assert!(seal_path(chunk).exists(), "{} has no seal", chunk.display());
    }

    // Three damaged chunks; the keys they hold are the images to compute again.
    let flipped = &feature_chunks[0];
    let rewritten = &feature_chunks[1];
    let activation = activation_chunks.last().unwrap();
    let mut damaged_keys = BTreeSet::new();
    for chunk in [flipped, rewritten] {
        damaged_keys.extend(FeatureReader::read_keys(chunk).unwrap().1);
    }
    damaged_keys.extend(chunk_keys(activation).unwrap().1);

    let length = std::fs::metadata(flipped).unwrap().len() as usize;
    flip_bytes(flipped, length / 3, 64);
    let script = r#"
import sys, pyarrow as pa, pyarrow.parquet as pq
path = sys.argv[1]
table = pq.read_table(path)
index = table.schema.get_field_index("feature")
rows = table.column(index).to_pylist()
rows[0][0] += 0.5
column = pa.array(rows, type=table.schema.field(index).type)
table = table.set_column(index, table.schema.field(index), column)
pq.write_table(table.replace_schema_metadata(table.schema.metadata), path, compression="snappy")
"#;
    let status = Command::new(&python)
        .args(["-c", script])
        .arg(rewritten)
        .status()
        .unwrap();
    assert!(status.success(), "pyarrow rewrite");
    FeatureReader::open(rewritten)
        .and_then(|r| r.read_all())
        .expect("the rewritten chunk still decodes");
    let length = std::fs::metadata(activation).unwrap().len() as usize;
    flip_bytes(activation, length - 200, 64);
    chunk_keys(activation).expect("the activation chunk still reads");

    // tune-train's reader names the chunk and the command that heals it.
    let refused = ActivationStore::open(&activation_dir)
        .err()
        .unwrap()
        .to_string();
    assert!(
        refused.contains(&activation.display().to_string())
            && refused.contains("run the same extract --tune-top again"),
        "{refused}"
    );

    let (healed, stderr) = extract(data.path(), out.path());
    for chunk in [flipped, rewritten, activation] {
        let name = chunk.file_name().unwrap().to_string_lossy();
        assert!(
            stderr.contains(&format!("{name} (")) && stderr.contains("set aside"),
            "{name} named in: {stderr}"
        );
        assert!(!chunk.exists(), "{} still in the cache", chunk.display());
        let aside = chunk.parent().unwrap().join("damaged").join(&*name);
        assert!(aside.exists(), "{} kept for inspection", aside.display());
    }
    assert_eq!(healed["variants"][0]["computed"], damaged_keys.len());
    assert_eq!(features(out.path()), features(clean.path()));
    assert_eq!(activations(out.path()), activations(clean.path()));

    // Healed for good: nothing to compute, nothing to warn about.
    let (again, stderr) = extract(data.path(), out.path());
    assert_eq!(again["variants"][0]["computed"], 0);
    assert!(!stderr.contains("damaged"), "{stderr}");

    // An older cache's chunk has no seal: decoded whole, then sealed, not recomputed.
    let unsealed = chunks(&feature_dir, "parquet")[0].clone();
    std::fs::remove_file(seal_path(&unsealed)).unwrap();
    let (adopted, stderr) = extract(data.path(), out.path());
    assert_eq!(adopted["variants"][0]["computed"], 0, "{stderr}");
    assert!(seal_path(&unsealed).exists());
    // ... and one that does not decode is set aside like any damaged chunk.
    std::fs::remove_file(seal_path(&unsealed)).unwrap();
    let rows = FeatureReader::read_keys(&unsealed).unwrap().1.len();
    std::fs::write(&unsealed, b"PAR1 not really").unwrap();
    let (rebuilt, stderr) = extract(data.path(), out.path());
    assert_eq!(rebuilt["variants"][0]["computed"], rows, "{stderr}");
    assert_eq!(features(out.path()), features(clean.path()));
}
