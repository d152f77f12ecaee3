//! floodwatch-sources: read telemetry files (or stdin) into normalized [`Event`]s.
//!
//! One module per real format, each detected from content, never from the file name:
//! [`eslogger`], [`nettop`], [`unifiedlog`], [`osquery`], [`zeek`], [`jamf`] (Jamf Protect BSM
//! telemetry and alerts), [`jamf_telemetry`] (Jamf Protect's current telemetry stream), [`elastic`] (Elastic Defend ECS documents) and [`pcap`] (pcap / pcapng captures,
//! Apple PKTAP process blocks included). A [`FileSource`] frames the input ([`framing`]), hands each
//! record to the format's [`RecordParser`], and counts every record as an event, a skip (a known
//! non-event record) or a reject (with line and [`RejectReason`]) in its [`FileStats`]. Captures are
//! binary: their [`pcap::CaptureReader`] takes the place of framer and parser inside the same
//! [`FileSource`], so callers read them like any other file. What the formats share in reading
//! records (the reject reasons, the JSON layer) is written once, in the `wire` module.

pub mod discover;
pub mod elastic;
pub mod eslogger;
pub mod framing;
#[cfg(test)]
mod hostile_tests;
pub mod input;
pub mod jamf;
pub mod jamf_telemetry;
pub mod nettop;
pub mod osquery;
pub mod pcap;
pub mod sniff;
pub mod unifiedlog;
mod wire;
pub mod zeek;

use floodwatch_core::config::Input;
use floodwatch_core::event::{Event, EventKind, Origin};
use floodwatch_core::Ts;
use framing::{Frame, JsonArrayFramer, JsonStreamFramer, LineFramer};
use std::borrow::Cow;
use std::io::BufRead;
use std::sync::Arc;

pub use discover::{date_in_path, discover, discover_inputs, Discovery, InputFile, SkippedInput};
/// Per-file accounting lives in core (the sinks print it without depending on this crate); the
/// old `floodwatch_sources::stats` paths still resolve.
pub use floodwatch_core::stats::{self, FileStats, RejectSample};
pub use sniff::{sniff, Sniffed};
pub use wire::reject::{Reject, RejectReason};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    Eslogger,
    NettopCsv,
    NettopFixed,
    UnifiedLogNdjson,
    UnifiedLogJson,
    Osquery,
    /// Zeek conn.log, network-only (no process).
    ZeekTsv,
    ZeekJson,
    /// Jamf Protect telemetry (`AUE_*`) and `GPProcessEvent` alerts: concatenated JSON objects,
    /// pretty-printed or one per line.
    JamfProtect,
    /// Elastic Defend (Endpoint) ECS documents, `endpoint.events.*` datasets.
    ElasticDefend,
    /// Jamf Protect's current telemetry stream ("Device Telemetry Stream", schema 1.0): Endpoint
    /// Security messages in Jamf's envelope, one object per line or pretty-printed.
    JamfTelemetry,
    /// Legacy pcap capture (binary), network-only unless its link type is PKTAP.
    Pcap,
    /// pcapng capture (binary), with Apple's process information blocks when `tcpdump -k` wrote it.
    Pcapng,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Eslogger => "eslogger",
            Format::NettopCsv => "nettop-csv",
            Format::NettopFixed => "nettop-fixed",
            Format::UnifiedLogNdjson => "unifiedlog-ndjson",
            Format::UnifiedLogJson => "unifiedlog-json",
            Format::Osquery => "osquery",
            Format::ZeekTsv => "zeek-conn-tsv",
            Format::ZeekJson => "zeek-conn-json",
            Format::JamfProtect => "jamf-protect",
            Format::ElasticDefend => "elastic-defend",
            Format::JamfTelemetry => "jamf-protect-telemetry",
            Format::Pcap => "pcap",
            Format::Pcapng => "pcapng",
        }
    }

    /// Formats that can carry traffic without a pid (network sensors, captures).
    pub fn network_only_capable(self) -> bool {
        matches!(
            self,
            Format::ZeekTsv | Format::ZeekJson | Format::Pcap | Format::Pcapng
        )
    }

    /// Formats whose records carry a full date (usable to anchor dateless nettop).
    pub fn is_dated(self) -> bool {
        !matches!(self, Format::NettopCsv | Format::NettopFixed)
    }

    /// Line formats whose records stand alone (no state between lines), so a file can be read as
    /// separate segments. nettop (counters between frames), JSON arrays, multi-line JSON objects
    /// (Jamf, Elastic) and binary captures are not.
    pub fn segmentable(self) -> bool {
        matches!(
            self,
            Format::Eslogger | Format::UnifiedLogNdjson | Format::Osquery | Format::ZeekJson
        )
    }

    /// Formats whose records are JSON (their strings may carry `\u` escapes).
    pub fn is_json(self) -> bool {
        matches!(
            self,
            Format::Eslogger
                | Format::UnifiedLogNdjson
                | Format::UnifiedLogJson
                | Format::Osquery
                | Format::ZeekJson
                | Format::JamfProtect
                | Format::JamfTelemetry
                | Format::ElasticDefend
        )
    }

    /// Binary captures, read by [`pcap::CaptureReader`] instead of a framer and a record parser.
    pub fn is_capture(self) -> bool {
        matches!(self, Format::Pcap | Format::Pcapng)
    }
}

