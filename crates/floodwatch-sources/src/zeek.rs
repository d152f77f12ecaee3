//! Zeek `conn.log`, TSV (columns named by the `#fields` header, so the newer `ip_proto` column and any
//! order work) and JSON lines. Network-only: a row is the originator's outbound side of one connection,
//! with no process (`pid: None`), timed at the connection's end (`ts + duration`), when Zeek writes it.
//! ICMP rows carry the ICMP type/code in the port fields, so their remote is the address alone. Zeek
//! makes the requester the originator of an echo exchange (`id.orig_p` 8, or 128 for ICMPv6), and the
//! sender of an error the originator of its row (`id.orig_p` 3 unreachable, 11 time exceeded, ...): such
//! a row's packets are answers (`answers_out`), never a flood of their own.

use crate::pcap::{icmp4_answer, icmp6_answer};
use crate::{Parsed, RecordParser, Reject, RejectReason, SourceCtx};
use floodwatch_core::event::{Event, EventKind, Proto, Traffic};
use floodwatch_core::time::{parse_rfc3339, NANOS_PER_SEC};
use floodwatch_core::Ts;
use serde_json::Value;
use std::sync::Arc;

const SKIP_HEADER: &str = "Zeek header line";

/// No conn.log count comes near 2^53: beyond it a double is not even exact, and near 2^64 (a
/// corrupt or hostile row) it would be billions of billions of packets per second.
const MAX_COUNT: f64 = 9_007_199_254_740_992.0;

/// The smallest IP packet (an IPv4 header): the most packets a link's bytes per second can be.
const MIN_PACKET_BYTES: f64 = 20.0;

/// The columns a row needs, by position in `#fields`.
#[derive(Clone, Debug, Default)]
struct Columns {
    count: usize,
    ts: Option<usize>,
    orig_h: Option<usize>,
    orig_p: Option<usize>,
    history: Option<usize>,
    resp_h: Option<usize>,
    resp_p: Option<usize>,
    proto: Option<usize>,
    duration: Option<usize>,
    orig_bytes: Option<usize>,
    orig_pkts: Option<usize>,
    resp_pkts: Option<usize>,
    orig_ip_bytes: Option<usize>,
    ip_proto: Option<usize>,
}

pub struct ZeekParser {
    ctx: SourceCtx,
    json: bool,
    separator: String,
    unset: String,
    columns: Option<Columns>,
}

impl ZeekParser {
    pub fn new_tsv(ctx: SourceCtx) -> Self {
        Self::new(ctx, false)
    }

    pub fn new_json(ctx: SourceCtx) -> Self {
        Self::new(ctx, true)
    }

    fn new(ctx: SourceCtx, json: bool) -> Self {
        ZeekParser {
            ctx,
            json,
            separator: "\t".into(),
            unset: "-".into(),
            columns: None,
        }
    }

    fn header(&mut self, line: &str) {
        let (key, rest) = line.split_once([' ', '\t']).unwrap_or((line, ""));
        match key {
            // `#separator \x09`: the value is written escaped.
            "#separator" => self.separator = unescape(rest.trim()),
            "#unset_field" => self.unset = rest.to_string(),
            "#fields" => {
                let names: Vec<&str> = rest.split(self.separator.as_str()).collect();
                let at = |n: &str| names.iter().position(|f| *f == n);
                self.columns = Some(Columns {
                    count: names.len(),
                    ts: at("ts"),
                    orig_h: at("id.orig_h"),
                    orig_p: at("id.orig_p"),
                    resp_h: at("id.resp_h"),
                    resp_p: at("id.resp_p"),
                    proto: at("proto"),
                    duration: at("duration"),
                    orig_bytes: at("orig_bytes"),
                    orig_pkts: at("orig_pkts"),
                    resp_pkts: at("resp_pkts"),
                    orig_ip_bytes: at("orig_ip_bytes"),
                    ip_proto: at("ip_proto"),
                    history: at("history"),
                });
            }
            _ => {}
        }
    }

