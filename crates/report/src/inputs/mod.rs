//! What the report reads: the head-train runs (`metrics.json`, `history.csv`,
//! `head.safetensors` metadata) and, optionally, the feature folder's metadata
//! (each feature file's footer and the extract run record `run.json`).

mod extract_record;
mod features;
mod head_file;
mod history;
mod metrics;
mod run;

pub use extract_record::{ExtractRecord, VariantRecord, EXTRACT_RECORD_FILE};
pub use features::{FeatureIndex, FeatureInfo, EXTRA_BACKBONE_PARAMETERS, EXTRA_WEIGHTS_BYTES};
pub use head_file::HeadFileMeta;
pub use history::HistoryRow;
pub use metrics::{Metrics, SplitMetrics};
pub use run::{find_runs, HeadRun};
