//! The agent's sources, each on its own thread: it reads a command's stdout or a file, decodes,
//! sniffs and parses it, and hands the events to the engine thread in batches. A followed file has
//! a producer thread of its own, which watches the path for growth and rotation and moves raw bytes
//! into chunks. Before it would wait for more bytes, the source thread sends what it holds, so a
//! quiet source never sits on events.

use crate::watch::sniff_decoded;
use floodwatch_core::event::Event;
use floodwatch_core::{Error, Result};
use floodwatch_sources::input::Damage;
use floodwatch_sources::{FileSource, FileStats, Format, SourceCtx};
use std::cell::RefCell;
use std::fs::File;
use std::io::{BufRead, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TryRecvError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Events per batch handed to the engine thread.
pub(crate) const BATCH: usize = 1024;
/// Batches a source may have waiting for the engine before it waits itself (its memory bound).
pub(crate) const QUEUE: usize = 8;
/// Raw bytes per chunk, and chunks in flight per source.
const CHUNK: usize = 256 * 1024;
const CHUNKS: usize = 4;
/// How often a followed file is looked at when nothing new was read.
const FOLLOW_POLL: Duration = Duration::from_millis(100);

/// What feeds a source.
#[derive(Clone, Debug)]
pub(crate) enum Origin {
    Command(Vec<String>),
    File { path: PathBuf, follow: bool },
}

/// A source as the agent runs it.
#[derive(Clone, Debug)]
pub(crate) struct Spec {
    pub(crate) label: String,
    pub(crate) origin: Origin,
    pub(crate) format: Option<Format>,
    pub(crate) ctx: SourceCtx,
    /// Run until the input ends once (no restarts; a followed file is read to its current end).
    pub(crate) once: bool,
    pub(crate) restart_delay: Duration,
    pub(crate) restart_delay_max: Duration,
    /// A followed file's place in the last checkpoint: when the same file (device, inode) is at the
    /// path, its first `lines` lines were judged already and are skipped.
    pub(crate) resume: Option<Resume>,
}

/// See [`Spec::resume`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct Resume {
    pub(crate) file: (u64, u64),
    pub(crate) lines: u64,
}

/// What a source's threads and the engine thread share.
pub(crate) struct Shared {
    /// Counts of every run so far, for the summary.
    pub(crate) stats: Mutex<FileStats>,
    /// The format of the latest run (sniffed or given).
    pub(crate) format: Mutex<Option<Format>>,
    pub(crate) restarts: AtomicU64,
    pub(crate) rotations: AtomicU64,
    pub(crate) truncations: AtomicU64,
    /// The running child of a command source (so the agent can end it when it stops).
    pub(crate) child: Mutex<Option<Child>>,
    /// Problems met (a command that cannot start, input that is not telemetry), for the summary.
    pub(crate) problems: Mutex<Vec<String>>,
    /// A followed file: each file read so far (device, inode) with the stream lines sent before it,
    /// oldest first (what a checkpoint's line count is counted in).
    pub(crate) files: Mutex<Vec<(u64, (u64, u64))>>,
    /// Lines skipped on a resume (they were judged before the restart).
    pub(crate) resumed_lines: AtomicU64,
    /// Restart times (for crash-loop findings), most recent last, a bounded number.
    pub(crate) restart_times: Mutex<std::collections::VecDeque<Instant>>,
}

impl Shared {
    pub(crate) fn new(label: &str) -> Shared {
        Shared {
            stats: Mutex::new(FileStats::new(label.to_string(), "unknown")),
            format: Mutex::new(None),
            restarts: AtomicU64::new(0),
            rotations: AtomicU64::new(0),
            truncations: AtomicU64::new(0),
            child: Mutex::new(None),
            problems: Mutex::new(Vec::new()),
            files: Mutex::new(Vec::new()),
            resumed_lines: AtomicU64::new(0),
            restart_times: Mutex::new(std::collections::VecDeque::new()),
        }
    }

    /// Ends the running child, if any (the agent is stopping).
    pub(crate) fn kill_child(&self) {
        if let Ok(mut c) = self.child.lock() {
            if let Some(child) = c.as_mut() {
                let _ = child.kill();
            }
        }
    }

