//! Helpers shared by the workspace's tests. Never a dependency of a product crate.
//!
//! Tests that need the project's Python (`.venv`, made by `scripts/setup`) or the
//! shared datasets (`../shared`) call these. On a user's machine a missing
//! resource skips the test with a message saying why; under `CI=true` it fails,
//! so CI can never pass by skipping.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace root (this crate lives in `crates/testkit`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root exists")
}

fn in_ci() -> bool {
    std::env::var("CI")
        .map(|v| v == "true" || v == "1")
        .unwrap_or(false)
}

/// Either fails (CI) or records why the test is skipped and returns `None`.
pub fn skip_or_fail<T>(what: &str) -> Option<T> {
    if in_ci() {
        panic!("required test resource missing under CI=true: {what}");
    }
    record_skip(what);
    None
}

/// A test that does not apply to this machine (a GPU check on a CPU machine, or
/// the reverse): recorded, never a failure.
pub fn skip_here(what: &str) {
    record_skip(what);
}

/// Says why on stderr (which cargo shows only for failures) and appends
/// `TEST_BINARY::TEST: why` to `$EFFPROBE_SKIP_LOG`, which `scripts/test` prints
/// at the end of its run.
fn record_skip(what: &str) {
    let binary = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .map(|stem| match stem.rsplit_once('-') {
            Some((name, hash)) if hash.chars().all(|c| c.is_ascii_hexdigit()) => name.to_string(),
            _ => stem,
        })
        .unwrap_or_default();
    let test = std::thread::current().name().unwrap_or("?").to_string();
    let line = format!("{binary}::{test}: {what}");
    eprintln!("SKIPPED {line}");
    if let Some(log) = std::env::var_os("EFFPROBE_SKIP_LOG") {
        use std::io::Write;
        if let Ok(mut file) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
        {
            let _ = writeln!(file, "{line}");
        }
    }
}

/// The Python interpreter with torch, timm, pyarrow and friends: `$EFFPROBE_PYTHON`,
/// else `.venv/bin/python` of the workspace.
pub fn python() -> Option<PathBuf> {
    let candidate = std::env::var_os("EFFPROBE_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(".venv/bin/python"));
    if candidate.exists() {
        Some(candidate)
    } else {
        skip_or_fail(&format!(
            "{} not found: run scripts/setup (or set EFFPROBE_PYTHON)",
            candidate.display()
        ))
    }
}

/// Runs a Python script from `tools/` or a test directory with arguments,
/// panicking with its stderr if it fails. Returns stdout.
pub fn run_python(python: &Path, script: &Path, args: &[&str]) -> String {
    let output = Command::new(python)
        .arg(script)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", python.display()));
    assert!(
        output.status.success(),
        "{} {} failed:\n{}",
        python.display(),
        script.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A dataset under `../shared/datasets/` (e.g. `hymenoptera`).
pub fn shared_dataset(name: &str) -> Option<PathBuf> {
    let path = workspace_root().join("../shared/datasets").join(name);
    if path.is_dir() {
        Some(path)
    } else {
        skip_or_fail(&format!(
            "{} is absent (the shared datasets live beside the checkout)",
            path.display()
        ))
    }
}

/// Copies the JPEG files of `from` (sorted by name; `skip` first, then `count`)
/// into `to`, created if needed; returns the copies' paths.
pub fn copy_photos(from: &Path, skip: usize, count: usize, to: &Path) -> Vec<PathBuf> {
    let mut names: Vec<PathBuf> = std::fs::read_dir(from)
        .unwrap_or_else(|e| panic!("{}: {e}", from.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "jpg"))
        .collect();
    names.sort();
    std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("{}: {e}", to.display()));
    names
        .iter()
        .skip(skip)
        .take(count)
        .map(|path| {
            let copy = to.join(path.file_name().expect("a file name"));
            std::fs::copy(path, &copy).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            copy
        })
        .collect()
}

/// A tiny PNG whose header claims `width × height` (a decompression bomb
/// without the payload): a few bytes of pixel data behind a huge claim.
pub fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &byte in bytes {
            crc ^= u32::from(byte);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
    let mut body = b"IHDR".to_vec();
    body.extend_from_slice(&width.to_be_bytes());
    body.extend_from_slice(&height.to_be_bytes());
    body.extend_from_slice(&[8, 2, 0, 0, 0]);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut chunk = |kind_and_data: &[u8]| {
        png.extend_from_slice(&(kind_and_data.len() as u32 - 4).to_be_bytes());
        png.extend_from_slice(kind_and_data);
        png.extend_from_slice(&crc32(kind_and_data).to_be_bytes());
    };
    chunk(&body);
    // An empty zlib stream: a few bytes of "pixel data" behind a huge claim.
    chunk(b"IDAT\x78\x01\x01\x00\x00\xff\xff\x00\x00\x00\x01");
    chunk(b"IEND");
    png
}

/// A small real JPEG whose pixels (and so bytes and content key) depend on `seed`.
pub fn write_seeded_jpeg(path: &Path, seed: u32) {
    std::fs::create_dir_all(path.parent().expect("a file in a folder")).unwrap();
    let image = image::RgbImage::from_fn(40 + seed % 13, 30 + seed % 7, |x, y| {
        image::Rgb([
            (x * 5 + seed * 3) as u8,
            (y * 7 + seed) as u8,
            (x * y + seed * 11) as u8,
        ])
    });
    image
        .save_with_format(path, image::ImageFormat::Jpeg)
        .unwrap();
}

/// `per_class` seeded JPEGs in each of `cats/` and `dogs/` under `root`, split
/// by content hash when scanned.
pub fn write_cats_and_dogs(root: &Path, per_class: u32) {
    for i in 0..per_class {
        write_seeded_jpeg(&root.join(format!("cats/{i}.jpg")), i);
        write_seeded_jpeg(&root.join(format!("dogs/{i}.jpg")), 1000 + i);
    }
}

/// One feature-file row as tests compare runs: (path, label, split, feature bits).
pub type RowContent = (String, i32, String, Vec<u32>);

/// Every row of a feature file (or a shard folder) by content key, the features
/// as bits, so equal maps mean bit-for-bit equal features.
pub fn feature_rows_by_key(path: &Path) -> BTreeMap<String, RowContent> {
    let all = contract::FeatureDataset::open(path)
        .and_then(|dataset| dataset.read_all())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (0..all.len())
        .map(|i| {
            let bits = all.feature(i).iter().map(|v| v.to_bits()).collect();
            let row = (
                all.paths[i].clone(),
                all.labels[i],
                all.splits[i].to_string(),
                bits,
            );
            (all.keys[i].clone(), row)
        })
        .collect()
}
