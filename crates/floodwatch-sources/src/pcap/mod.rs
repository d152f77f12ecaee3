//! Packet captures: legacy pcap (microsecond or nanosecond timestamps, either byte order) and pcapng,
//! including Apple's `tcpdump -k` additions (shared/docs/telemetry-formats.md §5): the Process
//! Information Block (PIB, `0x80000001`), the EPB options naming a packet's PIB, and the PKTAP link
//! type whose per-packet header carries the sending pid and command name.
//!
//! Blocks are parsed with `pcap-parser`; link layers (Ethernet, BSD loopback, raw IP, Linux SLL,
//! PKTAP) and IPv4/IPv6/TCP/UDP headers are decoded here, only as far as the engine needs.
//!
//! **Aggregated, not one event per packet.** Packets are summed per key (source address, IP
//! protocol, destination host, pid when known) within the same [`BUCKET_NS`] of capture time, into
//! one [`Traffic`](floodwatch_core::event::Traffic) whose `start`/`ts` are the bucket's first and last packet, so
//! `packets_out / (ts - start)` is the real rate and the engine, which adds a sample shorter than
//! its window whole, counts every packet once. The destination *port* is not part of the key: a SYN
//! flood to random ports (CIC-DDoS2019) stays one event per second, whose `remote` is then the bare
//! host; when a bucket saw a single port, `remote` is `host:port`. Every packet is outbound from its
//! own source address, which becomes `local`: a capture does not say which host is "ours", so both
//! directions are emitted, each keyed by its sender, and the engine decides (an EPB or PKTAP header
//! that marks a packet inbound is the exception: it is skipped).
//!
//! **Processes.** A PIB (pcapng) or PKTAP header (pcap) puts `pid`, `process_name` (and from a PIB
//! `process_path`) on the Traffic itself, and the pid is part of the key. No ProcessSeen is emitted:
//! it would only repeat those three fields, which the engine already registers from the Traffic,
//! and a PIB says nothing of parent, user or arguments.
//!
//! **Accounting.** A record is a packet record (pcap) or a block (pcapng); its `line` in rejects and
//! in event origins is its **1-based packet/block index** in the file (an event's is its bucket's
//! first packet; 0 is the pcap file header). Packets summed into an event are `carried`, so
//! `records = events + skipped + rejected + carried`. A file that ends inside a record gets one
//! "truncated record" reject and what was read before is kept.
//!
//! Files: `blocks` reads the file header, packet records and pcapng blocks (sections, interfaces,
//! process blocks); `link` decodes link layers, `pktap` Apple's PKTAP header and `ip` the IP
//! and transport headers; `aggregate` sums the packets into per-second Traffic events.

mod aggregate;
mod blocks;
mod ip;
mod link;
mod pktap;
#[cfg(test)]
mod tests;

pub use blocks::PCAPNG_BT_PIB;
pub(crate) use ip::{icmp4_answer, icmp6_answer};

use crate::stats::FileStats;
use crate::{Format, RejectReason, SourceCtx};
use aggregate::Aggregator;
use blocks::Section;
use floodwatch_core::event::Event;
use floodwatch_core::time::NANOS_PER_SEC;
use std::io::{self, BufRead};

/// Aggregation interval, in capture time. One second: rates are per second, the engine's windows
/// are whole seconds (at least 1 s, 30 s by default) so a bucket never spans more than one window
/// (it is added whole, never pro-rated), and it bounds the output to one event per key per second
/// (the 26,316-packet SynFlood sample becomes 2 events) while keeping a burst's shape.
pub const BUCKET_NS: i64 = NANOS_PER_SEC;

/// Largest record read (a pcap packet record or a pcapng block). Real snaplens are at most 256 KiB;
/// a larger length is a corrupt file, and reading it would only hold memory.
pub const MAX_RECORD_BYTES: usize = 16 << 20;

