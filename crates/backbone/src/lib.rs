//! Frozen image backbones on libtorch, and everything about their weights: the
//! native EfficientNet B0..B7 / Lite0..Lite4 ([`efficientnet`]), modules
//! exported from timm as TorchScript ([`torchscript`]), weights files and their
//! identity, the local Hugging Face cache ([`hub_cache`]) and fetching into it
//! ([`hub_download`]), which weights a run uses when none are named
//! ([`weights_lookup`]), preprocessing recipes ([`recipe`]), devices and
//! precisions ([`device`]) and what libtorch sees ([`runtime`]).
//!
//! Two faces: [`FeatureNet`], tensors in and pooled features out, which each
//! family implements; and [`Backbone`], the pipeline's bytes-in view, which
//! [`Extractor`] gives any `FeatureNet` with its recipe. Decoding and resizing
//! images is the pipeline's (extract), not this crate's: it links no image code.

mod backbone;
pub mod bench;
pub mod device;
pub mod efficientnet;
mod error;
mod extractor;
pub mod hub_cache;
pub mod hub_download;
mod id;
mod net;
pub mod recipe;
pub mod runtime;
pub mod spec;
pub mod torchscript;
pub mod weights_lookup;

pub use backbone::{Backbone, BackboneError};
pub use device::{DeviceRequest, MemoryLayout, Placement, Precision};
pub use error::ModelError;
pub use extractor::Extractor;
pub use id::{BadModelId, ModelId};
pub use net::FeatureNet;
pub use spec::{
    prepare, prepare_native, BackboneChoice, BuildOptions, Prepared, RunSettings, Weights,
    WeightsLocation, WeightsSpec, WeightsSpecError,
};
