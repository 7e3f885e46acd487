//! What folder, shard and manifest names say about splits, read the way people
//! write them: `Validation_Set`, `training-set`, `TEST`, `trn`, `dev`.
//!
//! A name is normalised by lower-casing it and dropping `-`, `_` and spaces, then a
//! trailing `set`. `eval` (and `evaluation`) could mean val or test, so it is
//! reported as ambiguous instead of guessed.

use contract::Split;

/// What a name says about the split it holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SplitName {
    Split(Split),
    /// `eval`: val or test? The user has to say.
    Ambiguous,
    NotASplit,
}

const TRAIN: [&str; 3] = ["train", "training", "trn"];
const VAL: [&str; 4] = ["val", "valid", "validation", "dev"];
const TEST: [&str; 2] = ["test", "testing"];
const AMBIGUOUS: [&str; 2] = ["eval", "evaluation"];

/// Folder names that usually hold a dataset rather than name a class.
const CONTAINERS: [&str; 16] = [
    "images", "image", "imgs", "img", "data", "dataset", "datasets", "photos", "pictures", "pics",
    "files", "raw", "all", "samples", "jpg", "jpeg",
];

fn normalise(name: &str) -> String {
    let squeezed: String = name
        .chars()
        .filter(|c| !matches!(c, '-' | '_' | ' '))
        .flat_map(char::to_lowercase)
        .collect();
    match squeezed.strip_suffix("set") {
        Some(stem) if !stem.is_empty() => stem.to_string(),
        _ => squeezed,
    }
}

fn classify(normalised: &str) -> SplitName {
    if TRAIN.contains(&normalised) {
        SplitName::Split(Split::Train)
    } else if VAL.contains(&normalised) {
        SplitName::Split(Split::Val)
    } else if TEST.contains(&normalised) {
        SplitName::Split(Split::Test)
    } else if AMBIGUOUS.contains(&normalised) {
        SplitName::Ambiguous
    } else {
        SplitName::NotASplit
    }
}

/// The split a whole folder or manifest value names: `Validation_Set` → val.
pub fn split_name(name: &str) -> SplitName {
    classify(&normalise(name))
}

/// The words of a name, split at separators, digits and lower→upper case changes:
/// `trainImages_2` → `train`, `images`.
fn words(name: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut previous_lower = false;
    for c in name.chars() {
        if !c.is_alphabetic() {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            previous_lower = false;
            continue;
        }
        if c.is_uppercase() && previous_lower && !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
        previous_lower = c.is_lowercase();
        current.extend(c.to_lowercase());
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

/// Whether a name mentions a split anywhere (`training_images`, `test1`,
/// `trainset`): such a folder is unlikely to be a class.
pub fn mentions_split(name: &str) -> bool {
    split_name(name) != SplitName::NotASplit
        || words(name)
            .iter()
            .any(|word| classify(&normalise(word)) != SplitName::NotASplit)
}

/// The split named by one of a shard file's words (`train-00000`,
/// `imagenet-val-000012`), if exactly one kind is named.
pub fn split_in_words(name: &str) -> SplitName {
    let mut found = SplitName::NotASplit;
    for word in words(name) {
        match classify(&normalise(&word)) {
            SplitName::NotASplit => {}
            SplitName::Ambiguous => return SplitName::Ambiguous,
            named if found == SplitName::NotASplit || found == named => found = named,
            _ => return SplitName::Ambiguous,
        }
    }
    found
}

/// The split a shard or Parquet file's path names (`train-00000.tar`,
/// `val/00001.tar`, `data/test-00000-of-00001.parquet`), from its folders and its
/// name without extension.
pub fn split_of_file(relative: &str) -> SplitName {
    let name_start = relative.rfind('/').map_or(0, |i| i + 1);
    let stem = match relative[name_start..].rfind('.') {
        Some(dot) => &relative[..name_start + dot],
        None => relative,
    };
    let mut found = SplitName::NotASplit;
    for part in stem.split('/') {
        match split_in_words(part) {
            SplitName::NotASplit => {}
            SplitName::Ambiguous => return SplitName::Ambiguous,
            named if found == SplitName::NotASplit || found == named => found = named,
            _ => return SplitName::Ambiguous,
        }
    }
    found
}

/// Whether a folder name usually holds a dataset (`images`, `data`) rather than
/// naming a class.
pub fn is_container(name: &str) -> bool {
    CONTAINERS.contains(&normalise(name).as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_folder_names_people_use() {
        for (name, split) in [
            ("train", Split::Train),
            ("Training", Split::Train),
            ("training_set", Split::Train),
            ("TRN", Split::Train),
            ("trainset", Split::Train),
            ("val", Split::Val),
            ("Validation_Set", Split::Val),
            ("valid", Split::Val),
            ("dev", Split::Val),
            ("validation set", Split::Val),
            ("test_set", Split::Test),
            ("Testing", Split::Test),
            ("test-set", Split::Test),
        ] {
            assert_eq!(split_name(name), SplitName::Split(split), "{name}");
        }
        assert_eq!(split_name("eval"), SplitName::Ambiguous);
        assert_eq!(split_name("Eval_Set"), SplitName::Ambiguous);
        for name in ["cats", "set", "trains", "valley", "testudo", "images"] {
            assert_eq!(split_name(name), SplitName::NotASplit, "{name}");
        }
    }

    #[test]
    fn names_that_mention_a_split() {
        for name in [
            "training_images",
            "test1",
            "trainImages",
            "my-val-photos",
            "eval",
        ] {
            assert!(mentions_split(name), "{name}");
        }
        for name in ["cats", "valley", "contest", "interval", "attest", "Dogs"] {
            assert!(!mentions_split(name), "{name}");
        }
    }

    #[test]
    fn shard_names() {
        assert_eq!(
            split_in_words("train-00000"),
            SplitName::Split(Split::Train)
        );
        assert_eq!(
            split_in_words("imagenet-val-000012"),
            SplitName::Split(Split::Val)
        );
        assert_eq!(split_in_words("shard-00003"), SplitName::NotASplit);
        assert_eq!(split_in_words("train-test-0"), SplitName::Ambiguous);
        assert_eq!(split_in_words("eval-0001"), SplitName::Ambiguous);
    }

    #[test]
    fn file_splits() {
        assert_eq!(
            split_of_file("train-00000.tar"),
            SplitName::Split(Split::Train)
        );
        assert_eq!(split_of_file("val/00001.tar"), SplitName::Split(Split::Val));
        assert_eq!(split_of_file("shard-00001.tar"), SplitName::NotASplit);
        assert_eq!(split_of_file("test/train-0.tar"), SplitName::Ambiguous);
        assert_eq!(
            split_of_file("data/train-00000-of-00002.parquet"),
            SplitName::Split(Split::Train)
        );
        assert_eq!(
            split_of_file("data/validation-00000-of-00001.parquet"),
            SplitName::Split(Split::Val)
        );
        assert_eq!(
            split_of_file("plain_text/test/0000.parquet"),
            SplitName::Split(Split::Test)
        );
        assert_eq!(split_of_file("data/00000.parquet"), SplitName::NotASplit);
    }

    #[test]
    fn containers() {
        assert!(is_container("images") && is_container("Data") && is_container("DataSet"));
        assert!(!is_container("cats"));
    }
}
