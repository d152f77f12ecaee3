//! Where the agent's findings go: each sink takes the OCSF JSON lines one at a time, exactly the lines
//! `hunt --format jsonl` (with `--once`) or `watch` (live, with each state's key as `metadata.uid`)
//! writes. Every line comes with its key; with a state file, a sink never gets a key it has delivered
//! (see [`super::state`]).

use super::state::AgentState;
use crate::output::{Delivery, Item};
use floodwatch_core::alert::Severity;
use floodwatch_core::config::AgentSink;
use floodwatch_core::event::Event;
use floodwatch_core::{Error, Result, Ts};
use floodwatch_deliver::syslog::{SyslogConfig, SyslogSink, Transport};
use floodwatch_deliver::webhook::{WebhookConfig, WebhookSink};
use floodwatch_deliver::{Deliver, Finding};
use floodwatch_store::Store;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One destination of finding lines.
pub trait Sink {
    /// Writes one complete line (without its newline) and makes it visible to readers.
    fn write_line(&mut self, line: &[u8]) -> Result<()>;
    /// What the summary and errors call it.
    fn name(&self) -> String;
    /// Called on every turn of the agent's loop: a sink with findings waiting (a webhook whose
    /// receiver is down) retries them here.
    fn tick(&mut self) -> Result<()> {
        Ok(())
    }
    /// Takes one finding state. Most sinks write its line; the store records the finding itself.
    fn write(&mut self, d: &Delivery) -> Result<()> {
        self.write_line(&d.line)
    }
    /// Where the sink stands, stored with the delivery ledger at each commit (see
    /// [`Sink::recover`]).
    fn mark(&self) -> Option<String> {
        None
    }
    /// After a crash: the keys of what the sink delivered after `mark` although the ledger was not
    /// told (the agent died between the two). A sink that cannot say returns none: a crash can then
    /// repeat what it delivered since the last commit (at most one turn of the loop).
    fn recover(&mut self, _mark: Option<&str>) -> Result<Vec<String>> {
        Ok(Vec::new())
    }
    /// Counts worth reporting as health (a spool's overflow).
    fn overflowed(&self) -> u64 {
        0
    }
    /// A sink that also ships the normalized events (the fleet's `nats` sink with `events`): it
    /// gets every event the engine takes, in the engine's order, each turn of the loop.
    fn wants_events(&self) -> bool {
        false
    }
    /// The events of one turn; `files` names each event's `origin.file` (the source's label and
    /// format).
    fn write_events(&mut self, _files: &[SourceName], _events: &[Event]) -> Result<()> {
        Ok(())
    }
    /// At the end of a run: what waits (a spool) gets one last, bounded, chance to leave.
    fn flush(&mut self) -> Result<()> {
        Ok(())
    }
}

/// A source as events name it: its label (evidence's file) and its format's name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceName {
    pub label: Arc<str>,
    pub format: Arc<str>,
}

/// Builds the sinks the runtime does not know itself (the fleet's `nats`): given the sink's
/// config, the sink, or None when it is not one of its kinds.
pub type SinkFactory<'a> = &'a dyn Fn(&AgentSink) -> Option<Result<Box<dyn Sink + Send>>>;

/// A `floodwatch-deliver` transport (syslog, webhook) as a sink. A receiver that fails never stops
/// the agent: the transport counts it (and the webhook keeps the finding in its spool), and the
/// first failure of a run is said on stderr.
pub struct DeliverSink {
    inner: Box<dyn Deliver>,
    label: String,
    warned: bool,
}

impl DeliverSink {
    pub fn new(inner: Box<dyn Deliver>, label: String) -> Self {
        DeliverSink {
            inner,
            label,
            warned: false,
        }
    }

    fn warn(&mut self, e: &floodwatch_deliver::DeliverError) {
        if !self.warned {
            self.warned = true;
            eprintln!(
                "floodwatch agent: sink {}: {} (counted; further failures are not repeated here)",
                self.label,
                floodwatch_sinks::escape::terminal(&e.to_string())
            );
        }
    }
}

