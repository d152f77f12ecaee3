//! `floodwatch replay FILE`: a telemetry file's lines written out again, as fast as possible, at a
//! fixed number of lines per second, or with their original pacing sped up. A command source that
//! runs it stands in for `eslogger` or `nettop` on a machine without them (tests, rehearsals on Linux).
//! Compressed files (gzip, zstd) are read through the input layer like everywhere else.

use floodwatch_core::config::Config;
use floodwatch_core::{Error, Result, Ts};
use floodwatch_sources::input::{self, OpenError};
use floodwatch_sources::sniff::HEAD_BYTES;
use floodwatch_sources::{sniff, ClockHints, FileSource, Format, Sniffed, SourceCtx};
use std::collections::VecDeque;
use std::io::{BufRead, ErrorKind, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How fast lines go out.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Pacing {
    /// As fast as the reader takes them.
    Fastest,
    /// This many lines per second.
    Rate(f64),
    /// The gaps between the records' own times, divided by this.
    Original(f64),
}

/// What a replay wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Played {
    pub lines: u64,
    pub bytes: u64,
    /// The reader went away before the end (a closed pipe): not an error.
    pub closed: bool,
}

/// Writes `path`'s lines to `out` at `pacing`. A reader that closes the pipe ends the replay quietly.
pub fn play(path: &Path, pacing: Pacing, out: &mut dyn Write) -> Result<Played> {
    let open = |p: &Path| {
        input::open(p).map_err(|e| match e {
            OpenError::Io(e) => Error::io(format!("opening {}", p.display()), e),
            OpenError::Refused(why) => Error::Input(format!("{}: {why}", p.display())),
        })
    };
    let mut reader = open(path)?.reader;
    let mut times = match pacing {
        Pacing::Original(_) => Some(LineTimes::new(path, open(path)?.reader)?),
        _ => None,
    };
    let mut played = Played::default();
    if pacing == Pacing::Fastest {
        // No line needs its own moment: whole buffers go out as they are read.
        loop {
            let buf = reader
                .fill_buf()
                .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
            if buf.is_empty() {
                break;
            }
            if let Err(e) = out.write_all(buf) {
                return closed_or(e, played);
            }
            let n = buf.len();
            // memchr's counting is vectorized: a byte-by-byte count cost the replay a fifth of
            // its time, on the core it shares with the agent in the benchmark.
            played.lines += memchr::memchr_iter(b'\n', buf).count() as u64;
            played.bytes += n as u64;
            reader.consume(n);
        }
        if let Err(e) = out.flush() {
            return closed_or(e, played);
        }
        return Ok(played);
    }
    let start = Instant::now();
    let mut first_ts: Option<Ts> = None;
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
        if n == 0 {
            break;
        }
        let due = match pacing {
            Pacing::Fastest => None,
            Pacing::Rate(r) => Some(Duration::from_secs_f64(played.lines as f64 / r)),
            Pacing::Original(speedup) => times
                .as_mut()
                .and_then(|t| t.time_of(played.lines + 1))
                .map(|ts| {
                    let t0 = *first_ts.get_or_insert(ts);
                    let ns = ts.0.saturating_sub(t0.0).max(0) as f64 / speedup;
                    Duration::from_nanos(ns as u64)
                }),
        };
        if let Some(due) = due {
            let now = start.elapsed();
            if due > now {
                // What is written is seen before the wait.
                if let Err(e) = out.flush() {
                    return closed_or(e, played);
                }
                std::thread::sleep(due - now);
            }
        }
        if let Err(e) = out.write_all(&line) {
            return closed_or(e, played);
        }
        played.lines += 1;
        played.bytes += n as u64;
    }
    if let Err(e) = out.flush() {
        return closed_or(e, played);
    }
    Ok(played)
}

/// What [`splice_file`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Spliced {
    /// The file's text went into the pipe (or as much as its reader took before it went away).
    Done,
    /// Not for splicing (compressed input, not a pipe, a file system without splice): copy instead.
    Unsuitable,
}

/// Linux, [`Pacing::Fastest`]: a plain file's text moved into the pipe `out` by splice(2), the page
/// cache's pages handed to the pipe without passing through this process. A replay standing in for
/// `eslogger` shares its core with the agent in the benchmark, and reading the file and writing the
/// pipe (two copies) were nearly all of its cost; `eslogger` itself is not charged to the agent on a
/// Mac. The bytes written are the same as [`play`]'s: the file from after its byte order mark.
#[cfg(target_os = "linux")]
pub fn splice_file(path: &Path, out: std::os::fd::BorrowedFd<'_>) -> Result<Spliced> {
    use std::io::Read;
    use std::os::fd::AsRawFd;
    // SAFETY: fstat writes into the zeroed struct it is given, on a descriptor the caller lends.
    let fifo = unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        libc::fstat(out.as_raw_fd(), &mut st) == 0 && st.st_mode & libc::S_IFMT == libc::S_IFIFO
    };
    if !fifo {
        return Ok(Spliced::Unsuitable);
    }
    let opening = || format!("opening {}", path.display());
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(opening(), e))?;
    let mut head = Vec::with_capacity(16);
    (&mut file)
        .take(16)
        .read_to_end(&mut head)
        .map_err(|e| Error::io(opening(), e))?;
    if input::encoding(&head) != Ok(input::Encoding::Plain) {
        return Ok(Spliced::Unsuitable);
    }
    let mut offset: libc::loff_t = if head.starts_with(input::BOM) {
        input::BOM.len() as libc::loff_t
    } else {
        0
    };
    let mut sent = false;
    loop {
        // SAFETY: both descriptors are open for the call; the offset is ours and splice updates it.
        let n = unsafe {
            libc::splice(
                file.as_raw_fd(),
                &mut offset,
                out.as_raw_fd(),
                std::ptr::null_mut(),
                1 << 20,
                libc::SPLICE_F_MOVE | libc::SPLICE_F_MORE,
            )
        };
        if n > 0 {
            sent = true;
            continue;
        }
        if n == 0 {
            return Ok(Spliced::Done);
        }
        let e = std::io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::EPIPE) => return Ok(Spliced::Done),
            // Nothing went out yet: the caller's copy takes over from the start.
            Some(libc::EINVAL | libc::ENOSYS) if !sent => return Ok(Spliced::Unsuitable),
            _ => return Err(Error::io("writing the replay", e)),
        }
    }
}

