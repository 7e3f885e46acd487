//! `extract`: argument parsing only; the work lives in the `extract` library.

mod cli;

// jemalloc serves every allocation of the process, libtorch's included (the
// crate's `override_allocator` defines malloc itself), and keeps freed pages for
// reuse (no decay). Each forward pass allocates and frees its activations (tens of
// MB a batch); glibc's malloc served those with fresh mmaps and returned them, so
// every batch faulted its pages in again: 37% of extract's CPU time was kernel
// time on 2 cores (5,500 minor faults per image, Lite0, batch 32). The same
// setting Intel's PyTorch CPU guides recommend (bench/memory.sh measures it).
use tikv_jemalloc_sys as _;
#[export_name = "malloc_conf"]
pub static MALLOC_CONF: &[u8; 36] = b"dirty_decay_ms:-1,muzzy_decay_ms:-1\0";

use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = cli::Cli::parse();
    cli::init_logging();
    match cli::run(args) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {}", describe(&error));
            exit_code(&error)
        }
    }
}

/// 2 for a command line that names nothing usable (as clap's own errors; a
/// `--shard auto` the environment cannot answer), 1 for data or work that failed.
fn exit_code(error: &anyhow::Error) -> std::process::ExitCode {
    let usage = error.chain().any(|cause| {
        cause
            .downcast_ref::<dataset::DatasetError>()
            .is_some_and(|e| e.is_usage())
            || cause.is::<extract::pipeline::ShardError>()
    });
    std::process::ExitCode::from(if usage { 2 } else { 1 })
}

/// The error and its causes on one line, leaving out a cause its parent's message
/// already quotes (library errors say `PATH: REASON` and also expose REASON as source).
fn describe(error: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in error.chain() {
        let cause = cause.to_string();
        if text.contains(&cause) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&cause);
    }
    text
}