    /// Where stream line `line` is: the file it was read from and its line in that file.
    pub(crate) fn place(&self, line: u64) -> Option<((u64, u64), u64)> {
        let files = self.files.lock().ok()?;
        files
            .iter()
            .rev()
            .find(|(before, _)| *before < line)
            .or(files.first())
            .map(|(before, id)| (*id, line.saturating_sub(*before)))
    }

    fn problem(&self, label: &str, what: String) {
        log(label, &what);
        if let Ok(mut p) = self.problems.lock() {
            if p.len() < 20 {
                p.push(what);
            }
        }
    }
}

/// A line on stderr about a source (its own stderr lines come through here too); control characters
/// are escaped, so a child cannot write to the terminal through the agent.
pub(crate) fn log(label: &str, what: &str) {
    eprintln!(
        "floodwatch: agent: {}: {}",
        label.escape_debug(),
        what.escape_debug()
    );
}

/// Events parsed but not yet handed to the engine thread, shared with the chunk reader, which sends
/// them before it waits for input.
struct Pending {
    events: Vec<Event>,
    tx: SyncSender<Vec<Event>>,
    bell: SyncSender<()>,
    /// The engine thread is gone (the agent is stopping).
    gone: bool,
}

thread_local! {
    /// The events this source thread has parsed and not yet sent. The parse loop appends to
    /// them, and the thread's reader (called from inside the parser) sends them before a read
    /// that may wait. Both are this one thread: a mutex shared by the two cost a lock per event,
    /// about 1% of the agent's time on one core.
    static PENDING: RefCell<Option<Pending>> = const { RefCell::new(None) };
}

impl Pending {
    fn flush(&mut self) {
        if self.events.is_empty() || self.gone {
            return;
        }
        let batch = std::mem::replace(&mut self.events, Vec::with_capacity(BATCH));
        if self.tx.send(batch).is_err() {
            self.gone = true;
        }
        let _ = self.bell.try_send(());
    }
}

/// The producer's end of a source's chunks. Chunks the source thread has finished with come back
/// on `spare`, so bytes are read straight into a reused buffer: no allocation and no copy per chunk.
pub(crate) struct ChunkTx {
    tx: SyncSender<Vec<u8>>,
    spare: Receiver<Vec<u8>>,
}

impl ChunkTx {
    /// A buffer of CHUNK bytes to read into: a returned one when there is one.
    fn buffer(&self) -> Vec<u8> {
        let mut b = self.spare.try_recv().unwrap_or_default();
        // A returned chunk was full nearly always: then this writes nothing.
        b.resize(CHUNK, 0);
        b
    }

    /// Sends the first `n` bytes of `buf`. False when nobody reads them.
    fn send(&self, mut buf: Vec<u8>, n: usize) -> bool {
        buf.truncate(n);
        self.tx.send(buf).is_ok()
    }
}

/// A source's chunk channel: the producer's end, the source thread's end, and where the source
/// thread returns finished chunks.
pub(crate) fn chunk_channel() -> (ChunkTx, Receiver<Vec<u8>>, SyncSender<Vec<u8>>) {
    let (tx, rx) = sync_channel(CHUNKS);
    // Room for every chunk in flight, the one being parsed and the one being read into.
    let (spare_tx, spare) = sync_channel(CHUNKS + 2);
    (ChunkTx { tx, spare }, rx, spare_tx)
}

/// Where a run's raw bytes come from.
enum Bytes {
    /// A producer thread's chunks (a followed file), and where finished chunks go back.
    Chunks(Receiver<Vec<u8>>, SyncSender<Vec<u8>>),
    /// Read on the source thread itself (a command's stdout, a file read once). A producer thread
    /// here cost a switch between threads per chunk on a busy core (12,000 in a 1 GB replay on one
    /// core, against 6 for `hunt`), for nothing: the bytes are parsed in order anyway.
    Direct(Box<dyn ReadFd>),
}

/// A byte stream whose descriptor can be asked whether input is waiting.
trait ReadFd: Read + Send {
    /// Bytes can be read now without waiting (or the end is there). Where this cannot be asked,
    /// false: the pending events are then sent before every read.
    fn waiting(&self) -> bool;
}

