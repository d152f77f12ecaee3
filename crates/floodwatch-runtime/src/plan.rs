//! The first stages of a run: discover files, sniff each from its head, and anchor dateless sources
//! (nettop) on the same host's dated ones. What comes out is a plan: every telemetry file with its id,
//! host and format, ready to be replayed.

use crate::hunt::HuntOptions;
use floodwatch_core::config::Config;
use floodwatch_core::event::Event;
use floodwatch_core::{Error, Result, Ts};
use floodwatch_sinks::summary::SkippedFile;
use floodwatch_sources::sniff::HEAD_BYTES;
use floodwatch_sources::{
    discover, sniff, ClockHints, FileSource, Format, InputFile, Sniffed, SourceCtx,
};
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::Arc;

/// One file ready to read.
#[derive(Clone, Debug)]
pub(crate) struct Planned {
    pub(crate) id: u32,
    pub(crate) file: InputFile,
    pub(crate) format: Format,
    pub(crate) mtime: Option<Ts>,
}

fn read_head(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut f = File::open(path)?;
    let mut head = Vec::with_capacity(HEAD_BYTES.min(64 * 1024));
    f.by_ref().take(HEAD_BYTES as u64).read_to_end(&mut head)?;
    Ok(head)
}

fn mtime(path: &Path) -> Option<Ts> {
    let m = std::fs::metadata(path).ok()?.modified().ok()?;
    let d = m.duration_since(std::time::UNIX_EPOCH).ok()?;
    Some(Ts(d.as_nanos() as i64))
}

pub(crate) fn ctx_for(
    p: &Planned,
    cfg: &Config,
    clock: ClockHints,
    host_forced: bool,
) -> SourceCtx {
    SourceCtx {
        file_id: p.id,
        path: Arc::from(p.file.path.display().to_string()),
        host: Arc::from(p.file.host.as_str()),
        host_forced,
        clock,
        input: cfg.input.clone(),
    }
}

/// Reads the first events of a dated file's head: its earliest time and (unified log) its UTC offset.
fn probe(p: &Planned, cfg: &Config) -> (Option<Ts>, Option<i32>) {
    let Ok(head) = read_head(&p.file.path) else {
        return (None, None);
    };
    let mut src = FileSource::new(
        &head[..],
        p.format,
        ctx_for(p, cfg, ClockHints::default(), false),
    );
    let mut out: Vec<Event> = Vec::new();
    for _ in 0..64 {
        match src.next_events(&mut out) {
            Ok(true) if out.len() < 16 => continue,
            _ => break,
        }
    }
    (out.iter().map(|e| e.ts).min(), src.utc_offset())
}

/// The latest event time in a dated line-format file's last 64 KiB (None for JSON arrays).
fn probe_tail(p: &Planned, cfg: &Config) -> Option<Ts> {
    if p.format == Format::UnifiedLogJson {
        return None;
    }
    const TAIL: u64 = 64 * 1024;
    let mut f = File::open(&p.file.path).ok()?;
    let len = f.metadata().ok()?.len();
    let start = len.saturating_sub(TAIL);
    f.seek(SeekFrom::Start(start)).ok()?;
    let mut tail = Vec::new();
    f.take(TAIL).read_to_end(&mut tail).ok()?;
    // Start at a line boundary unless the tail is the whole file.
    let from = if start == 0 {
        0
    } else {
        tail.iter().position(|b| *b == b'\n')? + 1
    };
    let mut src = FileSource::new(
        &tail[from..],
        p.format,
        ctx_for(p, cfg, ClockHints::default(), false),
    );
    let mut out: Vec<Event> = Vec::new();
    let mut latest: Option<Ts> = None;
    while let Ok(more) = src.next_events(&mut out) {
        latest = out.iter().map(|e| e.ts).chain(latest).max();
        out.clear();
        if !more {
            break;
        }
    }
    latest
}

/// Discovers and sniffs inputs; returns the plan, the files that are not telemetry, and the file-name table.
pub(crate) fn plan(opts: &HuntOptions) -> Result<(Vec<Planned>, Vec<SkippedFile>)> {
    let files = discover(&opts.paths, opts.host.as_deref())?;
    let mut planned = Vec::new();
    let mut skipped = Vec::new();
    for f in files {
        match read_head(&f.path) {
            Err(e) => skipped.push(SkippedFile {
                path: f.path.display().to_string(),
                reason: format!("cannot read: {e}"),
            }),
            Ok(head) => match sniff(&head) {
                Sniffed::Telemetry(format) => planned.push(Planned {
                    id: planned.len() as u32,
                    mtime: mtime(&f.path),
                    file: f,
                    format,
                }),
                Sniffed::NotTelemetry(reason) => skipped.push(SkippedFile {
                    path: f.path.display().to_string(),
                    reason,
                }),
            },
        }
    }
    Ok((planned, skipped))
}

/// Clock hints for a host's files: dateless sources (nettop) are anchored on the host's dated ones.
pub(crate) fn anchor<'a>(
    files: &[Planned],
    cfg: &Config,
    opts: &'a HuntOptions,
) -> impl Fn(&Planned) -> ClockHints + 'a {
    let mut reference: Option<Ts> = None;
    let mut reference_end: Option<Ts> = None;
    let mut offset: Option<i32> = None;
    for p in files.iter().filter(|p| p.format.is_dated()) {
        let (t, o) = probe(p, cfg);
        if let Some(t) = t {
            reference = Some(reference.map_or(t, |r: Ts| r.min(t)));
        }
        reference_end = reference_end.max(probe_tail(p, cfg));
        offset = offset.or(o);
    }
    move |p: &Planned| ClockHints {
        reference,
        reference_end,
        utc_offset: offset,
        file_mtime: p.mtime,
        forced_date: opts.date,
    }
}

pub(crate) fn open_file(p: &Planned) -> Result<BufReader<File>> {
    let f = File::open(&p.file.path)
        .map_err(|e| Error::io(format!("opening {}", p.file.path.display()), e))?;
    Ok(BufReader::with_capacity(256 * 1024, f))
}
