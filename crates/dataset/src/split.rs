//! Deterministic train / val / test assignment by content hash, and the per-class
//! holdout `head-train` carves from train: one keyed hash for both.
//!
//! Toward train:val:test = 8:1:1 at every class count, by one of two rules:
//!
//! * **Two classes** follow the seed experiment: val and test balanced per class.
//!   Each class contributes the same number of images to val and to test:
//!   `round(fraction × n_smallest)`, at least one while the smallest class has
//!   three images (one each for val, test and train), so val and test are never
//!   empty on small data and the larger class's surplus goes to train. A class of
//!   fewer than three images leaves val and test empty (a binary evaluation
//!   without one of its classes would measure nothing).
//! * **Three or more classes** are stratified: each class gives val and test
//!   `round(fraction × n_class)` images each, at least one while it has three
//!   images; a class with fewer than three is train-only, and never takes the
//!   other classes' val and test down with it.
//!
//! Within a class the images with the smallest hash units are taken, so the
//! assignment depends only on the image bytes (their blake3 key) and labels, never
//! on file names or order.
//!
//! Exact per-class balance and "adding images never moves an existing image"
//! cannot both hold for a pure function of the current image set (adding one image
//! of the smaller class would have to pull a train image of the larger class into
//! val). So assignments can be extended: images already assigned keep their
//! split, and new images fill val and test up to the targets of the grown
//! dataset (equally per class for two classes, per class otherwise).

use std::collections::BTreeMap;

use contract::Split;

/// Fractions of a class's images (of the smallest class's, for two classes) that
/// go to val and to test.
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