/// Hints for sources whose timestamps lack a date or zone (nettop). The date comes from the evidence
/// nearest the file, in this order: dated sources in the same folder (`reference`), a date in the
/// folder or file name (`path_date`), the file's modification time, then `--date`.
#[derive(Clone, Debug, Default)]
pub struct ClockHints {
    /// An instant from dated sources near the file (their earliest event), to pick nettop's date.
    pub reference: Option<Ts>,
    /// The latest event of those sources, when known: nettop rows are dated into [reference,
    /// reference_end], so a capture that starts hours after the others is not put on the day before.
    pub reference_end: Option<Ts>,
    /// What `reference` was taken from, for the summary ("dated sources in the same folder (...)");
    /// None: "the host's other sources".
    pub reference_from: Option<String>,
    /// A date (midnight UTC of that day) written in the file's name or a folder above it, and where
    /// it was found ("folder 2026-10-01").
    pub path_date: Option<(Ts, String)>,
    /// The host's UTC offset in seconds east, when a unified log of the host tells it.
    pub utc_offset: Option<i32>,
    /// The file's modification time (the end of a capture).
    pub file_mtime: Option<Ts>,
    /// `--date YYYY-MM-DD`, given by the user: the last resort, when nothing nearer the file dates it.
    pub forced_date: Option<Ts>,
}

/// What a parser knows about the file it reads.
#[derive(Clone, Debug)]
pub struct SourceCtx {
    pub file_id: u32,
    pub path: Arc<str>,
    /// The directory-derived host, or `--host`.
    pub host: Arc<str>,
    /// `--host` was given: records' own host names (osquery hostIdentifier) are ignored.
    pub host_forced: bool,
    pub clock: ClockHints,
    pub input: Input,
}

impl SourceCtx {
    /// Where a record of this file is: its line (or a capture's first record number).
    pub fn origin(&self, line: u64) -> Origin {
        Origin {
            file: self.file_id,
            line,
        }
    }

    /// An event of this file's host, located at `line`.
    pub fn event(&self, ts: Ts, line: u64, kind: EventKind) -> Event {
        self.event_on(self.host.clone(), ts, line, kind)
    }

    /// An event of `host` (a record that names its own host), located at `line` of this file.
    pub fn event_on(&self, host: Arc<str>, ts: Ts, line: u64, kind: EventKind) -> Event {
        Event {
            ts,
            host,
            origin: self.origin(line),
            kind,
        }
    }
}

/// A record was read but is not an event we use (a header, an unrelated log line, an unknown event type).
/// Counted per reason, never an error.
pub type SkipReason = Cow<'static, str>;

pub enum Parsed {
    /// Zero or more events were pushed.
    Events,
    /// The record itself is skipped; events pushed while handling it (flushes of records held from
    /// before) are kept.
    Skipped(SkipReason),
    /// The record itself is rejected; as with a skip, events pushed while handling it (flushes of
    /// records held from before) are kept, where an `Err` drops them.
    Rejected(Reject),
}

