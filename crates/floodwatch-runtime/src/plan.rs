//! The first stages of a run: discover files, sniff each from its head, and anchor dateless sources
//! (nettop) on the evidence nearest each file. What comes out is a plan: every telemetry file with its id,
//! host and format, ready to be replayed.

use crate::hunt::HuntOptions;
use crate::setup::map_on_threads;
use floodwatch_core::config::Config;
use floodwatch_core::event::Event;
use floodwatch_core::{Error, Result, Ts};
use floodwatch_sinks::summary::SkippedFile;
use floodwatch_sources::input::{self, Damage, Decoded, Encoding, OpenError};
use floodwatch_sources::sniff::HEAD_BYTES;
use floodwatch_sources::{
    date_in_path, discover_inputs, sniff, ClockHints, FileSource, Format, InputFile, Sniffed,
    SourceCtx,
};
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, Cursor, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// One file ready to read.
#[derive(Clone, Debug)]
pub(crate) struct Planned {
    pub(crate) id: u32,
    pub(crate) file: InputFile,
    pub(crate) format: Format,
    pub(crate) mtime: Option<Ts>,
    pub(crate) encoding: Encoding,
    /// A stream (FIFO, `/dev/fd/N`) is opened once, here: its head and the open rest wait for replay.
    pub(crate) stream: Option<Arc<Stream>>,
}

impl Planned {
    /// Can be reopened at an offset (segments) and read from its end (the tail probe): a plain
    /// regular file, not compressed data or a stream.
    pub(crate) fn seekable(&self) -> bool {
        self.stream.is_none() && self.encoding.seekable()
    }
}

/// A non-regular input, read once: the head that was sniffed, then the rest, never reopened.
pub(crate) struct Stream {
    head: Vec<u8>,
    rest: Mutex<Option<Box<dyn BufRead + Send>>>,
    damage: Damage,
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Stream {{ head: {} bytes }}", self.head.len())
    }
}

/// A file's (decoded) head, its encoding, and for a stream the stream itself.
fn open_head(f: &InputFile) -> std::result::Result<(Vec<u8>, Encoding, Option<Stream>), OpenError> {
    if !f.stream {
        let (head, enc) = input::read_head(&f.path, HEAD_BYTES)?;
        return Ok((head, enc, None));
    }
    let mut d = input::open(&f.path)?;
    let head = d.read_head(HEAD_BYTES)?;
    let stream = Stream {
        head: head.clone(),
        rest: Mutex::new(Some(d.reader)),
        damage: d.damage,
    };
    Ok((head, d.encoding, Some(stream)))
}

