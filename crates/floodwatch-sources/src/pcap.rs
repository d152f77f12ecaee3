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
//! one [`Traffic`] whose `start`/`ts` are the bucket's first and last packet, so
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

use crate::stats::FileStats;
use crate::{Format, RejectReason, SourceCtx};
use floodwatch_core::event::{Event, EventKind, Origin, Proto, Traffic};
use floodwatch_core::time::NANOS_PER_SEC;
use floodwatch_core::Ts;
use foldhash::{HashMap, HashMapExt};
use pcap_parser::pcapng::{
    parse_enhancedpacketblock_be, parse_enhancedpacketblock_le, parse_interfacedescriptionblock_be,
    parse_interfacedescriptionblock_le, parse_processinformationblock_be,
    parse_processinformationblock_le, parse_sectionheaderblock, EnhancedPacketBlock, PcapNGOption,
};
use pcap_parser::traits::PcapNGPacketBlock;
use std::borrow::Cow;
use std::io::{self, BufRead};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Aggregation interval, in capture time. One second: rates are per second, the engine's windows
/// are whole seconds (at least 1 s, 30 s by default) so a bucket never spans more than one window
/// (it is added whole, never pro-rated), and it bounds the output to one event per key per second
/// (the 26,316-packet SynFlood sample becomes 2 events) while keeping a burst's shape.
pub const BUCKET_NS: i64 = NANOS_PER_SEC;

/// Largest record read (a pcap packet record or a pcapng block). Real snaplens are at most 256 KiB;
/// a larger length is a corrupt file, and reading it would only hold memory.
pub const MAX_RECORD_BYTES: usize = 16 << 20;

/// Open buckets before they are flushed early (a spoofed-source flood makes one key per packet):
/// keeps memory bounded whatever the capture holds.
const MAX_OPEN_BUCKETS: usize = 65_536;

pub const PCAPNG_BT_PIB: u32 = 0x8000_0001;
const BT_SHB: u32 = 0x0A0D_0D0A;
const BT_IDB: u32 = 1;
const BT_SPB: u32 = 3;
const BT_EPB: u32 = 6;
/// EPB options (pcapng `epb_flags`, Apple `PIB_INDEX`, `E_PIB_INDEX`).
const OPT_EPB_FLAGS: u16 = 2;
const OPT_EPB_PIB_INDEX: u16 = 0x8001;
const OPT_EPB_E_PIB_INDEX: u16 = 0x8003;
/// PIB options.
const OPT_PIB_NAME: u16 = 2;
const OPT_PIB_PATH: u16 = 3;

const LINKTYPE_NULL: i32 = 0;
const LINKTYPE_ETHERNET: i32 = 1;
/// DLT_RAW as Darwin/BSD number it in memory (12; OpenBSD 14); files say 101.
const DLT_RAW_BSD: i32 = 12;
const DLT_RAW_OPENBSD: i32 = 14;
const LINKTYPE_RAW: i32 = 101;
const LINKTYPE_LOOP: i32 = 108;
const LINKTYPE_LINUX_SLL: i32 = 113;
/// Darwin's DLT_PKTAP (149) as found in a file written without the LINKTYPE mapping.
const DLT_PKTAP_DARWIN: i32 = 149;
const LINKTYPE_IPV4: i32 = 228;
const LINKTYPE_IPV6: i32 = 229;
const LINKTYPE_PKTAP: i32 = 258;

