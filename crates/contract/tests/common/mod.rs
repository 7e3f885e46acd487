#![allow(dead_code)]

use contract::{
    FeatureMeta, FeatureRow, Interpolation, Preprocessing, ResizeMode, Split, WeightsIdentity,
};

pub fn preprocessing() -> Preprocessing {
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
    }
}

pub fn meta(dim: usize) -> FeatureMeta {
    FeatureMeta::new(
        "b0",
        dim,
        "conv_head+bn+silu -> global average pool",
        preprocessing(),
        WeightsIdentity {
            source: "torchvision efficientnet_b0".into(),
            blake3: "ab".repeat(32),
        },
        vec!["ants".into(), "bees".into()],
    )
}

/// Deterministic rows whose features exercise awkward floats (subnormals,
/// negative zero, extremes) so a bit-exact round trip means something.
pub fn rows(count: usize, dim: usize) -> Vec<FeatureRow> {
    let awkward = [
        0.0f32,
        -0.0,
        f32::MIN_POSITIVE / 2.0,
        f32::MAX,
        f32::MIN,
        1e-30,
        -3.5,
    ];
    (0..count)
        .map(|i| FeatureRow {
            key: format!("{:064x}", i * 7919 + 1),
            path: format!(
                "{}/img_{i:05}.jpg",
                if i % 2 == 0 { "ants" } else { "bees" }
            ),
            label: (i % 2) as i32,
            label_name: if i % 2 == 0 {
                "ants".into()
            } else {
                "bees".into()
            },
            split: Split::ALL[i % 3],
            feature: (0..dim)
                .map(|j| {
                    if (i + j) % 11 == 0 {
                        awkward[(i + j) % awkward.len()]
                    } else {
                        ((i * dim + j) as f32 * 0.618_034).sin() * 10f32.powi((j % 7) as i32 - 3)
                    }
                })
                .collect(),
        })
        .collect()
}
