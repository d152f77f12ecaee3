//! `floodwatch replay FILE [--rate N | --pace X]`: a file's lines to stdout, paced.

use crate::cli::ReplayArgs;
use floodwatch_core::Result;
use floodwatch_runtime::playback::{play, Pacing};
#[cfg(target_os = "linux")]
use floodwatch_runtime::playback::{splice_file, Spliced};
use std::process::ExitCode;

pub fn run(a: ReplayArgs) -> Result<ExitCode> {
    // A reader that goes away (the agent stopping, `| head`) ends the replay with exit 0: the write
    // error is seen instead of the process dying of SIGPIPE.
    #[cfg(unix)]
    // SAFETY: setting a signal's disposition has no precondition; no other thread exists yet.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
    let pacing = match (a.rate, a.pace) {
        (Some(r), _) => Pacing::Rate(r),
        (None, Some(x)) => Pacing::Original(x),
        (None, None) => Pacing::Fastest,
    };
    #[cfg(target_os = "linux")]
    if pacing == Pacing::Fastest {
        use std::os::fd::AsFd;
        let stdout = std::io::stdout();
        if let Spliced::Done = splice_file(&a.file, stdout.as_fd())? {
            return Ok(ExitCode::SUCCESS);
        }
    }
    let mut out = std::io::BufWriter::with_capacity(256 * 1024, std::io::stdout().lock());
    play(&a.file, pacing, &mut out)?;
    Ok(ExitCode::SUCCESS)
}
