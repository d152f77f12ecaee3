//! floodwatch: finds outbound network floods launched from macOS endpoints (MITRE ATT&CK AN0971).
//! This file only parses arguments and dispatches: every flag is in `cli`, every command in
//! `commands`, and the work in the library crates (runtime, analysis, store, ...).

mod cli;
mod commands;

use clap::Parser;
use std::process::ExitCode;

/// Events are allocated per record and often freed on another thread (agent, hunt's host threads):
/// mimalloc's thread-local free lists make both cheaper than glibc's arenas (see README, Speed).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    quiet_on_closed_pipe();
    let cli = cli::Cli::parse();
    match commands::run(cli.cmd) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("floodwatch: error: {e}");
            ExitCode::from(2)
        }
    }
}

/// Rust ignores SIGPIPE, so `floodwatch hunt ... | head` would panic in the first print after `head`
/// exits. With the default action restored, a closed pipe ends the program quietly, as Unix tools do.
fn quiet_on_closed_pipe() {
    #[cfg(unix)]
    // SAFETY: called first in main, before any thread exists; setting a signal's disposition to its
    // default has no other precondition.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
