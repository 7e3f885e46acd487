//! The content-hash split: proportions, exact balance, and stability.

use std::collections::BTreeMap;

use contract::Split;
use dataset::split::{assign_splits, split_unit, KeyedLabel, SplitFractions};

/// `count` synthetic images with blake3 keys; labels drawn from a second hash so
/// they are independent of the split unit.
fn synthetic(start: usize, count: usize, classes: usize) -> Vec<KeyedLabel> {
    (start..start + count)
        .map(|i| {
            let key = blake3::hash(format!("image {i}").as_bytes())
                .to_hex()
                .to_string();
            let label = (blake3::hash(format!("label {i}").as_bytes()).as_bytes()[0] as usize
                % classes) as i32;
            KeyedLabel { key, label }
        })
        .collect()
}

fn tally(
    assigned: &BTreeMap<String, Split>,
    items: &[KeyedLabel],
    classes: usize,
) -> BTreeMap<Split, Vec<usize>> {
    let mut counts: BTreeMap<Split, Vec<usize>> = BTreeMap::new();
    for item in items {
        counts
            .entry(assigned[&item.key])
            .or_insert_with(|| vec![0; classes])[item.label as usize] += 1;
    }
    counts
}

fn assert_on_target(counts: &BTreeMap<Split, Vec<usize>>, total: usize) {
    for (split, target) in [(Split::Train, 0.8), (Split::Val, 0.1), (Split::Test, 0.1)] {
        let share = counts[&split].iter().sum::<usize>() as f64 / total as f64;
        assert!(
            (share - target).abs() <= 0.015,
            "{split}: {share:.4} is not within 1.5 points of {target}"
        );
    }
    for split in [Split::Val, Split::Test] {
        let per_class = &counts[&split];
        assert!(
            per_class.iter().all(|&n| n == per_class[0]),
            "{split} is not balanced: {per_class:?}"
        );
    }
}

#[test]
fn ten_thousand_keys_land_on_8_1_1_with_balanced_val_and_test() {
    let items = synthetic(0, 10_000, 2);
    let assigned = assign_splits(&items, 2, SplitFractions::default(), &BTreeMap::new());
    assert_eq!(assigned.len(), 10_000);
    assert_on_target(&tally(&assigned, &items, 2), 10_000);
}

#[test]
fn more_than_two_classes_are_balanced_too() {
    let items = synthetic(0, 9_000, 3);
    let assigned = assign_splits(&items, 3, SplitFractions::default(), &BTreeMap::new());
    assert_on_target(&tally(&assigned, &items, 3), 9_000);
}

#[test]
fn order_of_the_input_does_not_matter() {
    let items = synthetic(0, 2_000, 2);
    let mut reversed = items.clone();
    reversed.reverse();
    let mut interleaved: Vec<_> = items
        .iter()
        .step_by(2)
        .chain(items.iter().skip(1).step_by(2))
        .cloned()
        .collect();
    interleaved.rotate_left(333);
    let reference = assign_splits(&items, 2, SplitFractions::default(), &BTreeMap::new());
    assert_eq!(
        assign_splits(&reversed, 2, SplitFractions::default(), &BTreeMap::new()),
        reference
    );
    assert_eq!(
        assign_splits(&interleaved, 2, SplitFractions::default(), &BTreeMap::new()),
        reference
    );
}

#[test]
fn adding_a_thousand_images_moves_no_existing_one() {
    let first = synthetic(0, 10_000, 2);
    let before = assign_splits(&first, 2, SplitFractions::default(), &BTreeMap::new());
    let all = synthetic(0, 11_000, 2);
    let after = assign_splits(&all, 2, SplitFractions::default(), &before);
    for (key, split) in &before {
        assert_eq!(after[key], *split, "existing image {key} moved");
    }
    assert_on_target(&tally(&after, &all, 2), 11_000);
    // The new images took part in val and test, not only train.
    let new_in_val = all[10_000..]
        .iter()
        .filter(|i| after[&i.key] == Split::Val)
        .count();
    assert!(new_in_val > 50, "only {new_in_val} new images went to val");
}

#[test]
fn new_images_of_one_class_only_go_to_train() {
    let first = synthetic(0, 1_000, 2);
    let before = assign_splits(&first, 2, SplitFractions::default(), &BTreeMap::new());
    let more_of_class_0: Vec<_> = synthetic(1_000, 400, 2)
        .into_iter()
        .filter(|i| i.label == 0)
        .collect();
    let all: Vec<_> = first
        .iter()
        .cloned()
        .chain(more_of_class_0.iter().cloned())
        .collect();
    let after = assign_splits(&all, 2, SplitFractions::default(), &before);
    assert!(more_of_class_0
        .iter()
        .all(|i| after[&i.key] == Split::Train));
}