#[cfg(unix)]
impl<T: Read + Send + std::os::fd::AsRawFd> ReadFd for T {
    fn waiting(&self) -> bool {
        let mut p = libc::pollfd {
            fd: self.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one pollfd of ours on a descriptor `self` keeps open; a zero timeout.
        unsafe { libc::poll(&mut p, 1, 0) > 0 }
    }
}

#[cfg(not(unix))]
impl<T: Read + Send> ReadFd for T {
    fn waiting(&self) -> bool {
        false
    }
}

/// A source's bytes read on its own thread, in CHUNK-sized reads.
struct DirectReader {
    inner: Box<dyn ReadFd>,
    buf: Vec<u8>,
    pos: usize,
    len: usize,
}

impl Read for DirectReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        read_buffered(self, buf)
    }
}

impl BufRead for DirectReader {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        if self.pos >= self.len {
            if !self.inner.waiting() {
                send_pending();
            }
            if self.buf.is_empty() {
                self.buf = vec![0; CHUNK];
            }
            self.len = loop {
                match self.inner.read(&mut self.buf) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    // As the producer thread did: a broken stream is its end.
                    Err(_) => break 0,
                }
            };
            self.pos = 0;
        }
        Ok(&self.buf[self.pos..self.len])
    }

    fn consume(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.len);
    }
}

/// Before a read that may wait: whatever comes next may be a long time coming, so the engine gets
/// the events parsed so far.
fn send_pending() {
    PENDING.with_borrow_mut(|p| {
        if let Some(p) = p {
            p.flush();
        }
    });
}

/// `Read` for a reader whose `BufRead` does the work: what is buffered, copied out.
fn read_buffered(r: &mut impl BufRead, buf: &mut [u8]) -> std::io::Result<usize> {
    let avail = r.fill_buf()?;
    let n = buf.len().min(avail.len());
    buf[..n].copy_from_slice(&avail[..n]);
    r.consume(n);
    Ok(n)
}

/// Raw chunks as a `Read`. When no chunk is waiting, the pending events are sent first: whatever
/// comes next may be a long time coming.
struct ChunkReader {
    rx: Receiver<Vec<u8>>,
    /// Where finished chunks go back to the producer, to be read into again.
    spare: SyncSender<Vec<u8>>,
    cur: Vec<u8>,
    pos: usize,
}

impl Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        read_buffered(self, buf)
    }
}

/// The chunks are the buffer: framing reads lines straight out of them (no second copy).
impl BufRead for ChunkReader {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        while self.pos >= self.cur.len() {
            let next = match self.rx.try_recv() {
                Ok(c) => Some(c),
                Err(TryRecvError::Empty) => {
                    send_pending();
                    self.rx.recv().ok()
                }
                Err(TryRecvError::Disconnected) => None,
            };
            match next {
                Some(c) => {
                    let done = std::mem::replace(&mut self.cur, c);
                    if done.capacity() >= CHUNK {
                        // A full pool is fine: the buffer is then freed.
                        let _ = self.spare.try_send(done);
                    }
                    self.pos = 0;
                }
                None => return Ok(&[]),
            }
        }
        Ok(&self.cur[self.pos..])
    }

    fn consume(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.cur.len());
    }
}

/// Starts a source's thread. It ends when its input ends for good (`once`, a file not followed, a
/// stop), dropping `tx` (which tells the engine thread) and ringing `bell`.
pub(crate) fn spawn(
    spec: Spec,
    shared: Arc<Shared>,
    tx: SyncSender<Vec<Event>>,
    bell: SyncSender<()>,
    stop: Arc<AtomicBool>,
) -> Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name(format!("source {}", spec.label))
        .spawn(move || {
            run(&spec, &shared, tx.clone(), bell.clone(), &stop);
            drop(tx);
            let _ = bell.try_send(());
        })
        .map_err(|e| Error::io("starting a source thread", e))
}

