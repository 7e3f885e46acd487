//! A shard run's completion records (the format is `contract::shard_record`'s):
//! withdrawn when the run starts, published per backbone once its part file and
//! the run's side files are in place.

use std::path::Path;

use contract::shard_record::ScannedDataset;
use contract::{Shard, ShardRecord};
use dataset::ScanReport;

use super::ExtractError;

/// A new run of `shard` is about to replace the parts of `variants`: none of them
/// is done until this run says so.
pub fn withdraw(out: &Path, shard: Shard, variants: &[String]) -> Result<(), ExtractError> {
    for variant in variants {
        ShardRecord::withdraw(&out.join(variant), shard)?;
    }
    Ok(())
}

/// The dataset as this process scanned it, for the records: every shard of a
/// set must have seen the same one.
pub fn scanned_dataset(report: &ScanReport) -> ScannedDataset {
    let mut lines: Vec<String> = report
        .images
        .iter()
        .map(|i| format!("{}\t{}\t{}\n", i.key, i.label, i.split))
        .collect();
    lines.sort_unstable();
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"effprobe dataset scan v1\n");
    for line in &lines {
        hasher.update(line.as_bytes());
    }
    ScannedDataset {
        root: report.root.display().to_string(),
        images: report.images.len(),
        fingerprint: hasher.finalize().to_hex().to_string(),
    }
}

/// Publishes `record` beside the part file it describes, filling in the part's
/// size as it is now on disk.
pub fn publish(part: &Path, shard: Shard, mut record: ShardRecord) -> Result<(), ExtractError> {
    let dir = part.parent().unwrap_or(Path::new("."));
    record.part_bytes = std::fs::metadata(part)
        .map_err(|source| ExtractError::Io {
            path: part.to_path_buf(),
            source,
        })?
        .len();
    record.part = part
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(record.publish(dir, shard)?)
}
