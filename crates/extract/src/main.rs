//! `extract`: argument parsing only; the work lives in the `extract` library.

mod cli;

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

/// 2 for a command line that names nothing usable (as clap's own errors), 1 for
/// data or work that failed.
fn exit_code(error: &anyhow::Error) -> std::process::ExitCode {
    let usage = error.chain().any(|cause| {
        cause
            .downcast_ref::<dataset::DatasetError>()
            .is_some_and(|e| e.is_usage())
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