    fn tsv_row(&self, line: &str) -> Result<Row, Reject> {
        let c = self
            .columns
            .as_ref()
            .ok_or_else(|| Reject::new(RejectReason::BadRow, "row before the #fields header"))?;
        let cells: Vec<&str> = line.split(self.separator.as_str()).collect();
        if cells.len() != c.count {
            return Err(Reject::new(
                RejectReason::BadRow,
                format!("{} fields, #fields names {}", cells.len(), c.count),
            ));
        }
        let get = |i: Option<usize>| {
            i.and_then(|i| cells.get(i).copied())
                .filter(|v| *v != self.unset && !v.is_empty())
        };
        let num = |name: &str, i: Option<usize>| -> Result<Option<f64>, Reject> {
            get(i)
                .map(|v| {
                    v.parse::<f64>()
                        .map_err(|_| Reject::new(RejectReason::BadValue, format!("{name} {v:?}")))
                })
                .transpose()
        };
        let ts_text = get(c.ts).ok_or_else(|| Reject::new(RejectReason::MissingField, "ts"))?;
        let ts = epoch(ts_text)
            .ok_or_else(|| Reject::new(RejectReason::BadTimestamp, format!("ts {ts_text:?}")))?;
        Ok(Row {
            ts,
            local_host: get(c.orig_h).map(str::to_string),
            local_port: get(c.orig_p).map(str::to_string),
            history: get(c.history).map(str::to_string),
            remote_host: get(c.resp_h).map(str::to_string),
            remote_port: get(c.resp_p).map(str::to_string),
            proto: get(c.proto).unwrap_or("").to_string(),
            ip_proto: num("ip_proto", c.ip_proto)?.map(|v| v as u32),
            duration: num("duration", c.duration)?.unwrap_or(0.0),
            orig_bytes: num("orig_bytes", c.orig_bytes)?,
            orig_ip_bytes: num("orig_ip_bytes", c.orig_ip_bytes)?,
            orig_pkts: num("orig_pkts", c.orig_pkts)?,
            resp_pkts: num("resp_pkts", c.resp_pkts)?,
        })
    }

    fn json_row(&self, line: &str) -> Result<Row, Reject> {
        let o = &crate::wire::json::object(line)?;
        let ts = match o.get("ts") {
            Some(Value::Number(n)) => n.as_f64().and_then(|f| epoch(&f.to_string())),
            Some(Value::String(s)) => parse_rfc3339(s).or_else(|| epoch(s)),
            _ => return Err(Reject::new(RejectReason::MissingField, "ts")),
        }
        .ok_or_else(|| Reject::new(RejectReason::BadTimestamp, format!("ts {:?}", o.get("ts"))))?;
        let num = |k: &str| -> Result<Option<f64>, Reject> {
            match o.get(k) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::Number(n)) => Ok(n.as_f64()),
                Some(Value::String(s)) => s
                    .parse()
                    .map(Some)
                    .map_err(|_| Reject::new(RejectReason::BadValue, format!("{k} {s:?}"))),
                Some(other) => Err(Reject::new(RejectReason::WrongType, format!("{k} {other}"))),
            }
        };
        let text = |k: &str| match o.get(k) {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        Ok(Row {
            ts,
            local_host: text("id.orig_h"),
            local_port: text("id.orig_p"),
            history: text("history"),
            remote_host: text("id.resp_h"),
            remote_port: text("id.resp_p"),
            proto: text("proto").unwrap_or_default(),
            ip_proto: num("ip_proto")?.map(|v| v as u32),
            duration: num("duration")?.unwrap_or(0.0),
            orig_bytes: num("orig_bytes")?,
            orig_ip_bytes: num("orig_ip_bytes")?,
            orig_pkts: num("orig_pkts")?,
            resp_pkts: num("resp_pkts")?,
        })
    }
}

struct Row {
    ts: Ts,
    local_host: Option<String>,
    /// For ICMP rows, the ICMP type of the originator's packets.
    local_port: Option<String>,
    /// Zeek's connection history letters; `S` is a SYN from the originator.
    history: Option<String>,
    remote_host: Option<String>,
    remote_port: Option<String>,
    proto: String,
    ip_proto: Option<u32>,
    duration: f64,
    orig_bytes: Option<f64>,
    orig_ip_bytes: Option<f64>,
    orig_pkts: Option<f64>,
    /// The responder's packets: a conversation (VPN, QUIC, a call) is answered, a flood mostly is not.
    resp_pkts: Option<f64>,
}

impl Row {
    /// Why the row's counters cannot be real, if they cannot: a count beyond 2^53 (or not a
    /// number), or more bytes (packets) than the fastest link, `input.nettop_max_bytes_per_s`,
    /// carries over the row's duration (at least one second: a row of one packet has none).
    fn glitch(&self, max_bytes_per_s: f64) -> Option<String> {
        let secs = if self.duration.is_finite() {
            self.duration.max(1.0)
        } else {
            1.0
        };
        let max_bytes = max_bytes_per_s * secs;
        let max_packets = max_bytes / MIN_PACKET_BYTES;
        [
            ("orig_bytes", self.orig_bytes, max_bytes),
            ("orig_ip_bytes", self.orig_ip_bytes, max_bytes),
            ("orig_pkts", self.orig_pkts, max_packets),
            ("resp_pkts", self.resp_pkts, max_packets),
        ]
        .into_iter()
        .find_map(|(name, v, max)| {
            let v = v?;
            if !v.is_finite() || v > MAX_COUNT {
                Some(format!("{name} {v} is beyond 2^53: no connection counts that much"))
            } else if v > max {
                Some(format!(
                    "{name} {v} in {secs:.3} s is beyond what input.nettop_max_bytes_per_s ({max_bytes_per_s}) carries"
                ))
            } else {
                None
            }
        })
    }
}