fn run(
    spec: &Spec,
    shared: &Arc<Shared>,
    tx: SyncSender<Vec<Event>>,
    bell: SyncSender<()>,
    stop: &Arc<AtomicBool>,
) {
    let mut delay = spec.restart_delay;
    loop {
        let started = Instant::now();
        let running = match &spec.origin {
            Origin::Command(argv) => start_command(argv, &spec.label, shared),
            Origin::File { path, follow } => start_file(path, *follow && !spec.once, shared, stop),
        };
        let gone = match running {
            Err(e) => {
                shared.problem(&spec.label, e);
                false
            }
            Ok(bytes) => {
                let skip = resume_skip(spec, shared);
                let gone = read_run(spec, shared, bytes, tx.clone(), bell.clone(), skip);
                if let Origin::Command(_) = spec.origin {
                    reap(&spec.label, shared, stop);
                }
                gone
            }
        };
        let command = matches!(spec.origin, Origin::Command(_));
        if gone || spec.once || !command || stop.load(Ordering::Relaxed) {
            return;
        }
        // A command that ran long was fine for a while: start again soon. One that keeps dying
        // waits longer each time.
        if started.elapsed() > spec.restart_delay_max {
            delay = spec.restart_delay;
        }
        log(
            &spec.label,
            &format!("starting it again in {:.1} s", delay.as_secs_f64()),
        );
        let until = Instant::now() + delay;
        while Instant::now() < until {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50).min(delay));
        }
        shared.restarts.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut t) = shared.restart_times.lock() {
            t.push_back(Instant::now());
            if t.len() > 64 {
                t.pop_front();
            }
        }
        delay = (delay * 2).min(spec.restart_delay_max);
    }
}

/// Reads one run of a source (a command's life, a file) to its end. True when the engine thread is
/// gone.
fn read_run(
    spec: &Spec,
    shared: &Shared,
    bytes: Bytes,
    tx: SyncSender<Vec<Event>>,
    bell: SyncSender<()>,
    skip: u64,
) -> bool {
    PENDING.set(Some(Pending {
        events: Vec::with_capacity(BATCH),
        tx,
        bell,
        gone: false,
    }));
    let gone = read_events(spec, shared, bytes, skip);
    PENDING.take();
    gone
}

/// [`read_run`] once its thread's pending events are set up.
fn read_events(spec: &Spec, shared: &Shared, bytes: Bytes, skip: u64) -> bool {
    let reader: Box<dyn BufRead + Send> = match bytes {
        Bytes::Chunks(rx, spare) => Box::new(ChunkReader {
            rx,
            spare,
            cur: Vec::new(),
            pos: 0,
        }),
        Bytes::Direct(inner) => Box::new(DirectReader {
            inner,
            buf: Vec::new(),
            pos: 0,
            len: 0,
        }),
    };
    let opened: Result<(Format, Box<dyn BufRead + Send>, Damage)> = match spec.format {
        Some(f) => floodwatch_sources::input::decode_buf(reader)
            .map(|d| (f, d.reader, d.damage))
            .map_err(|e| Error::Input(format!("{} is not read: {e}", spec.label))),
        None => sniff_decoded(floodwatch_sources::input::decode_buf(reader), &spec.label)
            .map(|(f, r, d)| (f, Box::new(r) as Box<dyn BufRead + Send>, d)),
    };
    let (format, reader, damage) = match opened {
        Ok(x) => x,
        Err(e) => {
            shared.problem(&spec.label, e.to_string());
            return is_gone();
        }
    };
    if let Ok(mut f) = shared.format.lock() {
        *f = Some(format);
    }
    let mut src = FileSource::new(reader, format, spec.ctx.clone());
    let mut scratch = Vec::new();
    loop {
        scratch.clear();
        let more = match src.next_events(&mut scratch) {
            Ok(m) => m,
            Err(e) => {
                shared.problem(&spec.label, format!("reading: {e}"));
                false
            }
        };
        if skip > 0 {
            scratch.retain(|e| e.origin.line > skip);
        }
        if !scratch.is_empty() {
            let gone = PENDING.with_borrow_mut(|p| {
                let Some(p) = p else { return true };
                p.events.append(&mut scratch);
                if p.events.len() >= BATCH {
                    p.flush();
                }
                p.gone
            });
            if gone {
                break;
            }
        }
        if !more {
            break;
        }
    }
    send_pending();
    let mut stats = std::mem::replace(&mut src.stats, FileStats::new(String::new(), ""));
    stats.notes.extend(damage.note());
    stats.path = spec.label.clone();
    if let Ok(mut st) = shared.stats.lock() {
        if st.format == "unknown" {
            *st = stats;
        } else {
            st.absorb(stats);
        }
    }
    is_gone()
}

