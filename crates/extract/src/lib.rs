//! effprobe stage 1: turn a folder of images into feature files by running each
//! frozen backbone once per image.
//!
//! Finding images, labels and splits is the `dataset` crate's (no libtorch);
//! the networks, their weights and recipes are the `backbone` crate's. This
//! crate owns the pipeline between them: decode once, resize per recipe, batch,
//! cache, resume, shards; and `predict` / `export` over a trained head.

pub mod pipeline;
pub mod predict;
pub mod preprocess;
