//! effprobe stage 1: turn a folder of images into feature files by running each
//! frozen backbone once per image.
//!
//! `scan` and `split` are pure Rust and need no libtorch at run time; `runtime`
//! reports what libtorch can see.

pub mod extractor;
pub mod hub_cache;
pub mod model;
pub mod pipeline;
pub mod predict;
pub mod preprocess;
pub mod runtime;
pub mod scan;
pub mod scan_json;
pub mod split;
pub mod splits_file;
pub mod weights_spec;
