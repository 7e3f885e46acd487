//! Deterministic train / val / test assignment by content hash.
//!
//! Follows the seed experiment: toward train:val:test = 8:1:1, with val and test
//! balanced per class (equal counts of each label; the larger classes' surplus
//! goes to train). The assignment depends only on the image bytes (through their
//! blake3 key) and labels, never on file names or directory order.
//!
//! Exact per-class balance and "adding images never moves an existing image" cannot
//! both hold for a pure function of the current image set (adding one image of the
//! smaller class would have to pull a train image of the larger class into val).
//! So assignments can be extended: images already assigned keep their split, and
//! the new images are split among themselves by the same rule, which keeps every
//! split balanced and the proportions on target.

use std::collections::BTreeMap;

use featurefile::Split;

/// Fractions of each class's images that are candidates for val and test.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SplitFractions {
    pub val: f64,
    pub test: f64,
}

impl Default for SplitFractions {
    fn default() -> Self {
        SplitFractions {
            val: 0.1,
            test: 0.1,
        }
    }
}

/// An image to be assigned: its content key (blake3 hex) and label.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyedLabel {
    pub key: String,
    pub label: i32,
}

/// A uniform number in [0, 1) drawn from the content key, domain-separated so that
/// it is independent of other uses of the key (sharding).
pub fn split_unit(key: &str) -> f64 {
    let digest = blake3::derive_key("effprobe 2026 dataset split v1", key.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    (u64::from_le_bytes(first) >> 11) as f64 / (1u64 << 53) as f64
}

/// Assigns every image in `items` (unique keys) a split. Keys found in `previous`
/// keep their split; the rest are split among themselves. `num_classes` counts
/// every class of the dataset, so a batch of new images that lacks a class adds
/// nothing to val or test.
pub fn assign_splits(
    items: &[KeyedLabel],
    num_classes: usize,
    fractions: SplitFractions,
    previous: &BTreeMap<String, Split>,
) -> BTreeMap<String, Split> {
    let mut assigned: BTreeMap<String, Split> = BTreeMap::new();
    let mut fresh: Vec<(f64, &KeyedLabel)> = Vec::new();
    for item in items {
        match previous.get(&item.key) {
            Some(split) => {
                assigned.insert(item.key.clone(), *split);
            }
            None => fresh.push((split_unit(&item.key), item)),
        }
    }
    // Sorted by (unit, key): the order is a function of content alone.
    fresh.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.key.cmp(&b.1.key)));

    let bands = [
        (Split::Val, 0.0, fractions.val),
        (Split::Test, fractions.val, fractions.val + fractions.test),
    ];
    for (split, low, high) in bands {
        let mut per_class: Vec<Vec<&KeyedLabel>> = vec![Vec::new(); num_classes];
        for (unit, item) in &fresh {
            if (low..high).contains(unit) {
                if let Some(bucket) = usize::try_from(item.label)
                    .ok()
                    .and_then(|l| per_class.get_mut(l))
                {
                    bucket.push(item);
                }
            }
        }
        let balanced = per_class.iter().map(Vec::len).min().unwrap_or(0);
        for bucket in &per_class {
            for item in bucket.iter().take(balanced) {
                assigned.insert(item.key.clone(), split);
            }
        }
    }
    for (_, item) in fresh {
        assigned.entry(item.key.clone()).or_insert(Split::Train);
    }
    assigned
}