/// Where the sending process comes from: a pcapng PIB (pid, name, path) or a PKTAP header (pid,
/// command name).
#[derive(Clone, Debug, PartialEq, Eq)]
struct ProcessTag {
    pid: i32,
    name: Option<String>,
    path: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Key {
    src: IpAddr,
    dst: IpAddr,
    ip_proto: u8,
    pid: Option<i32>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ports {
    None,
    One(u16),
    Many,
}

struct Bucket {
    first: u64,
    start: Ts,
    end: Ts,
    packets: u64,
    bytes: u64,
    syn: u64,
    port: Ports,
    name: Option<String>,
    path: Option<String>,
}

/// Sums packets into per-key, per-second buckets and emits them, time-ordered, when capture time
/// moves on to the next second.
struct Aggregator {
    open: HashMap<Key, Bucket>,
    second: Option<i64>,
    packets: u64,
    emitted: u64,
}

impl Aggregator {
    fn new() -> Self {
        Aggregator {
            open: HashMap::new(),
            second: None,
            packets: 0,
            emitted: 0,
        }
    }

    fn add(
        &mut self,
        ctx: &SourceCtx,
        ts: Ts,
        index: u64,
        pkt: &Packet,
        proc: Option<&ProcessTag>,
        out: &mut Vec<Event>,
    ) {
        let sec = ts.0.div_euclid(BUCKET_NS);
        match self.second {
            // A packet up to a second late (captures merged from interfaces are not strictly
            // ordered) joins the open buckets instead of emitting events out of order.
            Some(cur) if sec == cur || sec == cur - 1 => {}
            Some(_) => {
                self.flush(ctx, out);
                self.second = Some(sec);
            }
            None => self.second = Some(sec),
        }
        let key = Key {
            src: pkt.src,
            dst: pkt.dst,
            ip_proto: pkt.ip_proto,
            pid: proc.map(|p| p.pid),
        };
        if self.open.len() >= MAX_OPEN_BUCKETS && !self.open.contains_key(&key) {
            self.flush(ctx, out);
        }
        self.packets += 1;
        let syn = u64::from(pkt.tcp_flags.is_some_and(|f| f & 0x12 == 0x02));
        let b = self.open.entry(key).or_insert_with(|| Bucket {
            first: index,
            start: ts,
            end: ts,
            packets: 0,
            bytes: 0,
            syn: 0,
            port: pkt.dst_port.map_or(Ports::None, Ports::One),
            name: proc.and_then(|p| p.name.clone()),
            path: proc.and_then(|p| p.path.clone()),
        });
        b.start = b.start.min(ts);
        b.end = b.end.max(ts);
        b.packets += 1;
        b.bytes += u64::from(pkt.ip_len);
        b.syn += syn;
        b.port = match (b.port, pkt.dst_port) {
            (Ports::One(p), Some(q)) if p == q => Ports::One(p),
            (Ports::None, None) => Ports::None,
            _ => Ports::Many,
        };
    }

    fn flush(&mut self, ctx: &SourceCtx, out: &mut Vec<Event>) {
        let mut done: Vec<(Key, Bucket)> = self.open.drain().collect();
        done.sort_by_key(|(_, b)| (b.end, b.first));
        self.emitted += done.len() as u64;
        for (k, b) in done {
            let proto = match k.ip_proto {
                6 => Proto::Tcp,
                17 => Proto::Udp,
                1 | 58 => Proto::Icmp,
                _ => Proto::Other,
            };
            let remote = match (b.port, k.dst) {
                (Ports::One(p), IpAddr::V6(a)) => format!("[{a}]:{p}"),
                (Ports::One(p), IpAddr::V4(a)) => format!("{a}:{p}"),
                (_, a) => a.to_string(),
            };
            let tcp = proto == Proto::Tcp;
            out.push(Event {
                ts: b.end,
                host: ctx.host.clone(),
                origin: Origin {
                    file: ctx.file_id,
                    line: b.first,
                },
                kind: EventKind::Traffic(Box::new(Traffic {
                    pid: k.pid,
                    process_name: b.name,
                    process_path: b.path,
                    uid: None,
                    start: b.start,
                    proto,
                    remote: Some(remote),
                    bytes_out: b.bytes,
                    bytes_in: 0,
                    packets_out: Some(b.packets),
                    packets_in: None,
                    new_connections: if tcp {
                        u32::try_from(b.syn).unwrap_or(u32::MAX)
                    } else {
                        0
                    },
                    local: Some(k.src.to_string()),
                    syn_out: tcp.then_some(b.syn),
                })),
            });
        }
        self.second = None;
    }
}

/// What the engine needs of one IP packet.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Packet {
    src: IpAddr,
    dst: IpAddr,
    ip_proto: u8,
    /// Destination port (TCP/UDP whose header was captured).
    dst_port: Option<u16>,
    tcp_flags: Option<u8>,
    /// The IP length (header + payload) as sent, even when the capture cut the packet short.
    ip_len: u32,
}

/// The outcome of decoding one captured frame.
#[derive(Debug, PartialEq, Eq)]
enum Decoded {
    Ip(Packet),
    /// Not IP traffic (ARP, LLDP, ...): skipped with this reason.
    NotIp(Cow<'static, str>),
    /// Should have been IP but cannot be read: rejected.
    Bad(RejectReason, String),
}

/// Direction and process from a PKTAP header.
#[derive(Debug, Default)]
struct Pktap {
    inbound: bool,
    process: Option<ProcessTag>,
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

/// Decodes a frame of `linktype`; `pktap` receives the PKTAP header's facts when there is one.
fn decode_link(linktype: i32, data: &[u8], pktap: &mut Pktap, depth: u8) -> Decoded {
    match linktype {
        LINKTYPE_ETHERNET => decode_ethernet(data),
        LINKTYPE_NULL | LINKTYPE_LOOP => {
            // BSD loopback: the address family in the capturing host's order (DLT_NULL) or network
            // order (LOOP); AF_INET is 2 everywhere, AF_INET6 is 30 on Darwin, 24/28 on other BSDs,
            // 10 on Linux.
            let (Some(le), Some(be)) = (u32_at(data, 0, false), u32_at(data, 0, true)) else {
                return Decoded::Bad(
                    RejectReason::TruncatedFrame,
                    "loopback header under 4 bytes".into(),
                );
            };
            let family = if le < 256 { le } else { be };
            match family {
                2 | 10 | 24 | 28 | 30 => decode_ip(&data[4..]),
                f => Decoded::NotIp(format!("loopback address family {f}").into()),
            }
        }
        LINKTYPE_RAW | DLT_RAW_BSD | DLT_RAW_OPENBSD | LINKTYPE_IPV4 | LINKTYPE_IPV6 => {
            decode_ip(data)
        }
        LINKTYPE_LINUX_SLL => match be16(data, 14) {
            Some(0x0800 | 0x86DD) => decode_ip(&data[16..]),
            Some(t) => Decoded::NotIp(format!("ethertype 0x{t:04x}").into()),
            None => Decoded::Bad(
                RejectReason::TruncatedFrame,
                "Linux cooked header under 16 bytes".into(),
            ),
        },
        LINKTYPE_PKTAP | DLT_PKTAP_DARWIN if depth == 0 => decode_pktap(data, pktap),
        other => Decoded::NotIp(format!("link type {other} not decoded").into()),
    }
}

/// Darwin `struct pktap_header`, host (little-endian) order: pth_length 0, pth_type_next 4, pth_dlt 8,
/// pth_ifname 12..36, pth_flags 36, pth_pid 52, pth_comm 56..76 (MAXCOMLEN+1, NUL-padded).
fn decode_pktap(data: &[u8], pktap: &mut Pktap) -> Decoded {
    const PTH_TYPE_PACKET: u32 = 1;
    const PTH_FLAG_DIR_IN: u32 = 0x1;
    let (Some(len), Some(kind), Some(dlt), Some(flags), Some(pid)) = (
        u32_at(data, 0, false),
        u32_at(data, 4, false),
        u32_at(data, 8, false),
        u32_at(data, 36, false),
        u32_at(data, 52, false),
    ) else {
        return Decoded::Bad(
            RejectReason::TruncatedFrame,
            "PKTAP header under 56 bytes".into(),
        );
    };
    let len = len as usize;
    if len < 76 || len > data.len() {
        return Decoded::Bad(
            RejectReason::CorruptFrame,
            format!("PKTAP header length {len} (frame {} bytes)", data.len()),
        );
    }
    if kind != PTH_TYPE_PACKET {
        return Decoded::NotIp(format!("PKTAP record type {kind}").into());
    }
    let comm = &data[56..76];
    let comm = &comm[..comm.iter().position(|&b| b == 0).unwrap_or(comm.len())];
    pktap.inbound = flags & PTH_FLAG_DIR_IN != 0;
    pktap.process = Some(ProcessTag {
        pid: pid as i32,
        name: (!comm.is_empty()).then(|| String::from_utf8_lossy(comm).into_owned()),
        path: None,
    });
    decode_link(dlt as i32, &data[len..], pktap, 1)
}

fn decode_ethernet(data: &[u8]) -> Decoded {
    let mut at = 12;
    // Up to two VLAN tags (802.1Q, 802.1ad QinQ).
    for _ in 0..3 {
        let Some(t) = be16(data, at) else {
            return Decoded::Bad(
                RejectReason::TruncatedFrame,
                format!("Ethernet header ({} bytes)", data.len()),
            );
        };
        match t {
            0x8100 | 0x88A8 => at += 4,
            0x0800 | 0x86DD => return decode_ip(&data[at + 2..]),
            0x0806 => return Decoded::NotIp("ARP".into()),
            t => return Decoded::NotIp(format!("ethertype 0x{t:04x}").into()),
        }
    }
    Decoded::NotIp("more than two VLAN tags".into())
}

fn decode_ip(d: &[u8]) -> Decoded {
    match d.first().map(|b| b >> 4) {
        Some(4) => decode_ipv4(d),
        Some(6) => decode_ipv6(d),
        Some(v) => Decoded::Bad(RejectReason::CorruptIpHeader, format!("IP version {v}")),
        None => Decoded::Bad(RejectReason::TruncatedFrame, "no IP header".into()),
    }
}

fn decode_ipv4(d: &[u8]) -> Decoded {
    if d.len() < 20 {
        return Decoded::Bad(
            RejectReason::TruncatedIpHeader,
            format!("IPv4 header: {} of 20 bytes", d.len()),
        );
    }
    let ihl = usize::from(d[0] & 0x0F) * 4;
    if ihl < 20 {
        return Decoded::Bad(
            RejectReason::CorruptIpHeader,
            format!("IPv4 header length {ihl}"),
        );
    }
    let total = be16(d, 2).unwrap_or(0);
    let frag_offset = be16(d, 6).unwrap_or(0) & 0x1FFF;
    let ip_proto = d[9];
    let src = Ipv4Addr::new(d[12], d[13], d[14], d[15]);
    let dst = Ipv4Addr::new(d[16], d[17], d[18], d[19]);
    // Segmentation offload shows total length 0 in local captures: fall back to what was captured.
    let ip_len = if total == 0 {
        d.len() as u32
    } else {
        u32::from(total)
    };
    // Later fragments carry no transport header.
    let l4 = if frag_offset == 0 { d.get(ihl..) } else { None };
    Decoded::Ip(transport(
        IpAddr::V4(src),
        IpAddr::V4(dst),
        ip_proto,
        l4,
        ip_len,
    ))
}

fn decode_ipv6(d: &[u8]) -> Decoded {
    if d.len() < 40 {
        return Decoded::Bad(
            RejectReason::TruncatedIpHeader,
            format!("IPv6 header: {} of 40 bytes", d.len()),
        );
    }
    let payload = be16(d, 4).unwrap_or(0);
    let mut next = d[6];
    let mut src = [0u8; 16];
    let mut dst = [0u8; 16];
    src.copy_from_slice(&d[8..24]);
    dst.copy_from_slice(&d[24..40]);
    let ip_len = if payload == 0 {
        d.len() as u32
    } else {
        40 + u32::from(payload)
    };
    let mut at = 40;
    let mut l4 = None;
    // Skip extension headers (hop-by-hop, routing, fragment, destination options) to the transport.
    for _ in 0..8 {
        match next {
            0 | 43 | 60 => {
                let (Some(&n), Some(&len)) = (d.get(at), d.get(at + 1)) else {
                    break;
                };
                next = n;
                at += (usize::from(len) + 1) * 8;
            }
            44 => {
                let (Some(&n), Some(off)) = (d.get(at), be16(d, at + 2)) else {
                    break;
                };
                next = n;
                at += 8;
                if off & 0xFFF8 != 0 {
                    break;
                }
            }
            _ => {
                l4 = d.get(at..);
                break;
            }
        }
    }
    Decoded::Ip(transport(
        IpAddr::V6(Ipv6Addr::from(src)),
        IpAddr::V6(Ipv6Addr::from(dst)),
        next,
        l4,
        ip_len,
    ))
}

/// Ports and TCP flags when the transport header was captured (a short snaplen may cut it: the
/// packet still counts, without them).
fn transport(src: IpAddr, dst: IpAddr, ip_proto: u8, l4: Option<&[u8]>, ip_len: u32) -> Packet {
    let l4 = l4.unwrap_or(&[]);
    let (dst_port, tcp_flags) = match ip_proto {
        6 => (be16(l4, 2), l4.get(13).copied()),
        17 => (be16(l4, 2), None),
        _ => (None, None),
    };
    Packet {
        src,
        dst,
        ip_proto,
        dst_port,
        tcp_flags,
        ip_len,
    }
}

struct Interface {
    linktype: i32,
    /// Timestamp units per second (None: an `if_tsresol` that fits no integer).
    units: Option<u64>,
    offset_secs: i64,
}

impl Interface {
    fn ts(&self, high: u32, low: u32) -> Option<Ts> {
        let units = u128::from(self.units?);
        let raw = (u128::from(high) << 32) | u128::from(low);
        let secs = i64::try_from(raw / units).ok()?;
        let nanos = ((raw % units) * 1_000_000_000 / units) as i64;
        let secs = secs.checked_add(self.offset_secs)?;
        Some(Ts(secs.checked_mul(NANOS_PER_SEC)?.checked_add(nanos)?))
    }
}

/// `if_tsresol`: 10^-n seconds, or 2^-n when the high bit is set.
fn ts_units(r: u8) -> Option<u64> {
    if r & 0x80 == 0 {
        10u64.checked_pow(u32::from(r))
    } else {
        1u64.checked_shl(u32::from(r & 0x7F))
            .filter(|_| r & 0x7F < 64)
    }
}

/// One pcapng section: its byte order, interfaces and process blocks (both numbered from 0 in the
/// order they appear, and reset by the next section header).
struct Section {
    be: bool,
    interfaces: Vec<Interface>,
    processes: Vec<ProcessTag>,
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
        stats.carried = self.agg.packets - self.agg.emitted;
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

