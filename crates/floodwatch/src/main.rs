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
    no_transparent_huge_pages();
    let cli = cli::Cli::parse();
    match commands::run(cli.cmd) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("floodwatch: error: {e}");
            ExitCode::from(2)
        }
    }
}

/// No transparent huge pages for this process. mimalloc's `no_thp` feature (Cargo.toml) stops it
/// asking for them, which is enough where the kernel gives them only on request (`madvise`, Debian's
/// default); where it gives them to every large mapping (`always`), only this switch stops it. A
/// fresh 2 MB page is zeroed whole however little of it is used: with them, a two-thread hunt beside
/// other memory-hungry programs was 4-7% slower and held twice the memory (README, Speed).
fn no_transparent_huge_pages() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_THP_DISABLE takes plain integers and changes only whether this process's pages
    // (and those of the commands it starts, which inherit the setting) may be huge. A kernel
    // without it returns an error, which leaves the process as it was. The arguments are passed as
    // the unsigned longs the kernel reads (it refuses nonzero unused ones).
    unsafe {
        let (on, unused): (libc::c_ulong, libc::c_ulong) = (1, 0);
        libc::prctl(libc::PR_SET_THP_DISABLE, on, unused, unused, unused);
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
