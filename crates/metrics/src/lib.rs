//! How good a classifier's probabilities are, computed one way for every stage:
//! head-train and tune-train score their roles with it and write the numbers to
//! `metrics.json`; the report recomputes from `predictions.csv` with it (the
//! bootstrap, paired tests, older runs), so both always agree.
//!
//! * the predicted class: [`contract::predictions::predicted_class`] (two classes:
//!   `p(class 1) >= threshold`; more: the most probable, the first on ties);
//! * log-loss from probabilities, clamped to [`log_loss::PROBABILITY_FLOOR`]
//!   (scikit-learn's `log_loss`), so a reader of the probabilities alone gets
//!   the same bits as the writer;
//! * accuracy and top-5 accuracy with Wilson intervals, per-class precision,
//!   recall, F1 and support, macro-F1, balanced accuracy, the confusion matrix;
//! * ROC-AUC: class 1's for two classes, the macro one-vs-rest mean for more;
//! * the expected calibration error, and the F1-maximising threshold;
//! * class probabilities from a head's logits ([`probabilities`]).
//!
//! Depends on the contract crate only: no libtorch, no training code.

pub mod auc;
pub mod calibration;
pub mod classes;
mod error;
pub mod interval;
pub mod log_loss;
mod predictions;
pub mod probabilities;
pub mod rng;
pub mod roles;
pub mod split;
pub mod threshold;
pub mod top_k;

pub use contract::metrics::{ClassMetrics, Interval, SplitMetrics, TOP_K};
pub use contract::predictions::{first_argmax, predicted_class};
pub use error::MetricsError;
pub use predictions::Predictions;
pub use split::split_metrics;