/// The facts a transport needs, read from an OCSF finding line.
fn finding_facts(v: &serde_json::Value) -> (String, Ts, String, Severity, String) {
    let s = |p: &str| {
        v.pointer(p)
            .and_then(|x| x.as_str())
            .unwrap_or("")
            .to_string()
    };
    let severity = match v.get("severity_id").and_then(|x| x.as_u64()) {
        Some(5) => Severity::Critical,
        Some(4) => Severity::High,
        Some(3) => Severity::Medium,
        Some(2) => Severity::Low,
        _ => Severity::Informational,
    };
    let kind = match s("/unmapped/floodwatch/kind") {
        k if k.is_empty() => "alert".to_string(),
        k => k,
    };
    let time = Ts(v
        .get("time")
        .and_then(|x| x.as_i64())
        .unwrap_or(0)
        .saturating_mul(1_000_000));
    (
        s("/finding_info/uid"),
        time,
        s("/device/hostname"),
        severity,
        kind,
    )
}

impl Sink for DeliverSink {
    fn write_line(&mut self, line: &[u8]) -> Result<()> {
        let text = String::from_utf8_lossy(line);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        let (id, time, host, severity, kind) = finding_facts(&v);
        let f = Finding {
            id: &id,
            time,
            host: &host,
            severity,
            kind: &kind,
            body: &text,
        };
        if let Err(e) = self.inner.deliver(&f) {
            self.warn(&e);
        }
        Ok(())
    }

    fn name(&self) -> String {
        self.label.clone()
    }

    fn tick(&mut self) -> Result<()> {
        if let Err(e) = self.inner.pump() {
            self.warn(&e);
        }
        Ok(())
    }

    fn overflowed(&self) -> u64 {
        self.inner.stats().overflowed
    }
}

/// OCSF JSON lines on stdout, flushed line by line.
pub struct StdoutSink;

impl Sink for StdoutSink {
    fn write_line(&mut self, line: &[u8]) -> Result<()> {
        let mut out = std::io::stdout().lock();
        let io = |e| Error::io("writing findings to stdout", e);
        out.write_all(line).map_err(io)?;
        out.write_all(b"\n").map_err(io)?;
        out.flush().map_err(io)
    }

    fn name(&self) -> String {
        "stdout".into()
    }
}

/// JSON lines appended to a file. Before a line would take the file past `max_bytes`, the file is
/// renamed `PATH.1` (an older `PATH.1` becoming `PATH.2`, and so on) and a new one started; only
/// `keep` renamed files are kept. A line longer than `max_bytes` gets a file of its own. Every line
/// is written whole with its newline in one write (the file is opened for appending).
pub struct FileSink {
    path: PathBuf,
    max_bytes: u64,
    keep: usize,
    file: File,
    size: u64,
    /// Files renamed so far.
    pub rotations: u64,
}

impl FileSink {
    pub fn open(path: &Path, max_bytes: u64, keep: usize) -> Result<FileSink> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        }
        let file = open_append(path)?;
        let size = file
            .metadata()
            .map_err(|e| Error::io(format!("reading {}", path.display()), e))?
            .len();
        Ok(FileSink {
            path: path.to_path_buf(),
            max_bytes,
            keep,
            file,
            size,
            rotations: 0,
        })
    }

    /// `PATH.n`.
    fn rotated(&self, n: usize) -> PathBuf {
        let mut s = self.path.clone().into_os_string();
        s.push(format!(".{n}"));
        PathBuf::from(s)
    }

    fn rotate(&mut self) -> Result<()> {
        let io = |what: &Path, e| Error::io(format!("rotating {}", what.display()), e);
        if self.keep == 0 {
            // Nothing is kept: the file starts again empty.
            self.file.set_len(0).map_err(|e| io(&self.path, e))?;
        } else {
            // The oldest kept file goes; the others move up one.
            let oldest = self.rotated(self.keep);
            match std::fs::remove_file(&oldest) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(&oldest, e)),
                _ => {}
            }
            for n in (1..self.keep).rev() {
                let from = self.rotated(n);
                match std::fs::rename(&from, self.rotated(n + 1)) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(&from, e)),
                    _ => {}
                }
            }
            std::fs::rename(&self.path, self.rotated(1)).map_err(|e| io(&self.path, e))?;
            self.file = open_append(&self.path)?;
        }
        self.size = 0;
        self.rotations += 1;
        Ok(())
    }
}

fn open_append(path: &Path) -> Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| Error::io(format!("opening {}", path.display()), e))
}

