//! Many classes with few images each, as a 120-breed dog dataset has them: the
//! content-hash split gives every class of three or more images a val and a test
//! image, the classes too small for that are train-only and named, and the scan
//! table stays readable (one row per class).

mod common;

use common::{scan_default, write_jpegs};
use contract::Split;
use dataset::SplitsFrom;

#[test]
fn a_hundred_and_twenty_classes_of_2_to_17_images() {
    let dir = tempfile::tempdir().unwrap();
    let mut sizes = Vec::new();
    let mut seed = 0;
    for class in 0..120u32 {
        let count = 2 + (class * 7) % 16;
        write_jpegs(&dir.path().join(format!("breed-{class:03}")), count, seed);
        seed += count;
        sizes.push(count as usize);
    }
    let report = scan_default(dir.path()).unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert!(report.duplicates.is_empty(), "{:?}", report.duplicates);
    assert_eq!(report.splits_from, SplitsFrom::Hash);
    assert_eq!(report.classes.len(), 120);
    assert_eq!(report.class_sizes(), sizes);
    let counts = report.counts();
    let mut train_only = Vec::new();
    for (class, &n) in sizes.iter().enumerate() {
        let (val, test) = (counts[&Split::Val][class], counts[&Split::Test][class]);
        if n < 3 {
            assert_eq!((val, test), (0, 0), "class {class} of {n}");
            train_only.push(report.classes[class].clone());
        } else {
            assert!(val >= 1 && test >= 1, "class {class} of {n}: {val}/{test}");
            assert!(counts[&Split::Train][class] >= 1);
        }
    }
    assert!(!train_only.is_empty());
    assert!(report.layout_description().contains("stratified"));
    let notes = report.split_notes();
    let note = notes
        .iter()
        .find(|n| n.contains("train-only"))
        .unwrap_or_else(|| panic!("no train-only note: {notes:?}"));
    assert!(
        note.starts_with(&format!(
            "{} class(es) with fewer than 3 images",
            train_only.len()
        )) && note.contains(&format!("{:?} (2)", train_only[0])),
        "{note}"
    );

    let text = report.render();
    assert!(
        text.contains("labels   120 classes, numbered in the table below"),
        "{text}"
    );
    let mut sorted = sizes.clone();
    sorted.sort_unstable();
    let median = (sorted[59] + sorted[60]) as f64 / 2.0;
    assert!(
        text.contains(&format!(
            "classes  120; images per class min 2 / median {median} / max 17"
        )),
        "{text}"
    );
    // One row per class: its name, label, and its count in each split.
    let row = text
        .lines()
        .find(|l| l.starts_with("breed-007 "))
        .expect("a row for breed-007");
    let cells: Vec<&str> = row.split_whitespace().collect();
    let n = sizes[7];
    assert_eq!(
        cells,
        [
            "breed-007".to_string(),
            "7".into(),
            counts[&Split::Train][7].to_string(),
            counts[&Split::Val][7].to_string(),
            counts[&Split::Test][7].to_string(),
            n.to_string()
        ]
    );
    let table: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("breed-") || l.starts_with("class ") || l.starts_with("total"))
        .collect();
    assert_eq!(table.len(), 122, "{text}");
    assert!(table.iter().all(|l| l.chars().count() <= 60), "{text}");
    // The JSON still has every class's counts by name.
    let json = report.to_json();
    assert_eq!(json["counts"]["val"]["breed-007"], counts[&Split::Val][7]);
}

#[test]
fn the_order_of_files_and_their_names_do_not_change_the_split() {
    // The same images under other names: the same split per image (by key).
    let first = tempfile::tempdir().unwrap();
    let second = tempfile::tempdir().unwrap();
    for class in 0..8u32 {
        write_jpegs(
            &first.path().join(format!("c{class}")),
            5 + class,
            class * 20,
        );
        for i in 0..5 + class {
            let from = first.path().join(format!("c{class}/{i:04}.jpg"));
            let to = second
                .path()
                .join(format!("c{class}/renamed-{}.jpg", 100 - i));
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::copy(from, to).unwrap();
        }
    }
    let by_key = |root: &std::path::Path| {
        scan_default(root)
            .unwrap()
            .images
            .into_iter()
            .map(|i| (i.key, i.split))
            .collect::<std::collections::BTreeMap<_, _>>()
    };
    assert_eq!(by_key(first.path()), by_key(second.path()));
}
