//! The same link-time fixes for libtorch as extract's (rpath, libtorch_cuda kept).
include!("../backbone/libtorch_link.rs");
