//! The cached features as head-train and tune-train train on them: every row of
//! one or more feature files loaded once into one matrix (f32, or f16/bf16 to
//! halve memory traffic) with its labels, splits and key ranks, and the plan of
//! which rows fit, which select and which evaluate. Below both trainers, so
//! neither stage depends on the other. Pure Rust, no libtorch.

mod error;
pub mod load;
pub mod matrix;
pub mod roles;

pub use error::{FeatureMatrixError, Result};
pub use load::{load_features, load_features_with, LoadedFeatures};
pub use matrix::{Element, Matrix, Storage};
pub use roles::RolePlan;
