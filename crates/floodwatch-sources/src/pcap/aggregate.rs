//! Packets summed per key (source, destination host, IP protocol, pid) and per second of capture
//! time into Traffic events: the aggregation the module doc explains.

use super::ip::Packet;
use super::link::Decoded;
use super::pktap::Pktap;
use super::{ProcessTag, BUCKET_NS};
use crate::stats::FileStats;
use crate::SourceCtx;
use floodwatch_core::event::{Event, EventKind, Proto, Traffic};
use floodwatch_core::Ts;
use foldhash::{HashMap, HashMapExt};
use std::net::IpAddr;
use std::sync::Arc;

/// Open buckets before they are flushed early (a spoofed-source flood makes one key per packet):
/// keeps memory bounded whatever the capture holds.
pub(super) const MAX_OPEN_BUCKETS: usize = 65_536;

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
    answers: u64,
    port: Ports,
    name: Option<String>,
    path: Option<String>,
}

/// Sums packets into per-key, per-second buckets and emits them, time-ordered, when capture time
/// moves on to the next second.
pub(super) struct Aggregator {
    open: HashMap<Key, Bucket>,
    second: Option<i64>,
    packets: u64,
    emitted: u64,
}

impl Aggregator {
    pub(super) fn new() -> Self {
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
            answers: 0,
            port: pkt.dst_port.map_or(Ports::None, Ports::One),
            name: proc.and_then(|p| p.name.clone()),
            path: proc.and_then(|p| p.path.clone()),
        });
        b.start = b.start.min(ts);
        b.end = b.end.max(ts);
        b.packets += 1;
        b.bytes += u64::from(pkt.ip_len);
        b.syn += syn;
        b.answers += u64::from(pkt.answer);
        b.port = match (b.port, pkt.dst_port) {
            (Ports::One(p), Some(q)) if p == q => Ports::One(p),
            (Ports::None, None) => Ports::None,
            _ => Ports::Many,
        };
    }

    /// Packets summed into events rather than emitted one by one (see the module's accounting).
    pub(super) fn carried(&self) -> u64 {
        self.packets - self.emitted
    }

    pub(super) fn flush(&mut self, ctx: &SourceCtx, out: &mut Vec<Event>) {
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
                origin: ctx.origin(b.first),
                kind: EventKind::Traffic(Box::new(Traffic {
                    pid: k.pid,
                    process_name: b.name.map(Arc::from),
                    process_path: b.path,
                    uid: None,
                    start: b.start,
                    proto,
                    remote: Some(Arc::from(remote)),
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
                    answers_out: b.answers,
                    invalid_utf8: false,
                })),
            });
        }
        self.second = None;
    }
}

/// Counts one decoded packet: summed into a bucket, skipped or rejected.
#[allow(clippy::too_many_arguments)]
pub(super) fn account(
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
