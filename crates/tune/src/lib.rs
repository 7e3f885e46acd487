//! effprobe's top-block fine-tuning: the last N blocks of a backbone, its head
//! convolution and a linear classifier, trained over the activations `extract
//! --tune-top N` cached once per image. The frozen prefix never runs again, which
//! is what makes an epoch cost a fraction of the usual fine-tuning epoch.
//!
//! Roles (fit / selection / evaluation), metrics, `history.csv`,
//! `predictions.csv` and `metrics.json` are head-train's ([`head`]), so `report`
//! reads a tune run as one more head kind.

pub mod adamw;
pub mod data;
mod error;
pub mod output;
pub mod train;
pub mod weights;

pub use error::TuneError;
pub use train::{train, Schedule, TuneOptions, TunedRun};

pub type Result<T, E = TuneError> = std::result::Result<T, E>;