impl Sink for FileSink {
    fn write_line(&mut self, line: &[u8]) -> Result<()> {
        let len = line.len() as u64 + 1;
        if self.size > 0 && self.size.saturating_add(len) > self.max_bytes {
            self.rotate()?;
        }
        let mut buf = Vec::with_capacity(line.len() + 1);
        buf.extend_from_slice(line);
        buf.push(b'\n');
        self.file
            .write_all(&buf)
            .map_err(|e| Error::io(format!("writing {}", self.path.display()), e))?;
        self.size += len;
        Ok(())
    }

    fn name(&self) -> String {
        format!("file {}", self.path.display())
    }

    /// `DEV:INODE:SIZE` of the file being written.
    fn mark(&self) -> Option<String> {
        let m = self.file.metadata().ok()?;
        let (dev, ino) = file_id(&m);
        Some(format!("{dev}:{ino}:{}", self.size))
    }

    /// Reads what was written after the mark (in `PATH.1` too when the file was rotated since) and
    /// returns the keys (`metadata.uid`) of those lines. A last line cut short by the crash is
    /// removed: it was never delivered whole.
    fn recover(&mut self, mark: Option<&str>) -> Result<Vec<String>> {
        self.trim_partial_line()?;
        let parsed = mark.and_then(|m| {
            let mut it = m.split(':').map(|x| x.parse::<u64>().ok());
            Some(((it.next()??, it.next()??), it.next()??))
        });
        let id_of = |p: &Path| std::fs::metadata(p).ok().map(|m| file_id(&m));
        let mut keys = Vec::new();
        match parsed {
            Some((id, size)) if id_of(&self.path) == Some(id) => {
                keys_after(&self.path, size, &mut keys)?;
            }
            Some((id, size)) if id_of(&self.rotated(1)) == Some(id) => {
                keys_after(&self.rotated(1), size, &mut keys)?;
                keys_after(&self.path, 0, &mut keys)?;
            }
            // No mark yet (or files rotated past it): everything that is kept.
            _ => {
                for n in (1..=self.keep).rev() {
                    keys_after(&self.rotated(n), 0, &mut keys)?;
                }
                keys_after(&self.path, 0, &mut keys)?;
            }
        }
        Ok(keys)
    }
}

impl FileSink {
    /// A line the crash cut (no newline at the end of the file) is cut off.
    fn trim_partial_line(&mut self) -> Result<()> {
        let text = match std::fs::read(&self.path) {
            Ok(t) => t,
            Err(_) => return Ok(()),
        };
        if text.is_empty() || text.ends_with(b"\n") {
            return Ok(());
        }
        let keep = text.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        self.file
            .set_len(keep as u64)
            .map_err(|e| Error::io(format!("repairing {}", self.path.display()), e))?;
        self.size = keep as u64;
        Ok(())
    }
}

/// Which file a path names (device and inode).
#[cfg(unix)]
fn file_id(m: &std::fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (m.dev(), m.ino())
}

#[cfg(not(unix))]
fn file_id(_: &std::fs::Metadata) -> (u64, u64) {
    (0, 0)
}

/// The `metadata.uid` of every line of `path` from byte `from` on (a missing file has none).
fn keys_after(path: &Path, from: u64, keys: &mut Vec<String>) -> Result<()> {
    let text = match std::fs::read(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(format!("reading {}", path.display()), e)),
    };
    let from = usize::try_from(from).unwrap_or(usize::MAX).min(text.len());
    for line in text[from..].split(|b| *b == b'\n') {
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(line) {
            if let Some(k) = v.pointer("/metadata/uid").and_then(|k| k.as_str()) {
                keys.push(k.to_string());
            }
        }
    }
    Ok(())
}

/// The store (`type = "store"`, or `agent --db`): every alert state and network flood recorded as
/// `watch --db` records them (the alert lifecycle, with history), so `serve`, `alerts` and `tune`
/// see the agent's findings. Recording is idempotent: a state the store already holds changes
/// nothing.
pub struct StoreSink {
    store: Store,
    run_id: i64,
}

impl StoreSink {
    pub fn open(path: &Path, busy_timeout: std::time::Duration) -> Result<StoreSink> {
        let mut store = Store::open(path, busy_timeout)?;
        let now = Ts::now();
        let run_id = store.begin_run(&floodwatch_store::runs::RunRecord {
            kind: "agent",
            started: now,
            finished: now,
            args: "agent".into(),
            inputs: Vec::new(),
        })?;
        Ok(StoreSink { store, run_id })
    }
}

