//! Which column of a table holds what: `--path-column`, `--label-column` and
//! `--split-column`, or the names people give them (`id,breed` as competitions
//! ship labels, `file_name,label` as Hugging Face does). Two plausible columns
//! stop with a question, never a guess.

use crate::collect::list_some;

/// Column names stated on the command line; `None` means "recognise it".
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ColumnNames {
    pub path: Option<String>,
    pub label: Option<String>,
    pub split: Option<String>,
}

/// What a column holds, with the names it goes by and the flag that states it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Path,
    Label,
    Split,
}

impl Role {
    /// The names recognised without a flag, compared case-insensitively.
    pub fn common_names(self) -> &'static [&'static str] {
        match self {
            Role::Path => &[
                "path",
                "file_name",
                "filename",
                "file",
                "image",
                "image_id",
                "id",
                "img",
                "filepath",
            ],
            // `labels` counts only when it holds one label per row (see
            // `MULTI_VALUED_NAME`).
            Role::Label => &[
                "label", "class", "category", "target", "breed", "species", "labels",
            ],
            Role::Split => &["split"],
        }
    }

    pub fn flag(self) -> &'static str {
        match self {
            Role::Path => "--path-column",
            Role::Label => "--label-column",
            Role::Split => "--split-column",
        }
    }

    pub fn what(self) -> &'static str {
        match self {
            Role::Path => "path",
            Role::Label => "label",
            Role::Split => "split",
        }
    }

    pub fn given(self, names: &ColumnNames) -> Option<&str> {
        match self {
            Role::Path => names.path.as_deref(),
            Role::Label => names.label.as_deref(),
            Role::Split => names.split.as_deref(),
        }
    }
}

/// A label column by this name is often a multi-label list (`cat dog`): it is
/// recognised only when every value is one label.
pub const MULTI_VALUED_NAME: &str = "labels";

/// Whether a value lists several labels (`cat dog`, `a;b`, `[1, 2]`).
pub fn is_multi_valued(value: &str) -> bool {
    let value = value.trim();
    value.starts_with('[')
        || value
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, ',' | ';' | '|'))
}

/// The column `name` names, matched exactly, else case-insensitively when that
/// is unique.
pub fn named_column(header: &[String], name: &str) -> Option<usize> {
    header.iter().position(|c| c == name).or_else(|| {
        let lower: Vec<usize> = header
            .iter()
            .enumerate()
            .filter(|(_, c)| c.trim().eq_ignore_ascii_case(name.trim()))
            .map(|(i, _)| i)
            .collect();
        match lower.as_slice() {
            [one] => Some(*one),
            _ => None,
        }
    })
}

/// The column that holds `role`: the one the flag names, else the one column
/// among `candidates` (indices of plausible columns, in header order). An error
/// says what was seen and which flag states it.
pub fn choose(
    role: Role,
    header: &[String],
    names: &ColumnNames,
    candidates: &[usize],
    required: bool,
) -> Result<Option<usize>, String> {
    if let Some(name) = role.given(names) {
        return named_column(header, name).map(Some).ok_or_else(|| {
            format!(
                "no column named {name:?} ({} {name}); its columns are {}",
                role.flag(),
                list_some(header, 12)
            )
        });
    }
    match candidates {
        [] if required => Err(format!(
            "no {} column (expected one of {}); its columns are {}: name it with {} NAME",
            role.what(),
            role.common_names().join(", "),
            list_some(header, 12),
            role.flag()
        )),
        [] => Ok(None),
        [one] => Ok(Some(*one)),
        several => Err(format!(
            "{} columns could hold the {}: {}; say which with {} NAME",
            several.len(),
            role.what(),
            several
                .iter()
                .map(|&i| header[i].clone())
                .collect::<Vec<_>>()
                .join(", "),
            role.flag()
        )),
    }
}

/// Columns whose name is one of `role`'s common names, in header order.
pub fn by_common_name(role: Role, header: &[String]) -> Vec<usize> {
    header
        .iter()
        .enumerate()
        .filter(|(_, c)| {
            role.common_names()
                .contains(&c.trim().to_lowercase().as_str())
        })
        .map(|(i, _)| i)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn one_plausible_column_is_taken_two_are_a_question() {
        let h = header(&["id", "breed"]);
        let none = ColumnNames::default();
        let path = by_common_name(Role::Path, &h);
        assert_eq!(choose(Role::Path, &h, &none, &path, true), Ok(Some(0)));
        let label = by_common_name(Role::Label, &h);
        assert_eq!(choose(Role::Label, &h, &none, &label, true), Ok(Some(1)));
        let h = header(&["ID", "Image", "Label"]);
        let path = by_common_name(Role::Path, &h);
        let question = choose(Role::Path, &h, &none, &path, true).unwrap_err();
        assert!(
            question.contains(
                "2 columns could hold the path: ID, Image; say which with --path-column NAME"
            ),
            "{question}"
        );
        let stated = ColumnNames {
            path: Some("image".into()),
            ..Default::default()
        };
        assert_eq!(choose(Role::Path, &h, &stated, &path, true), Ok(Some(1)));
        let wrong = ColumnNames {
            path: Some("picture".into()),
            ..Default::default()
        };
        let error = choose(Role::Path, &h, &wrong, &path, true).unwrap_err();
        assert!(error.contains("no column named \"picture\" (--path-column picture); its columns are ID, Image, Label"), "{error}");
    }

    #[test]
    fn multi_valued_labels() {
        for value in ["cat dog", "a;b", "[1, 2]", "0 16 25", "x|y", "a,b"] {
            assert!(is_multi_valued(value), "{value}");
        }
        for value in ["cat", " 3 ", "golden_retriever", "n02085620"] {
            assert!(!is_multi_valued(value), "{value}");
        }
    }
}