#[test]
fn the_split_unit_is_uniform_and_depends_only_on_the_key() {
    let units: Vec<f64> = synthetic(0, 20_000, 2)
        .iter()
        .map(|i| split_unit(&i.key))
        .collect();
    assert!(units.iter().all(|u| (0.0..1.0).contains(u)));
    let below_tenth = units.iter().filter(|&&u| u < 0.1).count() as f64 / units.len() as f64;
    assert!((below_tenth - 0.1).abs() < 0.01, "{below_tenth}");
    assert_eq!(split_unit("abc"), split_unit("abc"));
}

/// `per_class[c]` images of class c, keyed like real images.
fn classes_of(per_class: &[usize]) -> Vec<KeyedLabel> {
    let mut items = Vec::new();
    for (label, &count) in per_class.iter().enumerate() {
        for i in 0..count {
            items.push(KeyedLabel {
                key: blake3::hash(format!("class {label} image {i}").as_bytes())
                    .to_hex()
                    .to_string(),
                label: label as i32,
            });
        }
    }
    items
}

#[test]
fn small_and_imbalanced_datasets_get_non_empty_balanced_val_and_test() {
    for (per_class, expected_val) in [
        (vec![5, 5], 1),
        (vec![20, 20], 2),
        (vec![200, 200], 20),
        (vec![900, 100], 10),
        (vec![3, 40, 7], 1),
    ] {
        let items = classes_of(&per_class);
        let reference = assign_splits(
            &items,
            per_class.len(),
            SplitFractions::default(),
            &BTreeMap::new(),
        );
        let counts = tally(&reference, &items, per_class.len());
        for split in [Split::Val, Split::Test] {
            assert!(
                counts[&split].iter().all(|&n| n == expected_val),
                "{per_class:?}: {split} is {:?}, expected {expected_val} per class",
                counts[&split]
            );
        }
        for (class, &n) in per_class.iter().enumerate() {
            assert_eq!(
                counts[&Split::Train][class],
                n - 2 * expected_val,
                "{per_class:?}"
            );
        }
        // Any order of the same images: the same assignment.
        for rotation in [1, items.len() / 3, items.len() - 1] {
            let mut shuffled = items.clone();
            shuffled.rotate_left(rotation);
            shuffled.reverse();
            assert_eq!(
                assign_splits(
                    &shuffled,
                    per_class.len(),
                    SplitFractions::default(),
                    &BTreeMap::new()
                ),
                reference,
                "{per_class:?}"
            );
        }
    }
}

#[test]
fn the_seed_scale_keeps_about_750_per_class_in_val_and_test() {
    let items = classes_of(&[7_617, 15_023]);
    let assigned = assign_splits(&items, 2, SplitFractions::default(), &BTreeMap::new());
    let counts = tally(&assigned, &items, 2);
    assert_eq!(counts[&Split::Val], [762, 762]);
    assert_eq!(counts[&Split::Test], [762, 762]);
    assert_eq!(counts[&Split::Train], [7_617 - 1_524, 15_023 - 1_524]);
}

#[test]
fn two_images_of_a_class_leave_val_and_test_empty_but_never_unbalanced() {
    let items = classes_of(&[2, 50]);
    let assigned = assign_splits(&items, 2, SplitFractions::default(), &BTreeMap::new());
    assert!(assigned.values().all(|s| *s == Split::Train));
}

#[test]
fn holdout_depends_on_content_not_row_order() {
    use dataset::split::{holdout_per_class, key_rank};
    let items = classes_of(&[50]);
    let labels = vec![0u32; 50];
    let ranks: Vec<u64> = items.iter().map(|i| key_rank(&i.key)).collect();
    let (holdout, _) = holdout_per_class((0..50).collect(), &labels, &ranks, 0.2);
    assert_eq!(holdout.len(), 10);
    let reversed: Vec<u64> = ranks.iter().rev().copied().collect();
    let (held_reversed, _) = holdout_per_class((0..50).collect(), &labels, &reversed, 0.2);
    let mut mapped: Vec<usize> = held_reversed.iter().map(|&r| 49 - r).collect();
    mapped.sort_unstable();
    assert_eq!(mapped, holdout);
}
