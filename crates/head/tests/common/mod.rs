//! Synthetic feature files for the head tests, written with the real writer.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use contract::{
    FeatureMeta, FeatureRow, FeatureWriter, Interpolation, Preprocessing, ResizeMode, Split,
    WeightsIdentity,
};
use head::rng::SplitMix64;

pub fn meta(variant: &str, dim: usize, classes: &[&str]) -> FeatureMeta {
    FeatureMeta::new(
        variant,
        dim,
        "synthetic",
        Preprocessing {
            input_size: 224,
            input_width: None,
            resize_mode: ResizeMode::Crop,
            resize_size: 256,
            resize_width: None,
            crop_fraction: 0.875,
            interpolation: Interpolation::Bicubic,
            antialias: true,
            mean: [0.485, 0.456, 0.406],
            std: [0.229, 0.224, 0.225],
        },
        WeightsIdentity {
            source: "synthetic".into(),
            blake3: "ab".repeat(32),
        },
        classes.iter().map(|c| c.to_string()).collect(),
    )
}

pub fn write(path: &Path, meta: &FeatureMeta, rows: Vec<FeatureRow>) -> PathBuf {
    let mut writer = FeatureWriter::create(path, meta).expect("create feature file");
    writer.write_rows(rows).expect("write rows");
    writer.finish().expect("finish feature file");
    path.to_path_buf()
}

fn normal(rng: &mut SplitMix64) -> f64 {
    let u1 = rng.next_f64().max(1e-300);
    let u2 = rng.next_f64();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// `counts[split][class]` rows of a Gaussian mixture: class c has mean
/// `separation · e_c`-ish direction plus per-column scales and offsets, so the
/// problem is neither separable nor trivially conditioned.
pub fn mixture_rows(
    dim: usize,
    classes: &[&str],
    counts: &[(Split, Vec<usize>)],
    separation: f64,
    seed: u64,
) -> Vec<FeatureRow> {
    let mut rng = SplitMix64::new(seed, 99);
    let means: Vec<Vec<f64>> = (0..classes.len())
        .map(|_| (0..dim).map(|_| separation * normal(&mut rng)).collect())
        .collect();
    let scales: Vec<f64> = (0..dim).map(|j| 0.5 + (j % 5) as f64 * 0.4).collect();
    let mut rows = Vec::new();
    for (split, per_class) in counts {
        for (label, &count) in per_class.iter().enumerate() {
            for i in 0..count {
                let feature = (0..dim)
                    .map(|j| ((means[label][j] + normal(&mut rng)) * scales[j] + 0.3) as f32)
                    .collect();
                rows.push(FeatureRow {
                    key: format!("{split}-{label}-{i}-{seed}"),
                    path: format!("{split}/{}/{i}.jpg", classes[label]),
                    label: label as i32,
                    label_name: classes[label].to_string(),
                    split: *split,
                    feature,
                });
            }
        }
    }
    // Interleave classes the way a directory walk would not, so order matters for nothing.
    let mut order: Vec<usize> = (0..rows.len()).collect();
    rng.shuffle(&mut order);
    let mut shuffled: Vec<Option<FeatureRow>> = rows.into_iter().map(Some).collect();
    order
        .into_iter()
        .map(|i| shuffled[i].take().expect("each row once"))
        .collect()
}

pub fn standard_counts(
    classes: usize,
    train: usize,
    val: usize,
    test: usize,
) -> Vec<(Split, Vec<usize>)> {
    vec![
        (Split::Train, (0..classes).map(|c| train + c * 7).collect()),
        (Split::Val, vec![val; classes]),
        (Split::Test, vec![test; classes]),
    ]
}