/// Where the sending process comes from: a pcapng PIB (pid, name, path) or a PKTAP header (pid,
/// command name).
#[derive(Clone, Debug, PartialEq, Eq)]
struct ProcessTag {
    pid: i32,
    name: Option<String>,
    path: Option<String>,
}

fn be16(d: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(d.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(d: &[u8], at: usize, be: bool) -> Option<u32> {
    let b: [u8; 4] = d.get(at..at + 4)?.try_into().ok()?;
    Some(if be {
        u32::from_be_bytes(b)
    } else {
        u32::from_le_bytes(b)
    })
}

enum State {
    /// The file header (pcap) or first section header (pcapng) is next.
    Start,
    Pcap {
        be: bool,
        nanos: bool,
        linktype: i32,
    },
    Pcapng(Option<Section>),
    Done,
}

/// Streams a capture record by record (never the whole file), aggregating its packets.
pub struct CaptureReader<R> {
    reader: R,
    ctx: SourceCtx,
    ng: bool,
    state: State,
    /// The record being read; reused.
    buf: Vec<u8>,
    /// 1-based index of the last record read.
    index: u64,
    /// Bytes consumed.
    offset: u64,
    agg: Aggregator,
}

enum Step {
    More,
    End,
}

impl<R: BufRead> CaptureReader<R> {
    pub fn new(reader: R, format: Format, ctx: SourceCtx) -> Self {
        CaptureReader {
            reader,
            ctx,
            ng: format == Format::Pcapng,
            state: State::Start,
            buf: Vec::new(),
            index: 0,
            offset: 0,
            agg: Aggregator::new(),
        }
    }

    /// 1-based index and byte offset of the record read last.
    pub fn position(&self) -> (u64, u64) {
        (self.index, self.offset)
    }

    /// Reads records until at least one event is produced or the input ends (then flushes).
    /// Returns false once the input is exhausted.
    pub fn next_events(&mut self, out: &mut Vec<Event>, stats: &mut FileStats) -> io::Result<bool> {
        if matches!(self.state, State::Done) {
            return Ok(false);
        }
        let start = out.len();
        let more = loop {
            match self.step(out, stats)? {
                Step::More if out.len() == start => continue,
                Step::More => break true,
                Step::End => {
                    self.agg.flush(&self.ctx, out);
                    self.state = State::Done;
                    break false;
                }
            }
        };
        stats.events += (out.len() - start) as u64;
        stats.carried = self.agg.carried();
        Ok(more || out.len() > start)
    }

    /// Appends exactly `n` more bytes to `buf` unless the input ends first; returns how many came.
    fn fill(&mut self, n: usize) -> io::Result<usize> {
        let at = self.buf.len();
        self.buf.resize(at + n, 0);
        let mut got = 0;
        while got < n {
            match self.reader.read(&mut self.buf[at + got..]) {
                Ok(0) => break,
                Ok(k) => got += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        self.buf.truncate(at + got);
        self.offset += got as u64;
        Ok(got)
    }

    fn step(&mut self, out: &mut Vec<Event>, stats: &mut FileStats) -> io::Result<Step> {
        match self.state {
            State::Done => Ok(Step::End),
            State::Start if self.ng => {
                self.state = State::Pcapng(None);
                Ok(Step::More)
            }
            State::Start => self.pcap_header(stats),
            State::Pcap {
                be,
                nanos,
                linktype,
            } => self.pcap_record(be, nanos, linktype, out, stats),
            State::Pcapng(_) => self.pcapng_block(out, stats),
        }
    }
}

/// Captures are not text records: [`new_parser`](crate::new_parser) returns this for them so it stays
/// total, and it rejects any record handed to it (a [`FileSource`](crate::FileSource) never does).
pub struct NotText;

impl crate::RecordParser for NotText {
    fn parse(
        &mut self,
        _record: &str,
        _line: u64,
        _out: &mut Vec<Event>,
    ) -> Result<crate::Parsed, crate::Reject> {
        Err(crate::Reject::new(
            RejectReason::BinaryFormat,
            "captures are read by pcap::CaptureReader, not as text records",
        ))
    }
}