    fn pcap_header(&mut self, stats: &mut FileStats) -> io::Result<Step> {
        self.buf.clear();
        let got = self.fill(24)?;
        let header = pcap_parser::pcap::parse_pcap_header(&self.buf)
            .ok()
            .map(|(_, h)| h);
        match header {
            Some(h) if got == 24 && !h.is_modified_format() => {
                self.state = State::Pcap {
                    be: h.is_bigendian(),
                    nanos: h.is_nanosecond_precision(),
                    linktype: h.network.0,
                };
                Ok(Step::More)
            }
            _ => {
                let (reason, detail) = if got < 4 {
                    (RejectReason::NotACapture, format!("{got} bytes"))
                } else if header.as_ref().is_some_and(|h| h.is_modified_format()) {
                    (
                        RejectReason::NotACapture,
                        "modified (Kuznetzov) pcap is not read".to_string(),
                    )
                } else if header.is_some() || got < 24 && pcap_magic(&self.buf) {
                    (
                        RejectReason::TruncatedRecord,
                        format!("pcap file header: {got} of 24 bytes"),
                    )
                } else {
                    (
                        RejectReason::NotACapture,
                        "no pcap magic number".to_string(),
                    )
                };
                stats.records += 1;
                stats.reject(0, reason.into(), detail);
                Ok(Step::End)
            }
        }
    }