impl Sink for StoreSink {
    fn write_line(&mut self, _line: &[u8]) -> Result<()> {
        // Lines carry nothing the store keeps: it records the findings themselves (`write`).
        Ok(())
    }

    fn write(&mut self, d: &Delivery) -> Result<()> {
        match &d.item {
            Item::Alert(a) => {
                self.store.record_alerts(
                    self.run_id,
                    std::slice::from_ref(a.as_ref()),
                    Ts::now(),
                )?;
            }
            Item::Network(f) => {
                self.store
                    .record_network(self.run_id, std::slice::from_ref(f.as_ref()))?;
            }
            Item::Campaign(c) => {
                self.store
                    .record_campaigns(self.run_id, std::slice::from_ref(c.as_ref()))?;
            }
            // The agent's health is in its state file (`agent status`), not the alert store.
            Item::Health(_) => {}
        }
        Ok(())
    }

    fn name(&self) -> String {
        format!("store {}", self.store.path().display())
    }
}

/// Every sink of the agent; a line goes to each in turn.
#[derive(Default)]
pub struct Sinks {
    pub sinks: Vec<Box<dyn Sink + Send>>,
    /// Finding states handed out (to every sink).
    pub lines: u64,
    /// Deliveries skipped because the ledger had them (a stretch replayed after a restart).
    pub repeats_skipped: u64,
}

impl Sinks {
    /// The configured sinks (none: stdout), opened now so a bad path is an error before any source
    /// starts.
    pub fn from_config(
        cfg: &[AgentSink],
        store_cfg: &floodwatch_core::config::Store,
    ) -> Result<Sinks> {
        Self::from_config_with(cfg, store_cfg, &|_| None)
    }

    /// [`Sinks::from_config`], with `extra` building the kinds this crate does not (the fleet's
    /// `nats` sink, built by the binary, which knows the fleet crate).
    pub fn from_config_with(
        cfg: &[AgentSink],
        store_cfg: &floodwatch_core::config::Store,
        extra: SinkFactory<'_>,
    ) -> Result<Sinks> {
        let mut sinks: Vec<Box<dyn Sink + Send>> = Vec::new();
        for s in cfg {
            if let Some(built) = extra(s) {
                sinks.push(built?);
                continue;
            }
            sinks.push(match s {
                AgentSink::Nats { .. } => {
                    return Err(Error::Usage(
                        "agent sink nats: this build has no NATS client (the floodwatch binary builds it)".into(),
                    ))
                }
                AgentSink::Stdout {} => Box::new(StdoutSink),
                AgentSink::Store { path } => Box::new(StoreSink::open(
                    path.as_deref().unwrap_or(&store_cfg.db),
                    store_cfg.busy_timeout,
                )?),
                AgentSink::File {
                    path,
                    max_bytes,
                    keep,
                } => Box::new(FileSink::open(path, *max_bytes, *keep)?),
                AgentSink::Syslog {
                    transport,
                    address,
                    facility,
                } => {
                    let t = match transport.as_str() {
                        "udp" => Transport::Udp(address.clone()),
                        "tcp" => Transport::Tcp(address.clone()),
                        "unix" => Transport::Unix(address.clone()),
                        other => {
                            return Err(Error::Usage(format!(
                                "agent sink syslog: transport {other:?} is not udp, tcp or unix"
                            )))
                        }
                    };
                    let mut c = SyslogConfig::new(t);
                    c.facility = *facility;
                    let sink = SyslogSink::new(c)
                        .map_err(|e| Error::Usage(format!("agent sink syslog: {e}")))?;
                    Box::new(DeliverSink::new(
                        Box::new(sink),
                        format!("syslog {transport} {address}"),
                    ))
                }
                AgentSink::Webhook {
                    url,
                    secret_file,
                    spool,
                    spool_max_bytes,
                } => {
                    let mut c = WebhookConfig::new(url.clone(), spool.clone());
                    c.spool_max_bytes = *spool_max_bytes;
                    if let Some(p) = secret_file {
                        let secret = std::fs::read_to_string(p).map_err(|e| {
                            Error::io(format!("reading the webhook secret {}", p.display()), e)
                        })?;
                        c.secret = Some(secret.trim().to_string());
                    }
                    let sink = WebhookSink::new(c)
                        .map_err(|e| Error::Usage(format!("agent sink webhook: {e}")))?;
                    Box::new(DeliverSink::new(Box::new(sink), format!("webhook {url}")))
                }
            });
        }
        if sinks.is_empty() {
            sinks.push(Box::new(StdoutSink));
        }
        Ok(Sinks {
            sinks,
            lines: 0,
            repeats_skipped: 0,
        })
    }