/// `1646150638.631834` (seconds since the epoch) as an instant; Zeek test baselines mask it as
/// `XXXXXXXXXX.XXXXXX`, which is no time at all.
fn epoch(s: &str) -> Option<Ts> {
    // Exact decimal arithmetic: a float would lose the last microseconds of a 2020s timestamp.
    let s = s.trim();
    let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
    let secs: i64 = secs.parse().ok()?;
    if secs <= 0 || frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let nanos: i64 = format!("{frac:0<9}").parse().ok()?;
    Some(Ts(secs.checked_mul(NANOS_PER_SEC)?.checked_add(nanos)?))
}

fn unescape(s: &str) -> String {
    match s.strip_prefix("\\x") {
        Some(hex) => u8::from_str_radix(hex, 16)
            .map(|b| char::from(b).to_string())
            .unwrap_or_else(|_| s.to_string()),
        None => s.to_string(),
    }
}

fn proto_of(name: &str, ip_proto: Option<u32>) -> Proto {
    match (name, ip_proto) {
        ("icmp", _) | (_, Some(1 | 58)) => Proto::Icmp,
        ("udp", _) | (_, Some(17)) => Proto::Udp,
        ("tcp", _) | (_, Some(6)) => Proto::Tcp,
        ("", None) | ("unknown_transport", None) => Proto::Unknown,
        _ => Proto::Other,
    }
}

impl RecordParser for ZeekParser {
    fn parse(&mut self, record: &str, line: u64, out: &mut Vec<Event>) -> Result<Parsed, Reject> {
        if !self.json && record.starts_with('#') {
            self.header(record);
            return Ok(Parsed::Skipped(SKIP_HEADER.into()));
        }
        let row = if self.json {
            self.json_row(record)?
        } else {
            self.tsv_row(record)?
        };
        if let Some(why) = row.glitch(self.ctx.input.nettop_max_bytes_per_s) {
            return Err(Reject::new(RejectReason::CounterGlitch, why));
        }
        let proto = proto_of(&row.proto, row.ip_proto);
        let remote = row.remote_host.map(|h| match (&row.remote_port, proto) {
            (Some(p), Proto::Tcp | Proto::Udp) if h.contains(':') => format!("[{h}]:{p}"),
            (Some(p), Proto::Tcp | Proto::Udp) => format!("{h}:{p}"),
            _ => h,
        });
        // An ICMP row whose originator sent answers (echo replies, errors): see the module doc.
        let v6 =
            row.ip_proto == Some(58) || row.local_host.as_deref().is_some_and(|h| h.contains(':'));
        let answering = proto == Proto::Icmp
            && row
                .local_port
                .as_deref()
                .and_then(|p| p.parse::<u8>().ok())
                .is_some_and(|t| if v6 { icmp6_answer(t) } else { icmp4_answer(t) });
        let packets_out = row.orig_pkts.map(|p| p.max(0.0) as u64);
        let dur = (row.duration.max(0.0) * NANOS_PER_SEC as f64) as i64;
        let traffic = Traffic {
            pid: None,
            process_name: None,
            process_path: None,
            uid: None,
            start: row.ts,
            proto,
            remote: remote.map(Arc::from),
            // IP-level bytes when Zeek has them (payload bytes miss headers: a SYN flood has none).
            bytes_out: row.orig_ip_bytes.or(row.orig_bytes).unwrap_or(0.0).max(0.0) as u64,
            bytes_in: 0,
            packets_out,
            packets_in: row.resp_pkts.map(|p| p.max(0.0) as u64),
            new_connections: 1,
            local: row.local_host,
            syn_out: (proto == Proto::Tcp)
                .then(|| u64::from(row.history.as_deref().is_some_and(|h| h.contains('S')))),
            answers_out: if answering {
                packets_out.unwrap_or(0)
            } else {
                0
            },
            invalid_utf8: false,
        };
        out.push(self.ctx.event(
            row.ts.add_nanos(dur),
            line,
            EventKind::Traffic(Box::new(traffic)),
        ));
        Ok(Parsed::Events)
    }
}