    /// Reads the next record's fixed-size header (`n` bytes, named `what` in the reject) into `buf`
    /// and counts the record. None: the input ended, cleanly or (rejected) inside the header.
    fn record_header(
        &mut self,
        n: usize,
        what: &str,
        stats: &mut FileStats,
    ) -> io::Result<Option<u64>> {
        self.buf.clear();
        let got = self.fill(n)?;
        if got == 0 {
            return Ok(None);
        }
        self.index += 1;
        stats.records += 1;
        if got < n {
            let detail = format!("{what}: {got} of {n} bytes at end of file");
            stats.reject(self.index, RejectReason::TruncatedRecord.into(), detail);
            return Ok(None);
        }
        Ok(Some(self.index))
    }

    fn pcap_record(
        &mut self,
        be: bool,
        nanos: bool,
        linktype: i32,
        out: &mut Vec<Event>,
        stats: &mut FileStats,
    ) -> io::Result<Step> {
        let Some(index) = self.record_header(16, "packet record header", stats)? else {
            return Ok(Step::End);
        };
        let caplen = u32_at(&self.buf, 8, be).unwrap_or(0) as usize;
        if caplen > MAX_RECORD_BYTES {
            let detail = format!(
                "captured length {caplen} over {MAX_RECORD_BYTES} bytes: the rest of the file is not read"
            );
            stats.reject(index, RejectReason::CorruptRecord.into(), detail);
            return Ok(Step::End);
        }
        let got = self.fill(caplen)?;
        if got < caplen {
            let detail = format!("packet data: {got} of {caplen} bytes at end of file");
            stats.reject(index, RejectReason::TruncatedRecord.into(), detail);
            return Ok(Step::End);
        }
        let parsed = if be {
            pcap_parser::pcap::parse_pcap_frame_be(&self.buf)
        } else {
            pcap_parser::pcap::parse_pcap_frame(&self.buf)
        };
        let Ok((_, frame)) = parsed else {
            stats.reject(
                index,
                RejectReason::CorruptRecord.into(),
                "packet record".into(),
            );
            return Ok(Step::More);
        };
        let frac = if nanos {
            i64::from(frame.ts_usec)
        } else {
            i64::from(frame.ts_usec) * 1000
        };
        let ts = Ts(i64::from(frame.ts_sec) * NANOS_PER_SEC + frac);
        let mut pktap = Pktap::default();
        let decoded = decode_link(linktype, frame.data, &mut pktap, 0);
        account(
            &mut self.agg,
            &self.ctx,
            ts,
            index,
            decoded,
            &pktap,
            None,
            out,
            stats,
        );
        Ok(Step::More)
    }

    fn pcapng_block(&mut self, out: &mut Vec<Event>, stats: &mut FileStats) -> io::Result<Step> {
        let Some(index) = self.record_header(8, "block header", stats)? else {
            return Ok(Step::End);
        };
        let is_shb = self.buf[..4] == BT_SHB.to_le_bytes();
        let be = if is_shb {
            // The section's byte order is its byte-order magic's.
            if self.fill(4)? < 4 {
                stats.reject(
                    index,
                    RejectReason::TruncatedRecord.into(),
                    "section header at end of file".into(),
                );
                return Ok(Step::End);
            }
            match self.buf[8..12] {
                [0x4D, 0x3C, 0x2B, 0x1A] => false,
                [0x1A, 0x2B, 0x3C, 0x4D] => true,
                _ => {
                    let detail = "section header without the byte-order magic".to_string();
                    let reason = if index == 1 {
                        RejectReason::NotACapture
                    } else {
                        RejectReason::CorruptRecord
                    };
                    stats.reject(index, reason.into(), detail);
                    return Ok(Step::End);
                }
            }
        } else {
            match &self.state {
                State::Pcapng(Some(s)) => s.be,
                _ => {
                    let detail = "first block is not a pcapng section header".to_string();
                    stats.reject(index, RejectReason::NotACapture.into(), detail);
                    return Ok(Step::End);
                }
            }
        };
        let block_type = u32_at(&self.buf, 0, be).unwrap_or(0);
        let len = u32_at(&self.buf, 4, be).unwrap_or(0) as usize;
        if len < 12 || len & 3 != 0 || len > MAX_RECORD_BYTES || len < self.buf.len() {
            // The next block cannot be found without a valid length.
            let detail = format!(
                "block type 0x{block_type:08x} length {len}: the rest of the file is not read"
            );
            stats.reject(index, RejectReason::CorruptRecord.into(), detail);
            return Ok(Step::End);
        }
        let have = self.buf.len();
        let got = self.fill(len - have)?;
        if got < len - have {
            let detail = format!(
                "block type 0x{block_type:08x}: {} of {len} bytes at end of file",
                have + got
            );
            stats.reject(index, RejectReason::TruncatedRecord.into(), detail);
            return Ok(Step::End);
        }
        let buf = std::mem::take(&mut self.buf);
        self.block(block_type, be, &buf, index, out, stats);
        self.buf = buf;
        Ok(Step::More)
    }

