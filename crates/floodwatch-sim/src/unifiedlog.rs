//! `log stream|show --style ndjson` (shared/docs/telemetry-formats.md §3), modelled on the real lines in
//! `tests/data/corpus/unifiedlog/`: the same keys in the same order, `\/`-escaped slashes, a local
//! `timestamp` with a numeric offset, and the `com.apple.network`/`connection` "cancelled" summary with
//! its multi-line `eventMessage` (`bytes in/out: A/B, packets in/out: C/D`) and its real `formatString`.

use crate::util::{
    escape_slashes, hash_str, mix, unified_log_time, uuid_from, write_json, Counting, J,
};
use floodwatch_core::time::NANOS_PER_SEC;
use floodwatch_core::Ts;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::HashMap;
use std::io::{self, Write};

/// The real connection-summary format string (macOS 15/26 Network.framework).
pub const SUMMARY_FORMAT: &str = "[C%u %{public,uuid_t}.16P %{public}s %{public}@] cancelled\n\t[C%{public}s %{public,uuid_t}.16P %{public}s<->%{public}s]\n\tConnected Path: %{public}@\n\tPrivacy Stance: %{public}s\n\tDuration: %u.us, DNS @%u.us took %u.us, %{public}s @%u.us took %u.us, %{public}s took %u.us\n\tbytes in/out: %llu/%llu, packets in/out: %llu/%llu, rtt: %u.us, retransmitted bytes: %llu, out-of-order bytes: %llu\n\tecn packets sent/acked/marked/lost: %llu/%llu/%llu/%llu";
pub const NETWORK_FRAMEWORK: &str =
    "/System/Library/Frameworks/Network.framework/Versions/A/Network";
const NETWORK_UUID: &str = "E481CDB0-9C0C-3BBC-87FA-006C66D3223E";
const NETWORK_PC: u64 = 9_418_645;
pub const LOGINWINDOW: &str =
    "/System/Library/CoreServices/loginwindow.app/Contents/MacOS/loginwindow";
const LOGINWINDOW_UUID: &str = "2F16B6B6-41B5-34D4-88A1-06CAFCE952EF";

/// One log record's variable parts, for [`UnifiedLog::record`].
#[derive(Clone, Debug)]
pub struct Record<'a> {
    pub ts: Ts,
    pub pid: i32,
    pub process_path: &'a str,
    pub uid: u32,
    pub subsystem: &'a str,
    pub category: &'a str,
    pub format_string: &'a str,
    pub message: &'a str,
    pub sender_path: &'a str,
    pub sender_pc: u64,
}

/// Writes unified-log NDJSON records, in call order.
pub struct UnifiedLog<W: Write> {
    out: Counting<W>,
    offset: i32,
    rng: ChaCha8Rng,
    salt: u64,
    boot_uuid: String,
    boot: Option<Ts>,
    conn_ids: HashMap<i32, u32>,
    loginwindow_pid: i32,
    line: Vec<u8>,
    escaped: Vec<u8>,
}

