//! A backbone's name as feature files, cache folders, run folders and output
//! files carry it. Native variants are named by the variant (`b0`, `lite2`); an
//! exported module by the id its `--variant ID=PATH` entry gives it.

use std::fmt;
use std::str::FromStr;

use crate::efficientnet::Variant;

/// The longest id accepted: it becomes part of file and folder names.
const MAX_LENGTH: usize = 64;

/// A backbone id, safe as a file name (see the module docs).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ModelId(String);

#[derive(Debug, thiserror::Error, PartialEq)]
#[error(
    "{0:?} is not a usable backbone id: use 1 to 64 letters, digits, `_`, `-` or `.`, \
     starting with a letter or digit (it names files and folders)"
)]
pub struct BadModelId(pub String);

impl ModelId {
    pub fn native(variant: Variant) -> ModelId {
        ModelId(variant.name().to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for ModelId {
    type Err = BadModelId;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let usable = !text.is_empty()
            && text.len() <= MAX_LENGTH
            && text
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphanumeric())
            && text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
        if usable {
            Ok(ModelId(text.to_string()))
        } else {
            Err(BadModelId(text.to_string()))
        }
    }
}

impl fmt::Display for ModelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for ModelId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_file_names() {
        for good in [
            "b0",
            "convnext_tiny",
            "vit_small_patch14_dinov2.lvd142m",
            "r-50",
        ] {
            assert_eq!(good.parse::<ModelId>().unwrap().as_str(), good);
        }
        for bad in [
            "",
            ".hidden",
            "-x",
            "a/b",
            "a b",
            "..",
            "x\\y",
            &"a".repeat(65),
        ] {
            assert!(bad.parse::<ModelId>().is_err(), "{bad:?}");
        }
    }
}
