//! Zeek `conn.log` in the exact TSV shape Zeek writes (header block, current column set with `ip_proto`,
//! unset fields as `-`, `#close` trailer), modelled on the real samples in `tests/data/corpus/zeek/` and
//! the Stratosphere logs: a single-SYN connection that was never answered is `S0` with history `S`,
//! one packet of 40 IP bytes, and no duration or payload byte counts.

use floodwatch_core::Ts;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::io::{self, Write};
use std::path::Path;

/// One conn.log row. `None` fields are written as Zeek's unset `-`.
#[derive(Clone, Debug)]
pub struct Conn {
    pub ts: Ts,
    pub uid: String,
    pub orig_h: String,
    pub orig_p: u16,
    pub resp_h: String,
    pub resp_p: u16,
    pub proto: &'static str,
    pub service: Option<&'static str>,
    pub duration: Option<f64>,
    pub orig_bytes: Option<u64>,
    pub resp_bytes: Option<u64>,
    pub conn_state: &'static str,
    pub history: Option<&'static str>,
    pub orig_pkts: u64,
    pub orig_ip_bytes: u64,
    pub resp_pkts: u64,
    pub resp_ip_bytes: u64,
}

const FIELDS: &str = "ts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\tmissed_bytes\thistory\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\ttunnel_parents\tip_proto";
const TYPES: &str = "time\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\tstring\tbool\tbool\tcount\tstring\tcount\tcount\tcount\tcount\tset[string]\tcount";

/// `2025-09-16-03-12-00`, Zeek's `#open` / `#close` stamp.
fn stamp(ts: Ts) -> String {
    let (y, mo, d, h, mi, s, _) = floodwatch_core::time::civil_parts(ts);
    format!("{y:04}-{mo:02}-{d:02}-{h:02}-{mi:02}-{s:02}")
}

/// `1646150638.631834`: seconds since the epoch with microseconds.
fn epoch(ts: Ts) -> String {
    format!(
        "{}.{:06}",
        ts.0.div_euclid(1_000_000_000),
        ts.0.rem_euclid(1_000_000_000) / 1000
    )
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| "-".to_string(), |x| x.to_string())
}

/// Writes `rows` (in the given order) as one conn.log.
pub fn write_conn_log(path: &Path, rows: &[Conn]) -> io::Result<()> {
    let mut w = io::BufWriter::new(std::fs::File::create(path)?);
    let open = rows.iter().map(|r| r.ts).min().unwrap_or(Ts(0));
    let close = rows
        .iter()
        .map(|r| {
            r.ts.add_nanos((r.duration.unwrap_or(0.0) * 1e9) as i64 + 60 * 1_000_000_000)
        })
        .max()
        .unwrap_or(open);
    writeln!(w, "#separator \\x09")?;
    writeln!(w, "#set_separator\t,")?;
    writeln!(w, "#empty_field\t(empty)")?;
    writeln!(w, "#unset_field\t-")?;
    writeln!(w, "#path\tconn")?;
    writeln!(w, "#open\t{}", stamp(open))?;
    writeln!(w, "#fields\t{FIELDS}")?;
    writeln!(w, "#types\t{TYPES}")?;
    for r in rows {
        let ip_proto = match r.proto {
            "tcp" => 6,
            "udp" => 17,
            _ => 1,
        };
        writeln!(
            w,
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\tT\tF\t0\t{}\t{}\t{}\t{}\t{}\t-\t{ip_proto}",
            epoch(r.ts),
            r.uid,
            r.orig_h,
            r.orig_p,
            r.resp_h,
            r.resp_p,
            r.proto,
            opt(r.service),
            r.duration.map_or_else(|| "-".to_string(), |d| format!("{d:.6}")),
            opt(r.orig_bytes),
            opt(r.resp_bytes),
            r.conn_state,
            opt(r.history),
            r.orig_pkts,
            r.orig_ip_bytes,
            r.resp_pkts,
            r.resp_ip_bytes,
        )?;
    }
    writeln!(w, "#close\t{}", stamp(close))?;
    w.flush()
}

