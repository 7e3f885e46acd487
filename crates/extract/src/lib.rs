//! effprobe stage 1: turn a folder of images into feature files by running each
//! frozen backbone once per image.
//!
//! Finding images, labels and splits is the `dataset` crate's (no libtorch);
//! `runtime` reports what libtorch can see.

pub mod extractor;
pub mod hub_cache;
pub mod model;
pub mod pipeline;
pub mod predict;
pub mod preprocess;
pub mod runtime;
pub mod weights_spec;