impl<W: Write> UnifiedLog<W> {
    pub fn new(w: W, utc_offset_secs: i32, seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x0106_0106);
        let salt: u64 = rng.random();
        UnifiedLog {
            out: Counting::new(w),
            offset: utc_offset_secs,
            boot_uuid: uuid_from(salt, 0xB007),
            loginwindow_pid: 140 + (salt % 300) as i32,
            salt,
            rng,
            boot: None,
            conn_ids: HashMap::new(),
            line: Vec::with_capacity(4096),
            escaped: Vec::with_capacity(4096),
        }
    }

    pub fn utc_offset(&self) -> i32 {
        self.offset
    }

    /// Bytes written so far.
    pub fn bytes_written(&self) -> u64 {
        self.out.bytes
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.inner.flush()
    }

    pub fn into_inner(self) -> W {
        self.out.inner
    }

    /// A `com.apple.network`/`connection` "cancelled" summary logged at `ts_end` by process `pid`.
    /// `proto`: `"tcp"`, `"quic-connection"` or `"udp"`; `local` `"192.168.1.20:53122"`; `remote` as
    /// logged (often redacted: `"IPv4#1a2b3c4d:80"`, `"Hostname#ea5d1e75:443"`).
    #[allow(clippy::too_many_arguments)]
    pub fn connection_summary(
        &mut self,
        ts_end: Ts,
        pid: i32,
        path: &str,
        uid: u32,
        proto: &str,
        local: &str,
        remote: &str,
        duration_s: f64,
        bytes_in: u64,
        bytes_out: u64,
        packets_in: u64,
        packets_out: u64,
    ) -> io::Result<()> {
        let salt = self.salt;
        let c = {
            let next = self
                .conn_ids
                .entry(pid)
                .or_insert_with(|| 1 + (mix(salt ^ pid as u64) % 400) as u32);
            let c = *next;
            *next += 1;
            c
        };
        let quic = proto.starts_with("quic");
        let port = remote.rsplit(':').next().unwrap_or("443");
        let tls = quic || port == "443";
        // The second bracket shows the connected socket: a hostname resolves to a (redacted) address.
        let socket_remote = match remote.strip_prefix("Hostname#") {
            Some(rest) => {
                let h = rest.split(':').next().unwrap_or(rest);
                format!("IPv4#{:08x}:{port}", hash_str(salt, h) as u32)
            }
            None => remote.to_string(),
        };
        let url_hash = self.rng.random::<u32>();
        let detail = match proto {
            "tcp" if tls => format!("tcp, url hash: {url_hash:08x}, tls, definite, attribution: developer"),
            "tcp" => format!("tcp, url hash: {url_hash:08x}, definite, attribution: developer"),
            p if p.starts_with("quic") => format!(
                "{p}, url hash: {url_hash:08x}, traffic class: 100, no expensive, attribution: developer"
            ),
            p => format!("{p}, attribution: developer"),
        };
        let sub = if quic {
            format!("C{c}.1.1.1")
        } else {
            format!("C{c}.1.1")
        };
        let r1: u64 = self.rng.random();
        let r2: u64 = self.rng.random();
        let dns_at = self.rng.random_range(0..3u32) as f64 / 1000.0;
        let dns_took = self.rng.random_range(1..70u32) as f64 / 1000.0;
        let conn_took = self.rng.random_range(5..60u32) as f64 / 1000.0;
        let tls_took = if tls {
            self.rng.random_range(80..420u32) as f64 / 1000.0
        } else {
            0.0
        };
        let rtt = self.rng.random_range(5..140u32) as f64 / 1000.0;
        let step = if proto == "udp" { "UDP" } else { "TCP" };
        let msg = format!(
            "[C{c} {} {remote} {detail}] cancelled\n\t[{sub} {} {local}<->{socket_remote}]\n\tConnected Path: satisfied (Path is satisfied), viable, interface: en0[802.11], ipv4, dns, uses wifi\n\tPrivacy Stance: Not Eligible\n\tDuration: {duration_s:.3}s, DNS @{dns_at:.3}s took {dns_took:.3}s, {step} @{:.3}s took {conn_took:.3}s, TLS 1.3 took {tls_took:.3}s\n\tbytes in/out: {bytes_in}/{bytes_out}, packets in/out: {packets_in}/{packets_out}, rtt: {rtt:.3}s, retransmitted bytes: 0, out-of-order bytes: 0\n\tecn packets sent/acked/marked/lost: 0/0/0/0",
            uuid_from(r1, r2),
            uuid_from(r2, r1 ^ 9),
            dns_at + dns_took + 0.001,
        );
        self.record(&Record {
            ts: ts_end,
            pid,
            process_path: path,
            uid,
            subsystem: "com.apple.network",
            category: "connection",
            format_string: SUMMARY_FORMAT,
            message: &msg,
            sender_path: NETWORK_FRAMEWORK,
            sender_pc: NETWORK_PC,
        })
    }

    /// loginwindow's `-[Login1 doLogin] | shortUsername = …, userID = …, groupID = 20`.
    pub fn login(&mut self, ts: Ts, user: &str, uid: u32) -> io::Result<()> {
        let msg =
            format!("-[Login1 doLogin] | shortUsername = {user}, userID = {uid}, groupID = 20");
        self.loginwindow(
            ts,
            0,
            "%s | shortUsername = %s, userID = %d, groupID = %d",
            &msg,
            56_811,
        )
    }

    /// Screen lock (loginwindow "going inactive, create activity semaphore").
    pub fn lock(&mut self, ts: Ts) -> io::Result<()> {
        let m = "going inactive, create activity semaphore";
        self.loginwindow(ts, 501, m, m, 88_412)
    }

    /// Screen unlock (loginwindow "releasing the activity semaphore").
    pub fn unlock(&mut self, ts: Ts) -> io::Result<()> {
        let m = "releasing the activity semaphore";
        self.loginwindow(ts, 501, m, m, 88_630)
    }

    fn loginwindow(&mut self, ts: Ts, uid: u32, fmt: &str, msg: &str, pc: u64) -> io::Result<()> {
        let pid = self.loginwindow_pid;
        self.record(&Record {
            ts,
            pid,
            process_path: LOGINWINDOW,
            uid,
            subsystem: "com.apple.loginwindow.logging",
            category: "Standard",
            format_string: fmt,
            message: msg,
            sender_path: LOGINWINDOW,
            sender_pc: pc,
        })
    }

    /// Any record, with the real key set and order.
    pub fn record(&mut self, r: &Record) -> io::Result<()> {
        let boot = *self.boot.get_or_insert_with(|| {
            Ts(r.ts.0 - (6 * 3_600 + (mix(self.salt) % (9 * 86_400)) as i64) * NANOS_PER_SEC)
        });
        let sender_uuid = if r.sender_path == NETWORK_FRAMEWORK {
            NETWORK_UUID.to_string()
        } else if r.sender_path == LOGINWINDOW {
            LOGINWINDOW_UUID.to_string()
        } else {
            uuid_from(hash_str(self.salt, r.sender_path), 1)
        };
        let image_uuid = if r.process_path == LOGINWINDOW {
            LOGINWINDOW_UUID.to_string()
        } else {
            uuid_from(hash_str(self.salt, r.process_path), 2)
        };
        let thread =
            700 + mix(self.salt ^ r.pid as u64) % 1_500_000 + self.rng.random_range(0..4u64);
        let trace = self.rng.random::<u64>() >> 6;
        let rec = J::O(vec![
            ("timezoneName", J::s("")),
            ("messageType", J::s("Default")),
            ("eventType", J::s("logEvent")),
            ("source", J::Null),
            ("formatString", J::s(r.format_string)),
            ("userID", J::U(r.uid as u64)),
            ("activityIdentifier", J::U(0)),
            ("subsystem", J::s(r.subsystem)),
            ("category", J::s(r.category)),
            ("threadID", J::U(thread)),
            ("senderImageUUID", J::s(sender_uuid.as_str())),
            (
                "backtrace",
                J::O(vec![(
                    "frames",
                    J::A(vec![J::O(vec![
                        ("imageOffset", J::U(r.sender_pc)),
                        ("imageUUID", J::S(sender_uuid)),
                    ])]),
                )]),
            ),
            ("bootUUID", J::s(self.boot_uuid.as_str())),
            ("processImagePath", J::s(r.process_path)),
            ("senderImagePath", J::s(r.sender_path)),
            ("timestamp", J::S(unified_log_time(r.ts, self.offset))),
            ("machTimestamp", J::U((r.ts.0 - boot.0).max(0) as u64)),
            ("eventMessage", J::s(r.message)),
            ("processImageUUID", J::S(image_uuid)),
            ("traceID", J::U(trace)),
            ("processID", J::I(r.pid as i64)),
            ("senderProgramCounter", J::U(r.sender_pc)),
            ("parentActivityIdentifier", J::U(0)),
        ]);
        self.line.clear();
        write_json(&rec, &mut self.line, None);
        self.escaped.clear();
        escape_slashes(&self.line, &mut self.escaped);
        self.escaped.push(b'\n');
        self.out.put(&self.escaped)
    }
}