fn is_gone() -> bool {
    PENDING.with_borrow(|p| p.as_ref().is_none_or(|p| p.gone))
}

/// Lines of the file now at a followed path to skip: those of the checkpoint, when the file is the
/// checkpoint's and was read from its start (the first run after a restart).
fn resume_skip(spec: &Spec, shared: &Shared) -> u64 {
    let Some(r) = spec.resume else { return 0 };
    let first = shared.files.lock().ok().and_then(|f| f.first().copied());
    match first {
        Some((0, id)) if id == r.file && shared.restarts.load(Ordering::Relaxed) == 0 => {
            shared.resumed_lines.store(r.lines, Ordering::Relaxed);
            r.lines
        }
        Some(_) => {
            shared.problem(
                &spec.label,
                "the file read before the restart is no longer at the path (rotated while the agent was down): the new file is read from its start".into(),
            );
            0
        }
        None => 0,
    }
}

/// Linux: a 1 MiB pipe instead of 64 KiB, so a fast producer and the agent switch a sixteenth as
/// often (a best effort: the system's pipe limit may refuse it, and then the pipe stays as it is).
/// macOS sizes its pipes itself.
#[cfg(target_os = "linux")]
fn widen_pipe(out: &std::process::ChildStdout) {
    use std::os::fd::AsRawFd;
    // SAFETY: F_SETPIPE_SZ on a pipe descriptor this process owns; it reads no memory of ours.
    let _ = unsafe { libc::fcntl(out.as_raw_fd(), libc::F_SETPIPE_SZ, 1 << 20) };
}

#[cfg(not(target_os = "linux"))]
fn widen_pipe(_: &std::process::ChildStdout) {}

/// Starts the command: its stdout is the source's bytes, its stderr is logged line by line.
fn start_command(
    argv: &[String],
    label: &str,
    shared: &Shared,
) -> std::result::Result<Bytes, String> {
    let Some((prog, args)) = argv.split_first() else {
        return Err("the command is empty".into());
    };
    let mut child = Command::new(prog)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {prog:?}: {e}"))?;
    let Some(stdout) = child.stdout.take() else {
        return Err("its stdout is not a pipe".into());
    };
    widen_pipe(&stdout);
    let stderr = child.stderr.take();
    if let Ok(mut c) = shared.child.lock() {
        *c = Some(child);
    }
    if let Some(mut err) = stderr {
        let label = label.to_string();
        let _ = std::thread::Builder::new()
            .name(format!("stderr {label}"))
            .spawn(move || {
                let mut r = std::io::BufReader::new(&mut err);
                let mut line = Vec::new();
                loop {
                    line.clear();
                    // A line without a newline is cut at 4 KiB: a child cannot fill memory.
                    match (&mut r).take(4096).read_until(b'\n', &mut line) {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {
                            let text = String::from_utf8_lossy(&line);
                            log(&label, text.trim_end());
                        }
                    }
                }
            });
    }
    Ok(Bytes::Direct(Box::new(stdout)))
}

