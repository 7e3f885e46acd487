//! The content-hash split: proportions, exact balance for two classes,
//! stratification for more, and stability.

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
fn more_than_two_classes_are_stratified_toward_8_1_1() {
    let items = synthetic(0, 9_000, 3);
    let assigned = assign_splits(&items, 3, SplitFractions::default(), &BTreeMap::new());
    let counts = tally(&assigned, &items, 3);
    for split in [Split::Train, Split::Val, Split::Test] {
        let target = if split == Split::Train { 0.8 } else { 0.1 };
        let share = counts[&split].iter().sum::<usize>() as f64 / 9_000.0;
        assert!((share - target).abs() <= 0.015, "{split}: {share:.4}");
    }
    for class in 0..3 {
        let size: usize = counts.values().map(|c| c[class]).sum();
        let tenth = (size as f64 * 0.1).round() as usize;
        assert_eq!(counts[&Split::Val][class], tenth, "class {class} of {size}");
        assert_eq!(
            counts[&Split::Test][class],
            tenth,
            "class {class} of {size}"
        );
    }
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

#[test]
fn a_few_classes_of_different_sizes_each_give_a_tenth() {
    let per_class = [3, 40, 7, 2, 1, 250];
    let items = classes_of(&per_class);
    let assigned = assign_splits(&items, 6, SplitFractions::default(), &BTreeMap::new());
    let counts = tally(&assigned, &items, 6);
    // 3 → 1/1/1, 40 → 4/4/32, 7 → 1/1/5, 2 and 1 train-only, 250 → 25/25/200.
    assert_eq!(counts[&Split::Val], [1, 4, 1, 0, 0, 25]);
    assert_eq!(counts[&Split::Test], [1, 4, 1, 0, 0, 25]);
    assert_eq!(counts[&Split::Train], [1, 32, 5, 2, 1, 200]);
}

/// 120 classes of 2..=17 images each, as a small dog-breed set has them.
fn breeds() -> Vec<usize> {
    (0..120).map(|c| 2 + (c * 7) % 16).collect()
}

#[test]
fn a_hundred_and_twenty_small_classes_never_empty_val_or_test() {
    let per_class = breeds();
    assert_eq!(per_class.iter().min(), Some(&2));
    assert_eq!(per_class.iter().max(), Some(&17));
    let items = classes_of(&per_class);
    let assigned = assign_splits(&items, 120, SplitFractions::default(), &BTreeMap::new());
    let counts = tally(&assigned, &items, 120);
    for (class, &n) in per_class.iter().enumerate() {
        let (val, test) = (counts[&Split::Val][class], counts[&Split::Test][class]);
        if n < 3 {
            assert_eq!((val, test), (0, 0), "class {class} of {n} is train-only");
        } else {
            let expected = ((n as f64 * 0.1).round() as usize).max(1);
            assert_eq!((val, test), (expected, expected), "class {class} of {n}");
            assert!(counts[&Split::Train][class] >= 1);
        }
    }
    // Any order of the same images: the same assignment.
    let mut shuffled = items.clone();
    shuffled.reverse();
    shuffled.rotate_left(401);
    assert_eq!(
        assign_splits(&shuffled, 120, SplitFractions::default(), &BTreeMap::new()),
        assigned
    );
}

#[test]
fn many_classes_grow_without_moving_an_image() {
    let before_sizes = breeds();
    let first = classes_of(&before_sizes);
    let before = assign_splits(&first, 120, SplitFractions::default(), &BTreeMap::new());
    // Every class doubles.
    let grown: Vec<usize> = before_sizes.iter().map(|n| 2 * n).collect();
    let all = classes_of(&grown);
    let after = assign_splits(&all, 120, SplitFractions::default(), &before);
    for (key, split) in &before {
        assert_eq!(after[key], *split, "existing image {key} moved");
    }
    let counts = tally(&after, &all, 120);
    for (class, &n) in grown.iter().enumerate() {
        let expected = ((n as f64 * 0.1).round() as usize).max(1);
        // A class that held only train images before keeps its old images in
        // train; its new ones fill val and test.
        assert_eq!(counts[&Split::Val][class], expected, "class {class} of {n}");
        assert_eq!(
            counts[&Split::Test][class],
            expected,
            "class {class} of {n}"
        );
    }
}
