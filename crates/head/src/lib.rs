//! effprobe stage 2: logistic (two classes) and softmax (K classes) heads over
//! cached backbone features, in pure Rust. Features are loaded once into one
//! contiguous matrix (crate `feature_matrix`, shared with tune-train); heads are fitted by mini-batch Adam (the seed's recipe) or a
//! full-batch L-BFGS (the exact optimum), alone or as a grid, selected on a
//! selection split and scored once on the evaluation split (by the `metrics`
//! crate, the code tune-train and the report score with). Same inputs and seed
//! give bit-identical results whatever the thread count.

mod error;
pub mod kernels;
pub mod model;
mod multinomial;
pub mod objective;
pub mod optim;
pub mod output;
pub mod standardize;
mod tile_kernels;
pub mod train;

pub use error::{HeadError, Result};
pub use feature_matrix::Storage;
/// The seeded generator of shuffles and initial weights (shared with the report's bootstrap).
pub use metrics::rng;
pub use output::SavedHead;
pub use train::{
    train, train_loaded, train_with, ClassWeight, Optimizer, SweepGrid, ThresholdRule,
    TrainOptions, TrainedRun,
};