/// One format's record parser. It owns whatever per-file state the format needs (nettop's previous
/// counters, osquery's host names) and pushes normalized events carrying `Origin { file, line }`.
pub trait RecordParser: Send {
    fn parse(&mut self, record: &str, line: u64, out: &mut Vec<Event>) -> Result<Parsed, Reject>;
    /// Parses a record some of whose strings were not valid UTF-8 (replaced by U+FFFD): its events
    /// are marked `invalid_utf8`. A parser that pushes events of earlier records while reading this
    /// one (nettop's held process rows) overrides this to mark only the events of this record.
    fn parse_lossy(
        &mut self,
        record: &str,
        line: u64,
        out: &mut Vec<Event>,
    ) -> Result<Parsed, Reject> {
        let before = out.len();
        let parsed = self.parse(record, line, out)?;
        for e in &mut out[before..] {
            e.kind.mark_invalid_utf8();
        }
        Ok(parsed)
    }
    /// A record was rejected before the parser saw it (too long, binary data): a parser that
    /// relates records to the ones above them (nettop's socket rows to their process row) must not
    /// relate the next ones across it.
    fn unseen_record(&mut self) {}
    /// End of input: flush anything held back (nettop's last frame).
    fn finish(&mut self, _out: &mut Vec<Event>) {}
    /// Counts the skips and rejects of records whose outcome was decided after their own `parse`
    /// returned (nettop rows held until a header below them): such a record returned
    /// [`Parsed::Events`] without an event, and is counted here, once, when its outcome is known.
    /// Called after every record and after `finish`.
    fn settle_held(&mut self, _stats: &mut FileStats) {}
    /// The UTC offset the records revealed, if any (unified log timestamps carry one).
    fn utc_offset(&self) -> Option<i32> {
        None
    }
    /// Notes for the file summary that are not rejects (e.g. "eslogger version 12 is newer than known").
    fn notes(&self) -> Vec<String> {
        Vec::new()
    }
    /// Records that produced no event of their own because other records' events carry their data
    /// (nettop process rows under socket rows), so records = events + skipped + rejected + carried
    /// for line formats.
    fn carried(&self) -> u64 {
        0
    }
}

pub fn new_parser(format: Format, ctx: SourceCtx) -> Box<dyn RecordParser> {
    match format {
        Format::Eslogger => Box::new(eslogger::EsloggerParser::new(ctx)),
        Format::NettopCsv => Box::new(nettop::NettopParser::new_csv(ctx)),
        Format::NettopFixed => Box::new(nettop::NettopParser::new_fixed(ctx)),
        Format::UnifiedLogNdjson | Format::UnifiedLogJson => {
            Box::new(unifiedlog::UnifiedLogParser::new(ctx))
        }
        Format::Osquery => Box::new(osquery::OsqueryParser::new(ctx)),
        Format::ZeekTsv => Box::new(zeek::ZeekParser::new_tsv(ctx)),
        Format::ZeekJson => Box::new(zeek::ZeekParser::new_json(ctx)),
        Format::JamfProtect => Box::new(jamf::JamfParser::new(ctx)),
        Format::ElasticDefend => Box::new(elastic::ElasticParser::new(ctx)),
        Format::JamfTelemetry => Box::new(jamf_telemetry::JamfTelemetryParser::new(ctx)),
        Format::Pcap | Format::Pcapng => Box::new(pcap::NotText),
    }
}

/// A record's text and what the framer knows of it.
struct Record<'t> {
    text: &'t str,
    line: u64,
    unterminated: bool,
    invalid_utf8: bool,
}

/// What a [`FileSource`] hands each frame to: its parser and its counts (borrowed beside its
/// framer, whose frame borrows the framer).
struct Reading<'s> {
    parser: &'s mut dyn RecordParser,
    stats: &'s mut FileStats,
    /// The records are JSON (see [`FileSource`]'s `json`).
    json: bool,
}

