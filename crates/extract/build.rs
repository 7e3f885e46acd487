//! Link-time fixes for libtorch: see libtorch_link.rs (shared with crates/tune).
include!("libtorch_link.rs");