/// A uniform 64-bit rank drawn from the content key, domain-separated so that it
/// is independent of other uses of the key (sharding).
pub fn key_rank(key: &str) -> u64 {
    let digest = blake3::derive_key("effprobe 2026 dataset split v1", key.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_le_bytes(first)
}

/// [`key_rank`] as a uniform number in [0, 1).
pub fn split_unit(key: &str) -> f64 {
    (key_rank(key) >> 11) as f64 / (1u64 << 53) as f64
}

/// The fewest images a class needs to give val and test one each and keep one
/// for train.
pub const MIN_IMAGES_FOR_EVALUATION: usize = 3;

/// Whether `num_classes` classes are split by the seed's balanced rule (two
/// classes) rather than stratified.
pub fn balanced_rule(num_classes: usize) -> bool {
    num_classes <= 2
}

/// Images that val and test each get from a class, for a class of `smallest`
/// images (two classes: the smallest class's size, the same for both):
/// `(val, test)`.
pub fn per_class_targets(smallest: usize, fractions: SplitFractions) -> (usize, usize) {
    if smallest < MIN_IMAGES_FOR_EVALUATION {
        return (0, 0);
    }
    let target = |fraction: f64| {
        let wanted = (smallest as f64 * fraction).round() as usize;
        if fraction > 0.0 {
            wanted.max(1)
        } else {
            0
        }
    };
    let val = target(fractions.val).min(smallest - 2);
    let test = target(fractions.test).min(smallest - 1 - val);
    (val, test)
}

/// Assigns every image in `items` (unique keys) a split. Keys found in `previous`
/// keep their split; new ones top val and test up to the per-class targets of the
/// whole set (see the module's rules). `num_classes` counts every class of the
/// dataset.
pub fn assign_splits(
    items: &[KeyedLabel],
    num_classes: usize,
    fractions: SplitFractions,
    previous: &BTreeMap<String, Split>,
) -> BTreeMap<String, Split> {
    let mut assigned: BTreeMap<String, Split> = BTreeMap::new();
    let mut class_sizes = vec![0usize; num_classes];
    let mut existing: BTreeMap<Split, Vec<usize>> = BTreeMap::new();
    let mut fresh: Vec<Vec<(u64, &str)>> = vec![Vec::new(); num_classes];
    for item in items {
        let Some(class) = usize::try_from(item.label)
            .ok()
            .filter(|&c| c < num_classes)
        else {
            assigned.insert(item.key.clone(), Split::Train);
            continue;
        };
        class_sizes[class] += 1;
        match previous.get(&item.key) {
            Some(split) => {
                assigned.insert(item.key.clone(), *split);
                existing
                    .entry(*split)
                    .or_insert_with(|| vec![0; num_classes])[class] += 1;
            }
            None => fresh[class].push((key_rank(&item.key), item.key.as_str())),
        }
    }
    // Sorted by (rank, key): the order is a function of content alone.
    for bucket in &mut fresh {
        bucket.sort_unstable();
    }
    let balanced = balanced_rule(num_classes);
    let smallest = class_sizes.iter().copied().min().unwrap_or(0);
    let targets: Vec<(usize, usize)> = class_sizes
        .iter()
        .map(|&size| per_class_targets(if balanced { smallest } else { size }, fractions))
        .collect();
    let mut taken = vec![0usize; num_classes];
    for split in [Split::Val, Split::Test] {
        let have = existing.get(&split);
        // Per class: how many new images the split still wants, capped by how
        // many new images the class has left.
        let add: Vec<usize> = (0..num_classes)
            .map(|c| {
                let target = if split == Split::Val {
                    targets[c].0
                } else {
                    targets[c].1
                };
                let wanted = target.saturating_sub(have.map_or(0, |h| h[c]));
                wanted.min(fresh[c].len() - taken[c])
            })
            .collect();
        // Two classes: every class adds as many as the one that can add fewest,
        // which keeps the split balanced.
        let add: Vec<usize> = if balanced {
            vec![add.iter().copied().min().unwrap_or(0); num_classes]
        } else {
            add
        };
        for (class, bucket) in fresh.iter().enumerate() {
            for (_, key) in &bucket[taken[class]..taken[class] + add[class]] {
                assigned.insert((*key).to_string(), split);
            }
            taken[class] += add[class];
        }
    }
    for (class, bucket) in fresh.iter().enumerate() {
        for (_, key) in &bucket[taken[class]..] {
            assigned.insert((*key).to_string(), Split::Train);
        }
    }
    assigned
}

/// Per class, the `fraction` of `rows` with the smallest key ranks (at least one
/// while the class has two rows, never all): chosen by image content, so
/// reproducible anywhere, and never empty on a small dataset. `labels` and `ranks`
/// are indexed by row. Returns (holdout, rest), each in row order.
pub fn holdout_per_class(
    rows: Vec<usize>,
    labels: &[u32],
    ranks: &[u64],
    fraction: f64,
) -> (Vec<usize>, Vec<usize>) {
    let mut by_class: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
    for row in rows {
        by_class.entry(labels[row]).or_default().push(row);
    }
    let (mut holdout, mut rest) = (Vec::new(), Vec::new());
    for mut rows in by_class.into_values() {
        rows.sort_by_key(|&row| (ranks[row], row));
        let wanted = (rows.len() as f64 * fraction).round() as usize;
        let take = wanted.clamp(usize::from(rows.len() >= 2), rows.len().saturating_sub(1));
        holdout.extend_from_slice(&rows[..take]);
        rest.extend_from_slice(&rows[take..]);
    }
    holdout.sort_unstable();
    rest.sort_unstable();
    (holdout, rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_at_every_size() {
        let f = SplitFractions::default();
        assert_eq!(per_class_targets(2, f), (0, 0));
        assert_eq!(per_class_targets(3, f), (1, 1));
        assert_eq!(per_class_targets(5, f), (1, 1));
        assert_eq!(per_class_targets(20, f), (2, 2));
        assert_eq!(per_class_targets(200, f), (20, 20));
        assert_eq!(per_class_targets(7_617, f), (762, 762));
        // Fractions that would leave no train image are clamped.
        let half = SplitFractions {
            val: 0.5,
            test: 0.5,
        };
        assert_eq!(per_class_targets(4, half), (2, 1));
    }

    #[test]
    fn holdout_is_per_class_and_never_empty_on_small_data() {
        let ranks: Vec<u64> = (0..20u64)
            .map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15))
            .collect();
        let labels: Vec<u32> = (0..20).map(|i| i % 2).collect();
        let (holdout, rest) = holdout_per_class((0..20).collect(), &labels, &ranks, 0.1);
        assert_eq!((holdout.len(), rest.len()), (2, 18));
        assert_ne!(labels[holdout[0]], labels[holdout[1]]);
        let (holdout, rest) = holdout_per_class(vec![0, 1, 2], &[0, 0, 1], &ranks, 0.1);
        assert_eq!((holdout.len(), rest.len()), (1, 2));
        assert!(rest.contains(&2));
    }
}
