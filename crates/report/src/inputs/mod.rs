//! What the report reads: the head-train and tune-train runs (the same records:
//! `metrics.json`, `history.csv`, `head.safetensors` metadata) and, optionally,
//! the feature folder's metadata (each feature file's footer and the extract run
//! record `run.json`).

//! Every one of these files is defined, written and read by the contract crate;
//! this module only finds them.

mod features;
mod head_file;
mod run;

pub use contract::history::HistoryRow;
pub use contract::metrics::{HeadMetrics, SplitMetrics};
pub use contract::run_record::{RunRecord, VariantRecord, RUN_RECORD_FILE};
pub use features::{FeatureIndex, FeatureInfo};
pub use head_file::HeadFileMeta;
pub use run::{find_runs, HeadRun};