#[cfg(test)]
mod tests {
    use crate::testutil::{ctx, read_all};
    use crate::{sniff, Format, Sniffed};
    use floodwatch_core::event::{EventKind, Proto};

    fn corpus(name: &str) -> Vec<u8> {
        crate::testutil::corpus(&format!("zeek/{name}"))
    }

    fn traffic(e: &floodwatch_core::event::Event) -> &floodwatch_core::event::Traffic {
        match &e.kind {
            EventKind::Traffic(t) => t,
            k => panic!("not traffic: {}", k.name()),
        }
    }

    #[test]
    fn real_tsv_row_mapped_by_fields() {
        let data = corpus("zeekdocs_conn_tsv_real_ts.log");
        assert_eq!(sniff(&data), Sniffed::Telemetry(Format::ZeekTsv));
        let (ev, st) = read_all(&data, Format::ZeekTsv, ctx("conn.log"));
        assert_eq!(
            (st.records, st.events, st.skipped, st.rejected),
            (10, 1, 9, 0)
        );
        let t = traffic(&ev[0]);
        assert_eq!(t.pid, None);
        assert_eq!(t.proto, Proto::Tcp);
        assert_eq!(t.remote.as_deref(), Some("193.99.144.85:443"));
        assert_eq!((t.bytes_out, t.packets_out), (15961, Some(98)));
        // Written at the connection's end: ts + duration (7.246461 s).
        assert_eq!(t.start.0, 1_646_150_638_631_834_000);
        assert_eq!(ev[0].ts.0, 1_646_150_645_878_295_000);
    }

    #[test]
    fn real_json_lines_with_ip_proto() {
        let data = corpus("zeekdocs_conn_json.ndjson");
        assert_eq!(sniff(&data), Sniffed::Telemetry(Format::ZeekJson));
        let (ev, st) = read_all(&data, Format::ZeekJson, ctx("conn.json"));
        assert_eq!((st.records, st.events, st.rejected), (2, 2, 0));
        assert_eq!(traffic(&ev[0]).proto, Proto::Udp);
        assert_eq!(traffic(&ev[0]).remote.as_deref(), Some("192.168.4.1:53"));
        assert_eq!(traffic(&ev[1]).packets_out, Some(6));
    }

    #[test]
    fn icmp_rows_and_masked_timestamps() {
        // The btest baseline has ICMPv6 rows and `ip_proto`, but masked timestamps: every row is
        // rejected as having no time, and says so.
        let data = corpus("zeek_btest_core.pppoe_conn_canonified.log");
        assert_eq!(sniff(&data), Sniffed::Telemetry(Format::ZeekTsv));
        let (_, st) = read_all(&data, Format::ZeekTsv, ctx("pppoe.log"));
        assert_eq!((st.events, st.rejected), (0, 7));
        assert_eq!(st.reasons().get("bad timestamp"), Some(&7));
        // The same rows with real times: ICMP, remote without a port (those are type/code).
        let text = String::from_utf8(data)
            .unwrap()
            .replace("XXXXXXXXXX.XXXXXX", "1646150638.500000");
        let (ev, st) = read_all(text.as_bytes(), Format::ZeekTsv, ctx("pppoe.log"));
        assert_eq!((st.events, st.rejected), (7, 0));
        let t = traffic(&ev[0]);
        assert_eq!(t.proto, Proto::Icmp);
        assert_eq!(t.remote.as_deref(), Some("fc00::1"));
        assert_eq!(
            traffic(&ev[2]).remote.as_deref(),
            Some("[fe80::ce05:eff:fe88:0]:546")
        );
    }

