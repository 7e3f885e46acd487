//! Which rows fit the head, which select among heads, which judge the winner.

use contract::Split;

use crate::{FeatureMatrixError, Result};

/// Default share of train carved off for selection when there is no test split.
pub const DEFAULT_HOLDOUT: f64 = 0.1;

/// Rows playing one role, and the name of the split they come from
/// (`train`, `holdout`, `val` or `test`).
#[derive(Clone, Debug)]
pub struct RoleRows {
    pub split: String,
    pub rows: Vec<usize>,
}

/// With train, val and test: fit on train, select on val, evaluate on test.
/// Without test: fit on train minus a hash-chosen, per-class holdout (the dataset
/// crate's rule, on the same keyed hash as its splits), select on the holdout,
/// evaluate on val. (Train and test only: the same with test evaluating.)
#[derive(Clone, Debug)]
pub struct RolePlan {
    pub fit: RoleRows,
    pub selection: RoleRows,
    pub evaluation: RoleRows,
    /// The share of train held out, when a holdout selects.
    pub holdout_fraction: Option<f64>,
}

impl RolePlan {
    /// What `metrics.json` records of the plan.
    pub fn roles(&self) -> contract::metrics::Roles {
        let split = |rows: &RoleRows| contract::metrics::RoleSplit {
            split: rows.split.clone(),
        };
        contract::metrics::Roles {
            fit: split(&self.fit),
            fit_rows: self.fit.rows.len(),
            selection: split(&self.selection),
            selection_rows: self.selection.rows.len(),
            evaluation: split(&self.evaluation),
            evaluation_rows: self.evaluation.rows.len(),
            holdout_fraction: self.holdout_fraction,
        }
    }

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
            return Err(FeatureMatrixError::MissingSplit {
                split: "train".into(),
                hint: String::new(),
            });
        }
        if val.is_empty() && test.is_empty() {
            return Err(FeatureMatrixError::MissingSplit {
                split: "val".into(),
                hint: " (and there is no test split either): nothing to evaluate the head on"
                    .into(),
            });
        }
        let fraction = holdout.unwrap_or(DEFAULT_HOLDOUT);
        if !(fraction > 0.0 && fraction < 1.0) {
            return Err(FeatureMatrixError::InvalidOption(format!(
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
            let (holdout_rows, fit_rows) =
                dataset::split::holdout_per_class(train, labels, key_hashes, fraction);
            if holdout_rows.is_empty() || fit_rows.is_empty() {
                return Err(FeatureMatrixError::MissingSplit {
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
                return Err(FeatureMatrixError::OneClassSplit {
                    split: role.split.clone(),
                    class,
                });
            }
            if let Some(c) = (0..class_names.len()).find(|&c| seen[c] && !fit_classes[c]) {
                return Err(FeatureMatrixError::ClassUnseenInTraining {
                    class: class_names[c].clone(),
                    split: role.split.clone(),
                    fit: self.fit.split.clone(),
                });
            }
        }
        Ok(())
    }
}