    /// One whole pcapng block. Only the blocks used are parsed; the others are skipped by length.
    fn block(
        &mut self,
        block_type: u32,
        be: bool,
        buf: &[u8],
        index: u64,
        out: &mut Vec<Event>,
        stats: &mut FileStats,
    ) {
        let corrupt = |stats: &mut FileStats, what: &str| {
            let detail = format!("{what} block does not parse");
            stats.reject(index, RejectReason::CorruptRecord.into(), detail);
        };
        match block_type {
            BT_SHB => {
                if parse_sectionheaderblock(buf).is_err() {
                    return corrupt(stats, "section header");
                }
                self.state = State::Pcapng(Some(Section {
                    be,
                    interfaces: Vec::new(),
                    processes: Vec::new(),
                }));
                stats.skip("pcapng section header".into());
            }
            BT_IDB => {
                let parsed = if be {
                    parse_interfacedescriptionblock_be(buf)
                } else {
                    parse_interfacedescriptionblock_le(buf)
                };
                let Ok((_, idb)) = parsed else {
                    return corrupt(stats, "interface description");
                };
                if let State::Pcapng(Some(s)) = &mut self.state {
                    s.interfaces.push(Interface {
                        linktype: idb.linktype.0,
                        units: ts_units(idb.if_tsresol),
                        offset_secs: idb.if_tsoffset,
                    });
                }
                stats.skip("pcapng interface description".into());
            }
            PCAPNG_BT_PIB => {
                let parsed = if be {
                    parse_processinformationblock_be(buf)
                } else {
                    parse_processinformationblock_le(buf)
                };
                let Ok((_, pib)) = parsed else {
                    return corrupt(stats, "process information");
                };
                let text = |code: u16| {
                    option(&pib.options, code)
                        .map(|v| {
                            String::from_utf8_lossy(v)
                                .trim_end_matches('\0')
                                .to_string()
                        })
                        .filter(|s| !s.is_empty())
                };
                let tag = ProcessTag {
                    // "As reported by the OS, may wrap": kept as the kernel's pid_t.
                    pid: pib.process_id as i32,
                    name: text(OPT_PIB_NAME),
                    path: text(OPT_PIB_PATH),
                };
                if let State::Pcapng(Some(s)) = &mut self.state {
                    s.processes.push(tag);
                }
                stats.skip("pcapng process information".into());
            }
            BT_EPB => {
                let parsed = if be {
                    parse_enhancedpacketblock_be(buf)
                } else {
                    parse_enhancedpacketblock_le(buf)
                };
                let Ok((_, epb)) = parsed else {
                    return corrupt(stats, "enhanced packet");
                };
                self.epb(&epb, be, index, out, stats);
            }
            BT_SPB => stats.skip("pcapng simple packet (no timestamp)".into()),
            t => stats.skip(format!("pcapng block type 0x{t:08x}").into()),
        }
    }