/// A file's head as sniffing saw it: a stream's kept head, or the file's read again.
fn read_head(p: &Planned) -> Option<Vec<u8>> {
    match &p.stream {
        Some(s) => Some(s.head.clone()),
        None => input::read_head(&p.file.path, HEAD_BYTES)
            .ok()
            .map(|(h, _)| h),
    }
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
    let Some(head) = read_head(p) else {
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

/// The latest event time in a dated line-format file's last 64 KiB (None for JSON arrays, and for
/// compressed data and streams, whose end cannot be reached without reading all of them).
fn probe_tail(p: &Planned, cfg: &Config) -> Option<Ts> {
    if p.format == Format::UnifiedLogJson || !p.seekable() {
        return None;
    }
    const TAIL: u64 = 64 * 1024;
    let mut f = File::open(&p.file.path).ok()?;
    let len = f.metadata().ok()?.len();
    let start = len.saturating_sub(TAIL);
    let tail = if start == 0 {
        // The whole file: read through the input layer, which drops a byte order mark.
        input::read_head(&p.file.path, TAIL as usize).ok()?.0
    } else {
        f.seek(SeekFrom::Start(start)).ok()?;
        let mut tail = Vec::new();
        f.take(TAIL).read_to_end(&mut tail).ok()?;
        tail
    };
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

/// Discovers and sniffs inputs; returns the plan, and the files that are not read (not telemetry,
/// unreadable, refused, or skipped by discovery) with the reason.
pub(crate) fn plan(opts: &HuntOptions) -> Result<(Vec<Planned>, Vec<SkippedFile>)> {
    let found = discover_inputs(&opts.paths, opts.host.as_deref())?;
    let mut planned = Vec::new();
    let mut skipped: Vec<SkippedFile> = found
        .skipped
        .into_iter()
        .map(|s| SkippedFile {
            path: s.path.display().to_string(),
            reason: s.reason,
        })
        .collect();
    let sniffed = sniff_all(&found.files, opts.threads);
    for (f, r) in found.files.into_iter().zip(sniffed) {
        match r {
            Err(e) => skipped.push(SkippedFile {
                path: f.path.display().to_string(),
                reason: e.to_string(),
            }),
            Ok((sniffed, encoding, stream)) => match sniffed {
                Sniffed::Telemetry(format) => planned.push(Planned {
                    id: planned.len() as u32,
                    // A pipe's time says nothing about the data it carries.
                    mtime: if f.stream { None } else { mtime(&f.path) },
                    file: f,
                    format,
                    encoding,
                    stream: stream.map(Arc::new),
                }),
                Sniffed::NotTelemetry(reason) => skipped.push(SkippedFile {
                    path: f.path.display().to_string(),
                    reason: match encoding {
                        Encoding::Plain => reason,
                        e => format!("{reason} ({}-compressed)", e.name()),
                    },
                }),
            },
        }
    }
    Ok((planned, skipped))
}

/// A found file's verdict, its encoding and (a stream) what was read of it.
type SniffResult = std::result::Result<(Sniffed, Encoding, Option<Stream>), OpenError>;

/// Every found file's head read and sniffed, in the files' order, on up to `threads` threads:
/// sniffing parses each line of a 256 KiB head, which for a collection of many files was a serial
/// start a fifth as long as a two-thread hunt. Only the verdicts are kept, not the heads.
fn sniff_all(files: &[InputFile], threads: usize) -> Vec<SniffResult> {
    map_on_threads(files, threads, |f| {
        open_head(f).map(|(head, enc, stream)| (sniff(&head), enc, stream))
    })
}

/// What the dated files of one folder say about time: their earliest and latest events, the UTC
/// offset a unified log among them tells, and their names (for the summary).
#[derive(Default)]
struct FolderTimes {
    first: Option<Ts>,
    last: Option<Ts>,
    offset: Option<i32>,
    names: Vec<String>,
}

/// Clock hints for a host's files. Each dateless file (nettop) is anchored on the evidence nearest to
/// it: the dated files in its own folder, else a date in its name or a folder above it, else its
/// modification time, else `--date` (see `ClockHints`). Never on the host's other folders: in a
/// collection kept one folder per day, a host's nettop files of different days would otherwise all
/// land on the earliest day. The UTC offset is the same folder's unified log's, else the host's.
pub(crate) fn anchor<'a>(
    files: &[Planned],
    cfg: &Config,
    opts: &'a HuntOptions,
) -> impl Fn(&Planned) -> ClockHints + 'a {
    let mut folders: HashMap<PathBuf, FolderTimes> = HashMap::new();
    let mut host_offset: Option<i32> = None;
    for p in files.iter().filter(|p| p.format.is_dated()) {
        let (t, o) = probe(p, cfg);
        let end = probe_tail(p, cfg).max(t);
        let dir = p
            .file
            .path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let f = folders.entry(dir).or_default();
        f.first = match (f.first, t) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        f.last = f.last.max(end);
        f.offset = f.offset.or(o);
        host_offset = host_offset.or(o);
        if t.is_some() {
            f.names.push(
                p.file
                    .path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            );
        }
    }
    move |p: &Planned| {
        let dir = p.file.path.parent().unwrap_or(Path::new(""));
        let near = folders.get(dir).filter(|f| f.first.is_some());
        ClockHints {
            reference: near.and_then(|f| f.first),
            reference_end: near.and_then(|f| f.last),
            reference_from: near
                .map(|f| format!("dated sources in the same folder ({})", f.names.join(", "))),
            path_date: date_in_path(&p.file.path),
            utc_offset: folders.get(dir).and_then(|f| f.offset).or(host_offset),
            file_mtime: p.mtime,
            forced_date: opts.date,
        }
    }
}

/// Opens a planned file at `offset` of its decoded text: a stream hands over what it holds (once;
/// it cannot be seeked), a file is reopened through the input layer.
pub(crate) fn open_at(p: &Planned, offset: u64) -> Result<Decoded> {
    let path = || p.file.path.display();
    if let Some(s) = &p.stream {
        let rest = match s.rest.lock() {
            Ok(mut g) if offset == 0 => g.take(),
            _ => None,
        };
        let rest = rest.ok_or_else(|| {
            Error::Input(format!(
                "{} is a stream: it is read once, from its start",
                path()
            ))
        })?;
        return Ok(Decoded {
            reader: Box::new(Cursor::new(s.head.clone()).chain(rest)),
            encoding: p.encoding,
            damage: s.damage.clone(),
        });
    }
    input::open_at(&p.file.path, offset).map_err(|e| match e {
        OpenError::Io(e) => Error::io(format!("opening {}", path()), e),
        OpenError::Refused(why) => Error::Input(format!("{}: {why}", path())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sniffing on several threads gives each file the verdict one thread gives it, in order.
    #[test]
    fn sniffing_in_parallel_keeps_each_files_verdict_and_order() {
        let root = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
        let found = discover_inputs(
            &[
                root.join("examples/collection"),
                root.join("tests/data/corpus"),
            ],
            None,
        )
        .unwrap();
        let mut files = found.files;
        // Not telemetry, and a file that cannot be opened, among them.
        files.push(InputFile {
            host: "x".into(),
            path: root.join("README.md"),
            stream: false,
        });
        files.insert(
            3,
            InputFile {
                host: "x".into(),
                path: root.join("no/such/file.jsonl"),
                stream: false,
            },
        );
        assert!(files.len() > 10);
        let show = |r: &SniffResult| match r {
            Ok((s, e, _)) => format!("{s:?} {e:?}"),
            Err(e) => format!("error {e}"),
        };
        let one: Vec<String> = sniff_all(&files, 1).iter().map(show).collect();
        assert!(one[3].starts_with("error"), "{}", one[3]);
        assert!(one.last().unwrap().starts_with("NotTelemetry"));
        assert!(one.iter().filter(|v| v.starts_with("Telemetry")).count() > 8);
        for threads in [2, 3, 64] {
            let many: Vec<String> = sniff_all(&files, threads).iter().map(show).collect();
            assert_eq!(many, one, "{threads} threads");
        }
    }
}
