#![allow(dead_code)]

use std::path::Path;

use contract::Split;
use dataset::{scan, DatasetError, ScanOptions, ScanReport};

/// A small real JPEG whose pixels (and so bytes) depend on `seed`.
pub fn write_jpeg(path: &Path, seed: u32) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let image = image::RgbImage::from_fn(24 + seed % 9, 20 + seed % 5, |x, y| {
        image::Rgb([
            (x * 9 + seed * 7) as u8,
            (y * 11 + seed * 3) as u8,
            (x * y + seed * 13) as u8,
        ])
    });
    image
        .save_with_format(path, image::ImageFormat::Jpeg)
        .unwrap();
}

/// `count` JPEGs under `dir`, seeded from `first_seed`.
pub fn write_jpegs(dir: &Path, count: u32, first_seed: u32) {
    for i in 0..count {
        write_jpeg(&dir.join(format!("{i:04}.jpg")), first_seed + i);
    }
}

pub fn scan_default(root: &Path) -> Result<ScanReport, DatasetError> {
    scan(root, &ScanOptions::default())
}

/// Images per split and class name.
pub fn counts(report: &ScanReport) -> Vec<(Split, String, usize)> {
    let mut out = Vec::new();
    for (split, per_class) in report.counts() {
        for (class, n) in report.classes.iter().zip(per_class) {
            out.push((split, class.clone(), n));
        }
    }
    out
}

/// The problem reported for `path`, or a panic listing them all.
pub fn reason_of(report: &ScanReport, path: &str) -> String {
    report
        .problems
        .iter()
        .find(|p| p.path == path)
        .map(|p| p.reason.clone())
        .unwrap_or_else(|| panic!("{path} not reported: {:?}", report.problems))
}