    /// Lets every sink retry what waits (a webhook's spool).
    pub fn tick(&mut self) -> Result<()> {
        for s in &mut self.sinks {
            s.tick()?;
        }
        Ok(())
    }

    /// Hands one finding state to every sink that has not delivered its key (with a state file;
    /// without one, to every sink), and notes the deliveries in the ledger.
    pub fn deliver(&mut self, d: &Delivery, mut ledger: Option<&mut AgentState>) -> Result<()> {
        for (i, s) in self.sinks.iter_mut().enumerate() {
            if ledger.as_ref().is_some_and(|l| l.was_delivered(i, &d.key)) {
                self.repeats_skipped += 1;
                continue;
            }
            s.write(d)?;
            if let Some(l) = ledger.as_mut() {
                l.record(i, &d.key);
            }
        }
        self.lines += 1;
        Ok(())
    }

    /// Every sink's mark (for the ledger's commit).
    pub fn marks(&self) -> Vec<(usize, String)> {
        self.sinks
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.mark().map(|m| (i, m)))
            .collect()
    }

    /// After a restart: what each sink delivered after its last committed mark goes into the ledger.
    pub fn recover(&mut self, ledger: &mut AgentState) -> Result<u64> {
        let mut n = 0;
        for (i, s) in self.sinks.iter_mut().enumerate() {
            let mark = ledger.mark(i)?;
            for k in s.recover(mark.as_deref())? {
                ledger.record(i, &k);
                n += 1;
            }
        }
        Ok(n)
    }

    /// Findings dropped by a full spool, over every sink.
    pub fn overflowed(&self) -> u64 {
        self.sinks.iter().map(|s| s.overflowed()).sum()
    }

    /// Whether some sink ships events (the engine loop then hands them over).
    pub fn wants_events(&self) -> bool {
        self.sinks.iter().any(|s| s.wants_events())
    }

    /// One turn's events to every sink that ships them.
    pub fn write_events(&mut self, files: &[SourceName], events: &[Event]) -> Result<()> {
        for s in self.sinks.iter_mut().filter(|s| s.wants_events()) {
            s.write_events(files, events)?;
        }
        Ok(())
    }

    /// The end of a run: every sink's last chance to deliver what waits.
    pub fn flush(&mut self) -> Result<()> {
        for s in &mut self.sinks {
            s.flush()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_sink_rotates_at_max_bytes_and_keeps_keep_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out/findings.jsonl");
        let mut s = FileSink::open(&path, 4096, 2).unwrap();
        // 100 lines of 1,000 bytes (with the newline): four fit in a file, so 25 files are written.
        for i in 0..100u32 {
            let line = format!("{i:04}{}", "x".repeat(995));
            s.write_line(line.as_bytes()).unwrap();
        }
        assert_eq!(s.rotations, 24);
        let read = |p: &Path| std::fs::read_to_string(p).unwrap();
        let first = |p: &Path| read(p)[..4].to_string();
        for (p, lines, starts) in [
            (path.clone(), 4, "0096"),
            (dir.path().join("out/findings.jsonl.1"), 4, "0092"),
            (dir.path().join("out/findings.jsonl.2"), 4, "0088"),
        ] {
            let text = read(&p);
            assert_eq!(text.lines().count(), lines, "{}", p.display());
            assert!(text.len() as u64 <= 4096);
            assert_eq!(first(&p), starts, "{}", p.display());
        }
        assert!(!dir.path().join("out/findings.jsonl.3").exists());
        // A line longer than max_bytes gets a file of its own; appending goes on after a reopen.
        drop(s);
        let mut s = FileSink::open(&path, 4096, 2).unwrap();
        s.write_line("y".repeat(5000).as_bytes()).unwrap();
        s.write_line(b"z").unwrap();
        assert_eq!(read(&path), "z\n");
        assert_eq!(read(&dir.path().join("out/findings.jsonl.1")).len(), 5001);
        assert_eq!(first(&dir.path().join("out/findings.jsonl.2")), "0096");
    }
}