/// Waits for a command whose stdout ended, and says how it ended.
fn reap(label: &str, shared: &Shared, stop: &AtomicBool) {
    let started = Instant::now();
    loop {
        let status = match shared.child.lock() {
            Ok(mut c) => match c.as_mut().map(Child::try_wait) {
                None => return,
                Some(Ok(Some(st))) => {
                    *c = None;
                    Some(Ok(st))
                }
                Some(Ok(None)) => {
                    // Its stdout is closed: it has nothing more to say. Ended when the agent stops.
                    if stop.load(Ordering::Relaxed) || started.elapsed() > Duration::from_secs(5) {
                        if let Some(ch) = c.as_mut() {
                            let _ = ch.kill();
                        }
                    }
                    None
                }
                Some(Err(e)) => {
                    *c = None;
                    Some(Err(e))
                }
            },
            Err(_) => return,
        };
        match status {
            Some(Ok(st)) => {
                if !stop.load(Ordering::Relaxed) {
                    log(label, &format!("exited ({st})"));
                }
                return;
            }
            Some(Err(e)) => {
                log(label, &format!("cannot wait for it: {e}"));
                return;
            }
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

/// Opens a file to read to its end, or starts following it (on a thread of its own).
fn start_file(
    path: &Path,
    follow: bool,
    shared: &Arc<Shared>,
    stop: &Arc<AtomicBool>,
) -> std::result::Result<Bytes, String> {
    // A file not followed must be there now; a followed one may appear later.
    let first = match File::open(path) {
        Ok(f) if !follow => return Ok(Bytes::Direct(Box::new(f))),
        Ok(f) => Some(f),
        Err(e) if !follow => return Err(format!("cannot open {}: {e}", path.display())),
        Err(_) => None,
    };
    let mut follower = Follower::new(path.to_path_buf(), shared.clone(), stop.clone());
    // Taken now, so the file is known (for a resume) before any line of it is parsed.
    if let Some(f) = first {
        follower.take(f);
    }
    let (chunks, rx, spare) = chunk_channel();
    std::thread::Builder::new()
        .name(format!("file {}", path.display()))
        .spawn(move || follower.run(&chunks))
        .map_err(|e| format!("starting a reader thread: {e}"))?;
    Ok(Bytes::Chunks(rx, spare))
}

/// Which file a path names now (device and inode): a different one after a rotation.
#[cfg(unix)]
fn file_id(m: &std::fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (m.dev(), m.ino())
}

#[cfg(not(unix))]
fn file_id(_: &std::fs::Metadata) -> (u64, u64) {
    (0, 0)
}

/// Follows the file at a path, as `tail -F` does: what is appended is read as it comes; when another
/// file appears at the path (rotation by rename or by delete and create), the old one is read to its
/// end and the new one from its start; when the file gets shorter than what was read (truncation,
/// copytruncate), it is read again from its start. A line cut by a rotation or truncation is ended
/// there, so it cannot run into the next file's first line. (A truncation followed by more writes than
/// were read, between two looks, cannot be told from appends: as in `tail`.)
pub(crate) struct Follower {
    path: PathBuf,
    file: Option<File>,
    id: Option<(u64, u64)>,
    /// Bytes read from the current file.
    offset: u64,
    last_newline: bool,
    /// Lines (newlines) sent so far, across files.
    lines: u64,
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
}

impl Follower {
    pub(crate) fn new(path: PathBuf, shared: Arc<Shared>, stop: Arc<AtomicBool>) -> Follower {
        Follower {
            path,
            file: None,
            id: None,
            offset: 0,
            last_newline: true,
            lines: 0,
            shared,
            stop,
        }
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// Reads what the current file holds now into `chunks`. False when nobody reads them.
    fn drain(&mut self, chunks: &ChunkTx) -> bool {
        let Some(f) = self.file.as_mut() else {
            return true;
        };
        let mut buf = chunks.buffer();
        loop {
            match f.read(&mut buf) {
                Ok(0) => return true,
                Ok(n) => {
                    self.offset += n as u64;
                    self.last_newline = buf[n - 1] == b'\n';
                    self.lines += memchr::memchr_iter(b'\n', &buf[..n]).count() as u64;
                    if !chunks.send(buf, n) {
                        return false;
                    }
                    buf = chunks.buffer();
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    log(&self.path.display().to_string(), &format!("reading: {e}"));
                    return true;
                }
            }
        }
    }

    /// Ends a line a rotation or truncation cut.
    fn cut(&mut self, chunks: &ChunkTx) -> bool {
        if self.last_newline {
            return true;
        }
        self.last_newline = true;
        self.lines += 1;
        chunks.tx.send(b"\n".to_vec()).is_ok()
    }

    fn take(&mut self, f: File) {
        self.id = f.metadata().ok().map(|m| file_id(&m));
        if let (Some(id), Ok(mut files)) = (self.id, self.shared.files.lock()) {
            files.push((self.lines, id));
        }
        self.file = Some(f);
        self.offset = 0;
    }

    /// Follows the path (a file found at the start is given to [`Follower::take`] first).
    pub(crate) fn run(mut self, chunks: &ChunkTx) {
        let mut told_missing = false;
        loop {
            if !self.drain(chunks) {
                return;
            }
            if self.stopped() {
                return;
            }
            let now = std::fs::metadata(&self.path);
            match (&now, self.id) {
                (Ok(m), Some(id)) if file_id(m) != id => {
                    // Rotated: what was written to the old file before the rename is read first.
                    if !self.drain(chunks) || !self.cut(chunks) {
                        return;
                    }
                    match File::open(&self.path) {
                        Ok(f) => {
                            self.take(f);
                            self.shared.rotations.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(_) => std::thread::sleep(FOLLOW_POLL),
                    }
                    continue;
                }
                (Ok(_), None) => {
                    // The file has appeared.
                    if let Ok(f) = File::open(&self.path) {
                        self.take(f);
                        continue;
                    }
                }
                (Err(_), None) if !told_missing => {
                    told_missing = true;
                    log(
                        &self.path.display().to_string(),
                        "not there yet: waiting for it",
                    );
                }
                _ => {}
            }
            let len = self
                .file
                .as_ref()
                .and_then(|f| f.metadata().ok())
                .map(|m| m.len());
            if let (Some(len), Some(f)) = (len, self.file.as_mut()) {
                if len < self.offset && f.seek(SeekFrom::Start(0)).is_ok() {
                    self.offset = 0;
                    self.shared.truncations.fetch_add(1, Ordering::Relaxed);
                    if !self.cut(chunks) {
                        return;
                    }
                    continue;
                }
            }
            std::thread::sleep(FOLLOW_POLL);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn append(p: &Path, lines: std::ops::Range<u32>) {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
            .unwrap();
        for i in lines {
            writeln!(f, "line {i:05}").unwrap();
        }
    }

    /// Waits until the collected text holds `n` lines (the follower polls).
    fn wait_lines(rx: &Receiver<Vec<u8>>, got: &mut Vec<u8>, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while got.iter().filter(|b| **b == b'\n').count() < n {
            assert!(
                Instant::now() < deadline,
                "only {:?}",
                String::from_utf8_lossy(got)
            );
            if let Ok(c) = rx.recv_timeout(Duration::from_millis(50)) {
                got.extend(c);
            }
        }
    }

    #[test]
    fn a_followed_file_is_read_once_across_rotation_and_truncation() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("telemetry.log");
        append(&p, 0..100);
        let shared = Arc::new(Shared::new("t"));
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, rx, _spare) = chunk_channel();
        let mut f = Follower::new(p.clone(), shared.clone(), stop.clone());
        f.take(File::open(&p).unwrap());
        let t = std::thread::spawn(move || f.run(&tx));
        let mut got = Vec::new();
        wait_lines(&rx, &mut got, 100);
        // Appended lines; then lines written to the old file just before it is renamed away, and
        // a new file at the path.
        append(&p, 100..150);
        wait_lines(&rx, &mut got, 150);
        append(&p, 150..160);
        std::fs::rename(&p, dir.path().join("telemetry.log.1")).unwrap();
        append(&p, 160..200);
        wait_lines(&rx, &mut got, 200);
        // copytruncate: the file emptied, then written again.
        std::fs::OpenOptions::new()
            .write(true)
            .open(&p)
            .unwrap()
            .set_len(0)
            .unwrap();
        std::thread::sleep(FOLLOW_POLL * 4);
        append(&p, 200..230);
        wait_lines(&rx, &mut got, 230);
        // Rotation by delete and create.
        std::fs::remove_file(&p).unwrap();
        append(&p, 230..250);
        wait_lines(&rx, &mut got, 250);
        stop.store(true, Ordering::Relaxed);
        t.join().unwrap();
        while let Ok(c) = rx.try_recv() {
            got.extend(c);
        }
        let text = String::from_utf8(got).unwrap();
        let want: Vec<String> = (0..250).map(|i| format!("line {i:05}")).collect();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines, want, "every line once, in order");
        assert_eq!(shared.rotations.load(Ordering::Relaxed), 2);
        assert_eq!(shared.truncations.load(Ordering::Relaxed), 1);
    }
}