impl Reading<'_> {
    /// Counts a frame: a skip, a reject, or a record for the parser.
    fn frame(&mut self, frame: Frame<'_>, out: &mut Vec<Event>) {
        match frame {
            Frame::Skipped { reason, .. } => {
                self.stats.records += 1;
                self.stats.skip(reason.into());
            }
            Frame::Bad {
                line,
                reason,
                detail,
            } => {
                self.stats.records += 1;
                self.stats.reject(line, reason.into(), detail);
                self.parser.unseen_record();
            }
            Frame::Record {
                text,
                line,
                unterminated,
                invalid_utf8,
            } => {
                let record = Record {
                    text: &text,
                    line,
                    unterminated,
                    invalid_utf8,
                };
                self.record(record, out);
            }
        }
    }

    /// Parses a record (a blank one is only counted) and counts its outcome.
    #[inline(always)]
    fn record(&mut self, record: Record<'_>, out: &mut Vec<Event>) {
        let Reading {
            parser,
            stats,
            json,
        } = self;
        let Record {
            text,
            line,
            unterminated,
            invalid_utf8,
        } = record;
        if crate::wire::text::trim(text).is_empty() {
            stats.blank += 1;
            return;
        }
        stats.records += 1;
        let before = out.len();
        let mut parsed = if invalid_utf8 {
            parser.parse_lossy(text, line, out)
        } else {
            parser.parse(text, line, out)
        };
        if *json && matches!(&parsed, Err(r) if r.reason == RejectReason::InvalidJson) {
            if let Some(fixed) = wire::json::replace_lone_surrogates(text) {
                out.truncate(before);
                parsed = parser.parse_lossy(&fixed, line, out);
            }
        }
        // A skipped or rejected record may still flush events held from earlier records (nettop's
        // pending process row): those are kept and counted.
        if parsed.is_ok() {
            stats.events += (out.len() - before) as u64;
        }
        parser.settle_held(stats);
        match parsed {
            Ok(Parsed::Events) => {}
            Ok(Parsed::Skipped(why)) => stats.skip(why),
            Ok(Parsed::Rejected(rej)) => {
                stats.reject(line, rej.reason.into(), rej.detail);
            }
            Err(rej) => {
                out.truncate(before);
                if unterminated {
                    stats.reject(
                        line,
                        RejectReason::TruncatedLastLine.into(),
                        format!(
                            "no newline at end of file and {}: {}",
                            rej.reason, rej.detail
                        ),
                    );
                } else {
                    stats.reject(line, rej.reason.into(), rej.detail);
                }
            }
        }
    }
}

enum Framer<R> {
    Lines(LineFramer<R>),
    Array(JsonArrayFramer<R>),
    Objects(JsonStreamFramer<R>),
    /// A binary capture decodes and aggregates its own records (see [`pcap`]).
    Capture(Box<pcap::CaptureReader<R>>),
}

/// A file (or stdin) being read: framing + parser + stats. Pull events with [`FileSource::next_events`].
pub struct FileSource<R> {
    framer: Framer<R>,
    parser: Box<dyn RecordParser>,
    pub stats: FileStats,
    done: bool,
    /// A segment of a file ends before this line (see [`FileSource::segment`]).
    end_line: Option<u64>,
    /// The records are JSON: a lone UTF-16 surrogate escape (`"\udcff"`, how a collector may write
    /// a byte that is not UTF-8) is read as U+FFFD instead of losing the record.
    json: bool,
}

impl<R: BufRead> FileSource<R> {
    pub fn new(reader: R, format: Format, ctx: SourceCtx) -> Self {
        let max = ctx.input.max_line_bytes;
        let framer =
            match format {
                Format::UnifiedLogJson => Framer::Array(JsonArrayFramer::new(reader, max)),
                Format::JamfProtect | Format::JamfTelemetry | Format::ElasticDefend => {
                    Framer::Objects(JsonStreamFramer::new(reader, max))
                }
                Format::Pcap | Format::Pcapng => Framer::Capture(Box::new(
                    pcap::CaptureReader::new(reader, format, ctx.clone()),
                )),
                _ => Framer::Lines(LineFramer::new(reader, max)),
            };
        Self::with_framer(framer, format, ctx)
    }

    /// Reads one segment of a line-framed file: `reader` is positioned at byte `offset`, where line
    /// `first_line` starts; reading stops before line `end_line`. Lets a hunt replay a file whose time
    /// runs backwards (concatenated captures) as separately ordered runs. Only for formats whose
    /// records stand alone ([`Format::segmentable`]).
    pub fn segment(
        reader: R,
        format: Format,
        ctx: SourceCtx,
        first_line: u64,
        offset: u64,
        end_line: Option<u64>,
    ) -> Self {
        let max = ctx.input.max_line_bytes;
        let framer = Framer::Lines(LineFramer::resume(
            reader,
            max,
            first_line.saturating_sub(1),
            offset,
        ));
        let mut s = Self::with_framer(framer, format, ctx);
        s.end_line = end_line;
        s
    }

    fn with_framer(framer: Framer<R>, format: Format, ctx: SourceCtx) -> Self {
        let stats = FileStats::new(ctx.path.to_string(), format.name());
        FileSource {
            framer,
            parser: new_parser(format, ctx),
            stats,
            done: false,
            end_line: None,
            json: format.is_json(),
        }
    }