/// Zeek's connection uid: `C` and 17 base-62 characters.
fn uid(rng: &mut ChaCha8Rng) -> String {
    const A: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut s = String::from("C");
    for _ in 0..17 {
        s.push(A[rng.random_range(0..A.len())] as char);
    }
    s
}

/// A SYN flood as Zeek logs it (hping3 -S --flood): `count` unanswered SYNs from random source ports of
/// `local` to `target:port`, spread evenly over `secs` seconds from `start` — each an `S0` row, history
/// `S`, one 40-byte packet, no duration.
pub fn syn_flood(
    seed: u64,
    start: Ts,
    secs: f64,
    count: u64,
    local: &str,
    target: &str,
    port: u16,
) -> Vec<Conn> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5EED_2E3C);
    let step = secs * 1e9 / count.max(1) as f64;
    (0..count)
        .map(|i| Conn {
            ts: start.add_nanos((i as f64 * step) as i64),
            uid: uid(&mut rng),
            orig_h: local.to_string(),
            orig_p: rng.random_range(1_024..65_535),
            resp_h: target.to_string(),
            resp_p: port,
            proto: "tcp",
            service: None,
            duration: None,
            orig_bytes: None,
            resp_bytes: None,
            conn_state: "S0",
            history: Some("S"),
            orig_pkts: 1,
            orig_ip_bytes: 40,
            resp_pkts: 0,
            resp_ip_bytes: 0,
        })
        .collect()
}

/// Ordinary traffic of `local` over `[start, start + secs]`: DNS lookups to its resolver and HTTPS
/// sessions to a few servers, a connection every couple of seconds.
pub fn routine(seed: u64, start: Ts, secs: f64, local: &str) -> Vec<Conn> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x0B5E_7AFE);
    let servers = [
        "17.253.144.10",
        "140.82.121.4",
        "151.101.1.69",
        "52.84.150.11",
    ];
    let mut rows = Vec::new();
    let mut t = 0.0;
    while t < secs {
        let ts = start.add_nanos((t * 1e9) as i64);
        if rng.random_range(0..3) == 0 {
            rows.push(Conn {
                ts,
                uid: uid(&mut rng),
                orig_h: local.to_string(),
                orig_p: rng.random_range(49_152..65_535),
                resp_h: "192.168.1.1".into(),
                resp_p: 53,
                proto: "udp",
                service: Some("dns"),
                duration: Some(rng.random_range(5..40) as f64 / 1000.0),
                orig_bytes: Some(rng.random_range(30..60)),
                resp_bytes: Some(rng.random_range(60..300)),
                conn_state: "SF",
                history: Some("Dd"),
                orig_pkts: 1,
                orig_ip_bytes: rng.random_range(58..88),
                resp_pkts: 1,
                resp_ip_bytes: rng.random_range(88..330),
            });
        } else {
            let pk = rng.random_range(8..40);
            rows.push(Conn {
                ts,
                uid: uid(&mut rng),
                orig_h: local.to_string(),
                orig_p: rng.random_range(49_152..65_535),
                resp_h: servers[rng.random_range(0..servers.len())].into(),
                resp_p: 443,
                proto: "tcp",
                service: Some("ssl"),
                duration: Some(rng.random_range(200..9_000) as f64 / 1000.0),
                orig_bytes: Some(pk * 90),
                resp_bytes: Some(pk * 900),
                conn_state: "SF",
                history: Some("ShADadFf"),
                orig_pkts: pk,
                orig_ip_bytes: pk * 142,
                resp_pkts: pk + 4,
                resp_ip_bytes: pk * 950,
            });
        }
        t += rng.random_range(500..3_500) as f64 / 1000.0;
    }
    rows
}

/// Rows sorted as Zeek writes them: by the time each connection ends.
pub fn by_end(mut rows: Vec<Conn>) -> Vec<Conn> {
    rows.sort_by_key(|r| r.ts.add_nanos((r.duration.unwrap_or(0.0) * 1e9) as i64));
    rows
}
