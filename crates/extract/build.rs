//! Link-time fixes for libtorch: see crates/backbone/libtorch_link.rs (shared with crates/tune).
include!("../backbone/libtorch_link.rs");