    /// Line and byte offset of the record read last (line-framed formats; for captures, the
    /// 1-based packet/block index and the bytes read so far).
    pub fn last_record(&self) -> Option<(u64, u64)> {
        match &self.framer {
            Framer::Lines(f) => Some((f.line(), f.record_start())),
            Framer::Capture(c) => Some(c.position()),
            Framer::Array(_) | Framer::Objects(_) => None,
        }
    }

    /// Reads records until at least one event is produced or the input ends; appends to `out`.
    /// Returns false once the input is exhausted (and `finish` has flushed).
    pub fn next_events(&mut self, out: &mut Vec<Event>) -> std::io::Result<bool> {
        if self.done {
            return Ok(false);
        }
        if let Framer::Capture(c) = &mut self.framer {
            let more = c.next_events(out, &mut self.stats)?;
            self.done = !more;
            return Ok(more);
        }
        let start = out.len();
        let mut reading = Reading {
            parser: &mut *self.parser,
            stats: &mut self.stats,
            json: self.json,
        };
        while out.len() == start {
            // Most records: a plain ASCII line whole in the buffer, read without a `Frame`.
            if let (Framer::Lines(f), None) = (&mut self.framer, self.end_line) {
                if let Some((bytes, line)) = f.next_whole_line()? {
                    if let Some(text) = framing::ascii_text(bytes) {
                        let record = Record {
                            text,
                            line,
                            unterminated: false,
                            invalid_utf8: false,
                        };
                        reading.record(record, out);
                    } else {
                        reading.frame(framing::record(bytes, line, false), out);
                    }
                    continue;
                }
            }
            let frame = match &mut self.framer {
                Framer::Lines(f) => f.next_frame()?,
                Framer::Array(f) => f.next_frame()?,
                Framer::Objects(f) => f.next_frame()?,
                Framer::Capture(_) => None,
            };
            let past_end = match (&frame, self.end_line) {
                (Some(f), Some(end)) => f.line() >= end,
                _ => false,
            };
            let frame = if past_end { None } else { frame };
            let Some(frame) = frame else {
                self.parser.finish(out);
                self.parser.settle_held(&mut self.stats);
                self.stats.events += (out.len() - start) as u64;
                self.stats.notes.extend(self.parser.notes());
                self.stats.carried = self.parser.carried();
                self.done = true;
                return Ok(out.len() > start);
            };
            reading.frame(frame, out);
        }
        Ok(true)
    }

    pub fn utc_offset(&self) -> Option<i32> {
        self.parser.utc_offset()
    }
}

#[cfg(test)]
pub(crate) mod testutil {
    use super::*;

    pub fn ctx(path: &str) -> SourceCtx {
        SourceCtx {
            file_id: 0,
            path: Arc::from(path),
            host: Arc::from("testhost"),
            host_forced: false,
            clock: ClockHints::default(),
            input: floodwatch_core::config::Config::default().input,
        }
    }

    /// `tests/data/corpus/{path}` of the workspace.
    pub fn corpus_path(path: &str) -> String {
        format!(
            "{}/../../tests/data/corpus/{path}",
            env!("CARGO_MANIFEST_DIR")
        )
    }

    pub fn corpus(path: &str) -> Vec<u8> {
        std::fs::read(corpus_path(path)).unwrap()
    }

    /// Broken copies of `line` for the differential tests of the scanners: at every `step`-th
    /// character, the line without it, with it doubled, and with it replaced by each of JSON's own
    /// characters (and a few others a scanner must refuse or read as serde does).
    pub fn broken_copies(line: &str, step: usize) -> Vec<String> {
        const SWAPS: [&str; 15] = [
            "\"", "{", "}", "[", "]", ",", ":", "\\", "0", "-", ".", "e", " ", "\u{1}", "é",
        ];
        let mut out = Vec::new();
        for (i, c) in line.char_indices().step_by(step) {
            let next = i + c.len_utf8();
            out.push(format!("{}{}", &line[..i], &line[next..]));
            out.push(format!("{}{c}{}", &line[..next], &line[next..]));
            for s in SWAPS {
                out.push(format!("{}{s}{}", &line[..i], &line[next..]));
            }
        }
        out
    }

    /// Reads a whole input through a FileSource; returns events and stats.
    pub fn read_all(data: &[u8], format: Format, ctx: SourceCtx) -> (Vec<Event>, FileStats) {
        let mut src = FileSource::new(data, format, ctx);
        let mut out = Vec::new();
        while src.next_events(&mut out).unwrap() {}
        (out, src.stats)
    }
}