    fn epb(
        &mut self,
        epb: &EnhancedPacketBlock<'_>,
        be: bool,
        index: u64,
        out: &mut Vec<Event>,
        stats: &mut FileStats,
    ) {
        let State::Pcapng(Some(section)) = &self.state else {
            // Unreachable (a block before a section header ends the file), but counted anyway.
            return stats.reject(
                index,
                RejectReason::NotACapture.into(),
                "packet outside a section".into(),
            );
        };
        let Some(ifc) = section.interfaces.get(epb.if_id as usize) else {
            let detail = format!(
                "interface {} but the section describes {}",
                epb.if_id,
                section.interfaces.len()
            );
            return stats.reject(index, RejectReason::UnknownInterface.into(), detail);
        };
        let Some(ts) = ifc.ts(epb.ts_high, epb.ts_low) else {
            let detail = "timestamp does not fit the interface's resolution and offset".into();
            return stats.reject(index, RejectReason::BadTimestamp.into(), detail);
        };
        let u32_opt = |code| option(&epb.options, code).and_then(|v| u32_at(v, 0, be));
        // epb_flags bits 0-1: 01 inbound, 10 outbound, 00 unknown.
        if u32_opt(OPT_EPB_FLAGS).is_some_and(|f| f & 0x3 == 0x1) {
            return stats.skip("inbound packet (epb_flags)".into());
        }
        // PIB_INDEX names the process that owns the socket (what nettop and the unified log also
        // report, and what the engine's process tree starts from); E_PIB_INDEX is the process it
        // acts for (nsurlsessiond for an app), a delegation hint. It attributes only packets that
        // lack PIB_INDEX, so a packet still has a process rather than none.
        let pib = u32_opt(OPT_EPB_PIB_INDEX).or_else(|| u32_opt(OPT_EPB_E_PIB_INDEX));
        let process = match pib {
            None => None,
            Some(i) => match section.processes.get(i as usize) {
                Some(p) => Some(p),
                None => {
                    let detail = format!(
                        "packet names process block {i}, the section has {}",
                        section.processes.len()
                    );
                    return stats.reject(index, RejectReason::PibIndexOutOfRange.into(), detail);
                }
            },
        };
        let mut pktap = Pktap::default();
        let decoded = decode_link(ifc.linktype, epb.packet_data(), &mut pktap, 0);
        account(
            &mut self.agg,
            &self.ctx,
            ts,
            index,
            decoded,
            &pktap,
            process,
            out,
            stats,
        );
    }
}

fn pcap_magic(b: &[u8]) -> bool {
    matches!(
        b.get(..4),
        Some(
            [0xD4, 0xC3, 0xB2, 0xA1]
                | [0xA1, 0xB2, 0xC3, 0xD4]
                | [0x4D, 0x3C, 0xB2, 0xA1]
                | [0xA1, 0xB2, 0x3C, 0x4D]
        )
    )
}

/// The value (cut to its declared length) of the first option with `code`.
fn option<'a>(opts: &'a [PcapNGOption<'a>], code: u16) -> Option<&'a [u8]> {
    opts.iter()
        .find(|o| o.code.0 == code)
        .and_then(|o| o.as_bytes().ok())
}

/// Counts one decoded packet: summed into a bucket, skipped or rejected.
#[allow(clippy::too_many_arguments)]
fn account(
    agg: &mut Aggregator,
    ctx: &SourceCtx,
    ts: Ts,
    index: u64,
    decoded: Decoded,
    pktap: &Pktap,
    pib: Option<&ProcessTag>,
    out: &mut Vec<Event>,
    stats: &mut FileStats,
) {
    match decoded {
        Decoded::Ip(_) if pktap.inbound => stats.skip("inbound packet (PKTAP header)".into()),
        Decoded::Ip(p) => agg.add(ctx, ts, index, &p, pib.or(pktap.process.as_ref()), out),
        Decoded::NotIp(why) => stats.skip(format!("not IP: {why}").into()),
        Decoded::Bad(reason, detail) => stats.reject(index, reason.into(), detail),
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

#[cfg(test)]
mod tests {
    use super::BUCKET_NS;
    use crate::testutil::{ctx, read_all};
    use crate::{sniff, Format, Sniffed};
    use floodwatch_core::event::{Event, EventKind, Proto, Traffic};
    use floodwatch_sim::pcap::{
        ethernet, icmp_echo, ipv4, ipv6, null_loopback, pktap, tcp, udp, Endian, EpbOptions,
        PcapWriter, PcapngWriter, EPB_FLAG_INBOUND, EPB_FLAG_OUTBOUND, LINKTYPE_ETHERNET,
        LINKTYPE_NULL, LINKTYPE_PKTAP, LINKTYPE_RAW, TCP_ACK, TCP_SYN,
    };

    const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/corpus/pcap/");
    /// 2025-09-15T07:00:00Z.
    const T0: i64 = 1_757_919_600 * 1_000_000_000;
    const ME: [u8; 4] = [10, 0, 0, 5];
    const TARGET: [u8; 4] = [198, 51, 100, 7];

    fn traffic(e: &Event) -> &Traffic {
        match &e.kind {
            EventKind::Traffic(t) => t,
            k => panic!("not traffic: {}", k.name()),
        }
    }

    fn by_local<'a>(ev: &'a [Event], local: &str) -> Vec<&'a Traffic> {
        ev.iter()
            .map(traffic)
            .filter(|t| t.local.as_deref() == Some(local))
            .collect()
    }

    /// The real CIC-DDoS2019 SYN flood: 26,316 packets in 0.687 s, all in one second of capture
    /// time, so one event per sender; numbers checked against an independent stdlib reader.
    #[test]
    fn real_synflood_is_two_events_with_the_flood_rate() {
        let data = std::fs::read(format!("{CORPUS}CIC-DDoS-2019-SynFlood.pcap")).unwrap();
        assert_eq!(sniff(&data), Sniffed::Telemetry(Format::Pcap));
        let (ev, st) = read_all(&data, Format::Pcap, ctx("syn.pcap"));
        assert_eq!(
            (st.records, st.events, st.skipped, st.rejected, st.carried),
            (26_316, 2, 0, 0, 26_314)
        );
        assert_eq!(ev.len(), 2);
        let flood = by_local(&ev, "172.16.0.5");
        let t = flood[0];
        assert_eq!(t.proto, Proto::Tcp);
        assert_eq!(t.pid, None);
        // 8,450 distinct destination ports: the remote is the host alone.
        assert_eq!(t.remote.as_deref(), Some("192.168.50.4"));
        assert_eq!(t.packets_out, Some(18_778));
        assert_eq!(t.syn_out, Some(18_778));
        assert_eq!(t.new_connections, 18_778);
        assert_eq!(t.bytes_out, 18_778 * 40);
        assert_eq!(t.start.0, 1_541_241_031_281_919_000);
        let e = ev
            .iter()
            .find(|e| traffic(e).local.as_deref() == Some("172.16.0.5"))
            .unwrap();
        assert_eq!(e.ts.0, 1_541_241_031_969_269_000);
        assert_eq!(e.origin.line, 1);
        let span = (e.ts.0 - t.start.0) as f64 / 1e9;
        let rate = t.syn_out.unwrap() as f64 / span;
        assert!((27_000.0..27_600.0).contains(&rate), "{rate} SYN/s");
        // The victim's RST/ACK replies, keyed by their own sender.
        let back = by_local(&ev, "192.168.50.4");
        assert_eq!(back[0].packets_out, Some(7_538));
        assert_eq!(back[0].syn_out, Some(0));
        assert_eq!(back[0].remote.as_deref(), Some("172.16.0.5"));
        // Time-ordered by last packet.
        assert!(ev[0].ts <= ev[1].ts);
    }

    #[test]
    fn real_synflood_truncated_mid_record_keeps_what_was_read() {
        let data = std::fs::read(format!("{CORPUS}CIC-DDoS-2019-SynFlood.pcap")).unwrap();
        // Cut inside packet 101's data (24 + 100 * 76 bytes precede it).
        let cut = 24 + 100 * 76 + 16 + 30;
        let (ev, st) = read_all(&data[..cut], Format::Pcap, ctx("cut.pcap"));
        assert_eq!((st.records, st.rejected), (101, 1));
        assert_eq!(st.samples[0].line, 101);
        assert_eq!(st.samples[0].reason, "truncated record");
        assert_eq!(
            st.samples[0].detail,
            "packet data: 30 of 60 bytes at end of file"
        );
        let pkts: u64 = ev.iter().filter_map(|e| traffic(e).packets_out).sum();
        assert_eq!(pkts, 100);
    }

    #[test]
    fn not_a_capture_and_broken_headers_do_not_panic() {
        for (data, fmt, reason) in [
            (&b""[..], Format::Pcap, "not a capture"),
            (
                &b"hello world, not a capture at all\n"[..],
                Format::Pcap,
                "not a capture",
            ),
            (
                &[0xD4, 0xC3, 0xB2, 0xA1, 2, 0, 4][..],
                Format::Pcap,
                "truncated record",
            ),
            (
                &b"\x0a\x0d\x0d\x0a\x1c\x00"[..],
                Format::Pcapng,
                "truncated record",
            ),
            (
                &b"\x01\x00\x00\x00\x0c\x00\x00\x00\x0c\x00\x00\x00"[..],
                Format::Pcapng,
                "not a capture",
            ),
            (
                &b"\x0a\x0d\x0d\x0a\x1c\x00\x00\x00ABCD"[..],
                Format::Pcapng,
                "not a capture",
            ),
        ] {
            let (ev, st) = read_all(data, fmt, ctx("x"));
            assert!(ev.is_empty());
            if data.is_empty() {
                continue;
            }
            assert_eq!(
                (st.rejected, st.samples[0].reason.as_str()),
                (1, reason),
                "{data:x?}"
            );
        }
        // A pcapng block whose length cannot be right stops the file with one located reject.
        let mut w = PcapngWriter::new();
        w.section(Endian::Little);
        w.interface(LINKTYPE_ETHERNET, None);
        let mut data = w.into_bytes();
        data.extend_from_slice(&[6, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0]);
        let (_, st) = read_all(&data, Format::Pcapng, ctx("x"));
        assert_eq!((st.records, st.rejected), (3, 1));
        assert_eq!(
            (st.samples[0].line, st.samples[0].reason.as_str()),
            (3, "corrupt record")
        );
    }

    #[test]
    fn link_types_non_ip_and_bad_ip_are_counted() {
        let mut w = PcapWriter::new(Endian::Little, false, u32::from(LINKTYPE_ETHERNET));
        let syn = ipv4(ME, TARGET, 6, &tcp(40000, 80, TCP_SYN, 0));
        w.packet(T0, &ethernet(0x0800, &syn));
        w.packet(T0 + 1000, &ethernet(0x0806, &[0; 28])); // ARP
        w.packet(T0 + 2000, &ethernet(0x0800, &[0x45, 0, 0])); // cut IP header
        let v6 = ipv6(
            [0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
            [0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7],
            17,
            &udp(5000, 53, 20),
        );
        w.packet(T0 + 3000, &ethernet(0x86DD, &v6));
        // VLAN-tagged SYN|ACK: not a connection opener.
        let mut tagged = vec![0u8; 12];
        tagged.extend_from_slice(&[0x81, 0x00, 0, 5, 0x08, 0x00]);
        tagged.extend_from_slice(&ipv4(ME, TARGET, 6, &tcp(40000, 80, TCP_SYN | TCP_ACK, 0)));
        w.packet(T0 + 4000, &tagged);
        let (ev, st) = read_all(&w.into_bytes(), Format::Pcap, ctx("l.pcap"));
        assert_eq!(
            (st.records, st.events, st.skipped, st.rejected),
            (5, 2, 1, 1)
        );
        assert_eq!(st.reasons.get("skipped: not IP: ARP"), Some(&1));
        assert_eq!(
            (st.samples[0].line, st.samples[0].reason.as_str()),
            (3, "truncated IP header")
        );
        let v4 = by_local(&ev, "10.0.0.5")[0];
        assert_eq!(
            (v4.packets_out, v4.syn_out, v4.bytes_out),
            (Some(2), Some(1), 80)
        );
        assert_eq!(v4.remote.as_deref(), Some("198.51.100.7:80"));
        let v6 = by_local(&ev, "2001:db8::1")[0];
        assert_eq!(
            (v6.proto, v6.remote.as_deref()),
            (Proto::Udp, Some("[2001:db8::7]:53"))
        );
        assert_eq!((v6.bytes_out, v6.syn_out), (40 + 28, None));

        // BSD loopback (AF_INET6 = 30 on Darwin) and raw IP, nanosecond big-endian pcap.
        let mut w = PcapWriter::new(Endian::Big, true, u32::from(LINKTYPE_NULL));
        let lo = ipv6(
            [0; 16],
            {
                let mut a = [0; 16];
                a[15] = 1;
                a
            },
            58,
            &icmp_echo(true, 1, 1, 56),
        );
        w.packet(T0 + 7, &null_loopback(30, &lo));
        w.packet(T0 + 8, &null_loopback(17, &[0; 8]));
        let (ev, st) = read_all(&w.into_bytes(), Format::Pcap, ctx("lo.pcap"));
        assert_eq!((st.events, st.skipped), (1, 1));
        let t = traffic(&ev[0]);
        assert_eq!(
            (t.proto, t.remote.as_deref(), t.local.as_deref()),
            (Proto::Icmp, Some("::1"), Some("::"))
        );
        assert_eq!(ev[0].ts.0, T0 + 7);
        let mut w = PcapWriter::new(Endian::Little, false, u32::from(LINKTYPE_RAW));
        w.packet(T0, &ipv4(ME, TARGET, 1, &icmp_echo(false, 1, 1, 56)));
        let (ev, _) = read_all(&w.into_bytes(), Format::Pcap, ctx("raw.pcap"));
        assert_eq!(
            (traffic(&ev[0]).proto, traffic(&ev[0]).bytes_out),
            (Proto::Icmp, 84)
        );
    }

    /// Buckets close when capture time moves to the next second; a packet slightly late joins the
    /// open bucket; events come out time-ordered.
    #[test]
    fn one_event_per_key_per_second() {
        let mut w = PcapWriter::new(Endian::Little, false, u32::from(LINKTYPE_RAW));
        for i in 0..30i64 {
            // 10 packets/s for 3 s, to two ports, and a reply stream.
            let port = 9000 + (i % 2) as u16;
            w.packet(
                T0 + i * BUCKET_NS / 10,
                &ipv4(ME, TARGET, 17, &udp(5000, port, 100)),
            );
            w.packet(
                T0 + i * BUCKET_NS / 10 + 5,
                &ipv4(TARGET, ME, 17, &udp(port, 5000, 10)),
            );
        }
        // 0.5 s late: joins the open (third) second's bucket instead of going out of order.
        w.packet(
            T0 + 3 * BUCKET_NS / 2,
            &ipv4(ME, TARGET, 17, &udp(5000, 9000, 100)),
        );
        let (ev, st) = read_all(&w.into_bytes(), Format::Pcap, ctx("b.pcap"));
        assert_eq!((st.records, st.events, st.carried), (61, 6, 55));
        assert!(ev.windows(2).all(|w| w[0].ts <= w[1].ts));
        let mine = by_local(&ev, "10.0.0.5");
        let pk: Vec<_> = mine.iter().map(|t| t.packets_out.unwrap()).collect();
        assert_eq!(pk, [10, 10, 11]);
        assert_eq!(mine[0].remote.as_deref(), Some("198.51.100.7"), "two ports");
        assert_eq!(mine[0].bytes_out, 10 * 128);
        assert_eq!(mine[2].start.0, T0 + 3 * BUCKET_NS / 2);
    }

    /// Legacy pcap with the PKTAP link type: pid and command name per packet, inbound skipped.
    #[test]
    fn pktap_pcap_attributes_and_drops_inbound() {
        let mut w = PcapWriter::new(Endian::Little, false, u32::from(LINKTYPE_PKTAP));
        let ping = ethernet(0x0800, &ipv4(ME, TARGET, 1, &icmp_echo(false, 7, 1, 56)));
        let reply = ethernet(0x0800, &ipv4(TARGET, ME, 1, &icmp_echo(false, 7, 1, 56)));
        for i in 0..5 {
            w.packet(T0 + i * 1000, &pktap(4242, "ping", 1, 0x2, &ping));
            w.packet(T0 + i * 1000 + 500, &pktap(4242, "ping", 1, 0x1, &reply));
        }
        let (ev, st) = read_all(&w.into_bytes(), Format::Pcap, ctx("k.pcap"));
        assert_eq!((st.records, st.events, st.skipped), (10, 1, 5));
        assert_eq!(
            st.reasons.get("skipped: inbound packet (PKTAP header)"),
            Some(&5)
        );
        let t = traffic(&ev[0]);
        assert_eq!(
            (t.pid, t.process_name.as_deref()),
            (Some(4242), Some("ping"))
        );
        assert_eq!((t.proto, t.packets_out), (Proto::Icmp, Some(5)));
    }

    /// The Apple `tcpdump -k` layout: PIBs numbered per section, EPB options naming them, in a
    /// little-endian and a big-endian section of one file.
    fn apple_capture() -> Vec<u8> {
        let mut w = PcapngWriter::new();
        for (s, endian) in [Endian::Little, Endian::Big].into_iter().enumerate() {
            let t = T0 + s as i64 * 10 * BUCKET_NS;
            w.section(endian);
            w.interface(LINKTYPE_ETHERNET, if s == 0 { None } else { Some(9) });
            // The order differs per section: indexes must restart at each section header.
            let (ping_ix, py_ix) = if s == 0 { (0, 1) } else { (1, 0) };
            let pibs = [
                (4242, "ping", "/sbin/ping"),
                (777, "python3", "/opt/homebrew/bin/python3.12"),
            ];
            let order = if s == 0 { [0, 1] } else { [1, 0] };
            for i in order {
                let (pid, name, path) = pibs[i];
                w.process(pid, name, Some(path), Some([0x11; 16]));
            }
            let ping = ethernet(0x0800, &ipv4(ME, TARGET, 1, &icmp_echo(false, 9, 1, 56)));
            let dns = ethernet(0x0800, &ipv4(ME, TARGET, 17, &udp(5353, 53, 33)));
            let reply = ethernet(0x0800, &ipv4(TARGET, ME, 1, &icmp_echo(false, 9, 1, 56)));
            for i in 0..3 {
                let at = t + i * 1_000_000;
                let out = EpbOptions {
                    flags: Some(EPB_FLAG_OUTBOUND),
                    pib_index: Some(ping_ix),
                    e_pib_index: None,
                };
                w.packet(0, at, &ping, out);
                let inb = EpbOptions {
                    flags: Some(EPB_FLAG_INBOUND),
                    pib_index: Some(ping_ix),
                    e_pib_index: None,
                };
                w.packet(0, at + 100, &reply, inb);
                // python3 named only by the effective-process option.
                let eff = EpbOptions {
                    flags: None,
                    pib_index: None,
                    e_pib_index: Some(py_ix),
                };
                w.packet(0, at + 200, &dns, eff);
            }
            // A packet naming a PIB that does not exist.
            let bad = EpbOptions {
                flags: None,
                pib_index: Some(2),
                e_pib_index: None,
            };
            w.packet(0, t + 5_000_000, &dns, bad);
        }
        w.into_bytes()
    }

    #[test]
    fn pktap_pcapng_attributes_ping_and_python_in_both_byte_orders() {
        let data = apple_capture();
        assert_eq!(sniff(&data), Sniffed::Telemetry(Format::Pcapng));
        let (ev, st) = read_all(&data, Format::Pcapng, ctx("k.pcapng"));
        // Per section: SHB + IDB + 2 PIB (skipped), 3 ping out, 3 replies in (skipped), 3 dns,
        // one bad index (rejected).
        assert_eq!(
            (st.records, st.events, st.skipped, st.rejected, st.carried),
            (2 * 14, 4, 2 * 7, 2, 8)
        );
        assert_eq!(
            st.reasons.get("skipped: inbound packet (epb_flags)"),
            Some(&6)
        );
        assert_eq!(st.reasons.get("PIB index out of range"), Some(&2));
        assert_eq!(st.samples[0].line, 14);
        assert_eq!(
            st.samples[0].detail,
            "packet names process block 2, the section has 2"
        );
        assert_eq!(st.samples[1].line, 28);
        for (s, pair) in ev.chunks(2).enumerate() {
            let ping = pair
                .iter()
                .map(traffic)
                .find(|t| t.proto == Proto::Icmp)
                .unwrap();
            assert_eq!(ping.pid, Some(4242), "section {s}");
            assert_eq!(ping.process_name.as_deref(), Some("ping"));
            assert_eq!(ping.process_path.as_deref(), Some("/sbin/ping"));
            assert_eq!((ping.packets_out, ping.bytes_out), (Some(3), 3 * 84));
            assert_eq!(ping.remote.as_deref(), Some("198.51.100.7"));
            let py = pair
                .iter()
                .map(traffic)
                .find(|t| t.proto == Proto::Udp)
                .unwrap();
            assert_eq!(
                (py.pid, py.process_name.as_deref()),
                (Some(777), Some("python3")),
                "section {s}"
            );
            assert_eq!(py.remote.as_deref(), Some("198.51.100.7:53"));
            assert_eq!(py.packets_out, Some(3));
        }
        // The big-endian section's interface has nanosecond resolution: times survive it.
        let last_ping = ev
            .iter()
            .rev()
            .find(|e| traffic(e).proto == Proto::Icmp)
            .unwrap();
        assert_eq!(last_ping.ts.0, T0 + 10 * BUCKET_NS + 2_000_000);
        assert_eq!(traffic(last_ping).start.0, T0 + 10 * BUCKET_NS);
    }

    /// A spoofed-source flood makes one key per packet: open buckets are flushed early, so memory
    /// stays bounded, and events still come out in time order.
    #[test]
    fn many_keys_flush_early_in_order() {
        let mut w = PcapWriter::new(Endian::Little, false, u32::from(LINKTYPE_RAW));
        let n = super::MAX_OPEN_BUCKETS as i64 + 4_000;
        for i in 0..n {
            let src = [10, (i >> 16) as u8, (i >> 8) as u8, i as u8];
            w.packet(
                T0 + i * 10_000,
                &ipv4(src, TARGET, 6, &tcp(1024, 80, TCP_SYN, 0)),
            );
        }
        let (ev, st) = read_all(&w.into_bytes(), Format::Pcap, ctx("spoof.pcap"));
        assert_eq!((st.records, st.events, st.carried), (n as u64, n as u64, 0));
        assert!(ev.windows(2).all(|w| w[0].ts <= w[1].ts));
    }

    /// Mutated and cut captures never panic, and every record is still accounted for.
    #[test]
    fn mutated_captures_do_not_panic_and_balance() {
        let real = std::fs::read(format!("{CORPUS}CIC-DDoS-2019-SynFlood.pcap")).unwrap();
        let inputs = [
            (real[..4000].to_vec(), Format::Pcap),
            (apple_capture(), Format::Pcapng),
        ];
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for (data, fmt) in inputs {
            for _ in 0..400 {
                let mut d = data.clone();
                for _ in 0..1 + next() % 8 {
                    let at = (next() % d.len() as u64) as usize;
                    d[at] = next() as u8;
                }
                d.truncate(1 + (next() % d.len() as u64) as usize);
                let (ev, st) = read_all(&d, fmt, ctx("m"));
                assert_eq!(ev.len() as u64, st.events);
                assert_eq!(
                    st.records,
                    st.events + st.skipped + st.rejected + st.carried,
                    "{st:?}"
                );
            }
        }
    }

    #[test]
    fn pcapng_truncated_final_block_is_one_reject() {
        let data = apple_capture();
        let (full, _) = read_all(&data, Format::Pcapng, ctx("k"));
        for cut in [data.len() - 1, data.len() - 40] {
            let (ev, st) = read_all(&data[..cut], Format::Pcapng, ctx("k"));
            assert_eq!(st.rejected, 2, "cut at {cut}: {:?}", st.samples);
            let last = st.samples.last().unwrap();
            assert_eq!((last.line, last.reason.as_str()), (28, "truncated record"));
            assert_eq!(ev.len(), full.len());
        }
    }
}
