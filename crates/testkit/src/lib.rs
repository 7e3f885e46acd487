//! Helpers shared by the workspace's tests. Never a dependency of a product crate.
//!
//! Tests that need the project's Python (`.venv`, made by `scripts/setup`) or the
//! shared datasets (`../shared`) call these. On a user's machine a missing
//! resource skips the test with a message saying why; under `CI=true` it fails,
//! so CI can never pass by skipping.

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

/// Either fails (CI) or prints why the test is skipped and returns `None`.
pub fn skip_or_fail<T>(what: &str) -> Option<T> {
    if in_ci() {
        panic!("required test resource missing under CI=true: {what}");
    }
    eprintln!("SKIPPED: {what}");
    None
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