    #[test]
    fn icmp_answer_rows_are_answers() {
        // The btest baseline's ICMPv6 echo row (orig_p 128: the originator asked), with real times;
        // and an unreachable row as Zeek keys it (btest core.icmp.icmp-events: orig 192.168.1.102,
        // orig_p 3, resp 192.168.1.1, resp_p 3): its originator answered.
        let data = String::from_utf8(corpus("zeek_btest_core.pppoe_conn_canonified.log"))
            .unwrap()
            .replace("XXXXXXXXXX.XXXXXX", "1646150638.500000");
        let header: String = data
            .lines()
            .filter(|l| l.starts_with('#'))
            .map(|l| format!("{l}\n"))
            .collect();
        let rows = [
            data.lines().find(|l| l.contains("\t128\t")).unwrap().to_string(),
            "1646150639.000000\tCx1\t192.168.1.102\t3\t192.168.1.1\t3\ticmp\t-\t0.5\t120\t0\tOTH\tT\tT\t0\t-\t4\t592\t0\t0\t-\t1".into(),
            "1646150639.000000\tCx2\t10.0.0.1\t8\t74.125.225.99\t0\ticmp\t-\t1.0\t112\t112\tOTH\tT\tF\t0\t-\t2\t112\t2\t112\t-\t1".into(),
        ];
        let text = format!("{header}{}\n", rows.join("\n"));
        let (ev, st) = read_all(text.as_bytes(), Format::ZeekTsv, ctx("icmp.log"));
        assert_eq!((st.events, st.rejected), (3, 0), "{:?}", st.samples);
        assert_eq!(
            (traffic(&ev[0]).packets_out, traffic(&ev[0]).answers_out),
            (Some(5), 0)
        );
        assert_eq!(
            (traffic(&ev[1]).packets_out, traffic(&ev[1]).answers_out),
            (Some(4), 4)
        );
        assert_eq!(traffic(&ev[1]).local.as_deref(), Some("192.168.1.102"));
        assert_eq!(
            (traffic(&ev[2]).packets_out, traffic(&ev[2]).answers_out),
            (Some(2), 0)
        );
    }

    #[test]
    fn bad_rows_are_located_not_fatal() {
        let data = b"#separator \\x09\n#unset_field\t-\n#fields\tts\tid.resp_h\tid.resp_p\tproto\torig_pkts\n\
1646150638.1\t10.0.0.1\t80\ttcp\tlots\n1646150638.2\t10.0.0.1\t80\n1646150638.3\t10.0.0.1\t80\ttcp\t4\n";
        let (ev, st) = read_all(data, Format::ZeekTsv, ctx("c.log"));
        assert_eq!(ev.len(), 1);
        assert_eq!(st.rejected, 2);
        assert_eq!(st.samples[0].line, 4);
        assert_eq!(st.samples[0].reason, "bad value");
        assert_eq!(st.samples[1].reason, "bad row");
    }

    /// Counters near 2^64 (a corrupt or hostile conn.log) would be "18,446,744,073,709,551,615
    /// packets/s": such a row is rejected as a counter glitch, and so is one whose bytes its own
    /// duration could not carry. Real rows, in both layouts, are untouched.
    #[test]
    fn counters_near_2_64_or_beyond_the_duration_are_rejected() {
        let tsv = String::from_utf8(corpus("zeekdocs_conn_tsv_real_ts.log")).unwrap();
        let real_row = "7.246461\t10853\t151695\tSF\t-\t-\t0\tShADadFf\t98\t15961\t139";
        assert!(tsv.contains(real_row));
        let max = "18446744073709551615";
        for (what, row) in [
            (
                "orig_pkts",
                format!("7.246461\t10853\t151695\tSF\t-\t-\t0\tShADadFf\t{max}\t15961\t139"),
            ),
            (
                "orig_ip_bytes",
                format!("7.246461\t10853\t151695\tSF\t-\t-\t0\tShADadFf\t98\t{max}\t139"),
            ),
            (
                "orig_bytes",
                format!("7.246461\t{max}\t151695\tSF\t-\t-\t0\tShADadFf\t98\t15961\t139"),
            ),
            // 2^53 + 2 is exact in a double but no conn.log count is near it.
            (
                "resp_pkts",
                "7.246461\t10853\t151695\tSF\t-\t-\t0\tShADadFf\t98\t15961\t9007199254740994"
                    .to_string(),
            ),
            // 1 TB in 7 s is more than 100 Gbit/s (input.nettop_max_bytes_per_s).
            (
                "orig_ip_bytes",
                "7.246461\t10853\t151695\tSF\t-\t-\t0\tShADadFf\t98\t1000000000000\t139"
                    .to_string(),
            ),
        ] {
            let data = tsv.replace(real_row, &row);
            let (ev, st) = read_all(data.as_bytes(), Format::ZeekTsv, ctx("conn.log"));
            assert!(ev.is_empty(), "{what}: {}", traffic(&ev[0]).bytes_out);
            assert_eq!(st.reasons().get("counter glitch"), Some(&1), "{what}");
            assert!(st.samples[0].detail.starts_with(what), "{:?}", st.samples);
        }
        let json = String::from_utf8(corpus("zeekdocs_conn_json.ndjson"))
            .unwrap()
            .replacen("\"orig_pkts\":6", &format!("\"orig_pkts\":{max}"), 1);
        let (ev, st) = read_all(json.as_bytes(), Format::ZeekJson, ctx("conn.json"));
        assert_eq!((ev.len(), st.rejected), (1, 1));
        assert_eq!(st.samples[0].reason, "counter glitch");
        assert_eq!(st.samples[0].line, 2);
    }
}