fn closed_or(e: std::io::Error, mut played: Played) -> Result<Played> {
    if e.kind() == ErrorKind::BrokenPipe {
        played.closed = true;
        return Ok(played);
    }
    Err(Error::io("writing the replay", e))
}

/// The event time of each line, from a parser reading the same file alongside the writer: a line
/// without an event of its own (a header, a skipped record) takes the time of the line before.
struct LineTimes {
    src: FileSource<Box<dyn BufRead + Send>>,
    /// (line, time) read ahead of the writer.
    ahead: VecDeque<(u64, Ts)>,
    last: Option<Ts>,
    done: bool,
    scratch: Vec<floodwatch_core::event::Event>,
}

impl LineTimes {
    fn new(path: &Path, reader: Box<dyn BufRead + Send>) -> Result<LineTimes> {
        let (head, _) = input::read_head(path, HEAD_BYTES)
            .map_err(|e| Error::Input(format!("{}: {e}", path.display())))?;
        let format: Format = match sniff(&head) {
            Sniffed::Telemetry(f) => f,
            Sniffed::NotTelemetry(why) => {
                return Err(Error::Input(format!(
                    "{}: --pace needs the records' times, and this is not telemetry floodwatch reads: {why}",
                    path.display()
                )))
            }
        };
        let cfg = Config::default();
        let ctx = SourceCtx {
            file_id: 0,
            path: Arc::from(path.display().to_string()),
            host: Arc::from("replay"),
            host_forced: true,
            clock: ClockHints::default(),
            input: cfg.input.clone(),
        };
        Ok(LineTimes {
            src: FileSource::new(reader, format, ctx),
            ahead: VecDeque::new(),
            last: None,
            done: false,
            scratch: Vec::new(),
        })
    }

    /// The time of line `n` (1-based), reading ahead as far as needed.
    fn time_of(&mut self, n: u64) -> Option<Ts> {
        while !self.done && self.ahead.back().is_none_or(|(l, _)| *l < n) {
            self.scratch.clear();
            match self.src.next_events(&mut self.scratch) {
                Ok(more) => self.done = !more,
                Err(_) => self.done = true,
            }
            for ev in &self.scratch {
                match self.ahead.back_mut() {
                    Some((l, t)) if *l == ev.origin.line => *t = (*t).min(ev.ts),
                    _ => self.ahead.push_back((ev.origin.line, ev.ts)),
                }
            }
        }
        while let Some(&(l, t)) = self.ahead.front() {
            if l > n {
                break;
            }
            self.last = Some(self.last.map_or(t, |x| x.max(t)));
            self.ahead.pop_front();
        }
        self.last
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ES: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/collection/build-mac-07/eslogger.jsonl"
    );

    #[test]
    fn a_replay_writes_every_line_as_it_is() {
        let mut out = Vec::new();
        let p = play(Path::new(ES), Pacing::Fastest, &mut out).unwrap();
        assert_eq!(out, std::fs::read(ES).unwrap());
        assert_eq!(p.lines, 919);
        assert!(!p.closed);
    }

    #[test]
    fn a_rate_paces_the_lines() {
        let mut out = Vec::new();
        let t = Instant::now();
        let p = play(Path::new(ES), Pacing::Rate(2000.0), &mut out).unwrap();
        // 919 lines at 2,000 a second: the last one is due at 0.459 s.
        assert!(
            t.elapsed() >= Duration::from_millis(450),
            "{:?}",
            t.elapsed()
        );
        assert_eq!(p.lines, 919);
        assert_eq!(out, std::fs::read(ES).unwrap());
    }

    #[test]
    fn original_pacing_follows_the_records_times() {
        let dir = tempfile::tempdir().unwrap();
        let es = std::fs::read_to_string(ES).unwrap();
        let lines: Vec<&str> = es.lines().collect();
        // The file's first line and one 0.6 s later (at 2x: 0.3 s).
        let first: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
        let t0 = first["time"].as_str().unwrap().to_string();
        let later = lines
            .iter()
            .position(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                let t = v["time"].as_str().unwrap();
                floodwatch_core::time::parse_rfc3339(t).unwrap().0
                    - floodwatch_core::time::parse_rfc3339(&t0).unwrap().0
                    >= 600_000_000
            })
            .unwrap();
        let p = dir.path().join("two.jsonl");
        std::fs::write(&p, format!("{}\n{}\n", lines[0], lines[later])).unwrap();
        let t = Instant::now();
        let mut out = Vec::new();
        play(&p, Pacing::Original(2.0), &mut out).unwrap();
        assert!(
            t.elapsed() >= Duration::from_millis(290),
            "{:?}",
            t.elapsed()
        );
        assert_eq!(out.iter().filter(|b| **b == b'\n').count(), 2);
    }

    #[test]
    fn a_closed_reader_ends_it_quietly() {
        struct Closed;
        impl Write for Closed {
            fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
                Err(std::io::Error::from(ErrorKind::BrokenPipe))
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let p = play(Path::new(ES), Pacing::Fastest, &mut Closed).unwrap();
        assert!(p.closed);
        assert_eq!(p.lines, 0);
    }
}
