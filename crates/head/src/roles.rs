//! Which rows fit the head, which select among heads, which judge the winner.

use featurefile::Split;
use serde::Serialize;

use crate::{HeadError, Result};

/// Default share of train carved off for selection when there is no test split.
pub const DEFAULT_HOLDOUT: f64 = 0.1;

/// Rows playing one role, and the name of the split they come from
/// (`train`, `holdout`, `val` or `test`).
#[derive(Clone, Debug, Serialize)]
pub struct RoleRows {
    pub split: String,
    #[serde(skip)]
    pub rows: Vec<usize>,
}

/// With train, val and test: fit on train, select on val, evaluate on test.
/// Without test: fit on train minus a hash-chosen, per-class holdout, select on the
/// holdout, evaluate on val. (Train and test only: the same with test evaluating.)
#[derive(Clone, Debug, Serialize)]
pub struct RolePlan {
    pub fit: RoleRows,
    pub selection: RoleRows,
    pub evaluation: RoleRows,
    /// The share of train held out, when a holdout selects.
    pub holdout_fraction: Option<f64>,
}

/// Per class, the `fraction` of its train rows with the smallest key hashes (at
/// least one while the class has two rows, never all): chosen by image content, so
/// reproducible anywhere, and never empty on a small dataset, as independent
/// per-row draws could be (20 rows at 0.1: a 12% chance). Returns (holdout, fit),
/// each in row order.
fn stratified_holdout(
    train: Vec<usize>,
    labels: &[u32],
    key_hashes: &[u64],
    fraction: f64,
) -> (Vec<usize>, Vec<usize>) {
    let mut by_class: std::collections::BTreeMap<u32, Vec<usize>> = Default::default();
    for row in train {
        by_class.entry(labels[row]).or_default().push(row);
    }
    let (mut holdout, mut fit) = (Vec::new(), Vec::new());
    for mut rows in by_class.into_values() {
        rows.sort_by_key(|&row| (key_hashes[row], row));
        let wanted = (rows.len() as f64 * fraction).round() as usize;
        let take = wanted.clamp(usize::from(rows.len() >= 2), rows.len().saturating_sub(1));
        holdout.extend_from_slice(&rows[..take]);
        fit.extend_from_slice(&rows[take..]);
    }
    holdout.sort_unstable();
    fit.sort_unstable();
    (holdout, fit)
}

impl RolePlan {
    /// `holdout`: the fraction to carve when one is needed (default 0.1).
    pub fn new(
        splits: &[Split],
        labels: &[u32],
        key_hashes: &[u64],
        class_names: &[String],
        holdout: Option<f64>,
    ) -> Result<Self> {
        let rows_of = |split: Split| -> Vec<usize> {
            splits
                .iter()
                .enumerate()
                .filter(|(_, s)| **s == split)
                .map(|(i, _)| i)
                .collect()
        };
        let train = rows_of(Split::Train);
        let val = rows_of(Split::Val);
        let test = rows_of(Split::Test);
        if train.is_empty() {
            return Err(HeadError::MissingSplit {
                split: "train".into(),
                hint: String::new(),
            });
        }
        if val.is_empty() && test.is_empty() {
            return Err(HeadError::MissingSplit {
                split: "val".into(),
                hint: " (and there is no test split either): nothing to evaluate the head on"
                    .into(),
            });
        }
        let fraction = holdout.unwrap_or(DEFAULT_HOLDOUT);
        if !(fraction > 0.0 && fraction < 1.0) {
            return Err(HeadError::InvalidOption(format!(
                "--holdout must lie strictly between 0 and 1, got {fraction}"
            )));
        }
        let role = |split: &str, rows: Vec<usize>| RoleRows {
            split: split.to_string(),
            rows,
        };
        let plan = if !val.is_empty() && !test.is_empty() && holdout.is_none() {
            RolePlan {
                fit: role("train", train),
                selection: role("val", val),
                evaluation: role("test", test),
                holdout_fraction: None,
            }
        } else {
            let (evaluation_name, evaluation) = if test.is_empty() {
                ("val", val)
            } else {
                ("test", test)
            };
            let (holdout_rows, fit_rows) = stratified_holdout(train, labels, key_hashes, fraction);
            if holdout_rows.is_empty() || fit_rows.is_empty() {
                return Err(HeadError::MissingSplit {
                    split: "holdout".into(),
                    hint: format!(" (--holdout {fraction} of train leaves one side empty; change the fraction)"),
                });
            }
            RolePlan {
                fit: role("train", fit_rows),
                selection: role("holdout", holdout_rows),
                evaluation: role(evaluation_name, evaluation),
                holdout_fraction: Some(fraction),
            }
        };
        plan.check_classes(labels, class_names)?;
        Ok(plan)
    }

    fn check_classes(&self, labels: &[u32], class_names: &[String]) -> Result<()> {
        let present = |rows: &[usize]| {
            let mut seen = vec![false; class_names.len()];
            for &r in rows {
                seen[labels[r] as usize] = true;
            }
            seen
        };
        let fit_classes = present(&self.fit.rows);
        for role in [&self.fit, &self.selection, &self.evaluation] {
            let seen = present(&role.rows);
            if seen.iter().filter(|s| **s).count() < 2 {
                let class = seen
                    .iter()
                    .position(|s| *s)
                    .map(|c| class_names[c].clone())
                    .unwrap_or_default();
                return Err(HeadError::OneClassSplit {
                    split: role.split.clone(),
                    class,
                });
            }
            if let Some(c) = (0..class_names.len()).find(|&c| seen[c] && !fit_classes[c]) {
                return Err(HeadError::ClassUnseenInTraining {
                    class: class_names[c].clone(),
                    split: role.split.clone(),
                    fit: self.fit.split.clone(),
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hashes(n: usize) -> Vec<u64> {
        (0..n as u64)
            .map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15))
            .collect()
    }

    #[test]
    fn holdout_is_per_class_and_never_empty_on_small_data() {
        // 20 rows, 10 per class: 0.1 holds out one row of each.
        let labels: Vec<u32> = (0..20).map(|i| i % 2).collect();
        let (holdout, fit) = stratified_holdout((0..20).collect(), &labels, &hashes(20), 0.1);
        assert_eq!(holdout.len(), 2);
        assert_eq!(fit.len(), 18);
        let held_classes: Vec<u32> = holdout.iter().map(|&r| labels[r]).collect();
        assert!(held_classes.contains(&0) && held_classes.contains(&1));
        // Two rows of a class: one each side; a single row stays in fit.
        let (holdout, fit) = stratified_holdout(vec![0, 1, 2], &[0, 0, 1], &hashes(3), 0.1);
        assert_eq!((holdout.len(), fit.len()), (1, 2));
        assert!(fit.contains(&2));
    }

    #[test]
    fn holdout_depends_on_content_not_row_order() {
        let labels = vec![0u32; 50];
        let keys = hashes(50);
        let (holdout, _) = stratified_holdout((0..50).collect(), &labels, &keys, 0.2);
        assert_eq!(holdout.len(), 10);
        // The same keys in reverse row order hold out the same images.
        let reversed_keys: Vec<u64> = keys.iter().rev().copied().collect();
        let (reversed, _) = stratified_holdout((0..50).collect(), &labels, &reversed_keys, 0.2);
        let mut mapped: Vec<usize> = reversed.iter().map(|&r| 49 - r).collect();
        mapped.sort_unstable();
        assert_eq!(mapped, holdout);
    }
}
