//! [`HostFiles`]: one host's telemetry files and the timeline that fills them.
//!
//! Scenarios do not write directly: they queue timed actions (exec, fork, exit, session, nettop counter
//! updates, nettop frames, unified-log records). [`HostFiles::flush`] sorts the queue by time and writes
//! it, so several scenarios (and background activity) can be combined into the same files and every file
//! stays in time order. nettop frames requested by several scenarios at the same instant are written once,
//! and the host's background nettop traffic (mDNSResponder, apsd, a browser) is advanced at every frame.

use crate::eslogger::{EsWriter, Proc, Signer};
use crate::nettop::{Columns, NettopCsv};
use crate::osquery::OsqueryWriter;
use crate::unifiedlog::{Record, UnifiedLog};
use floodwatch_core::event::basename;
use floodwatch_core::time::NANOS_PER_SEC;
use floodwatch_core::Ts;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};

pub const ESLOGGER_FILE: &str = "eslogger.jsonl";
pub const NETTOP_FILE: &str = "nettop.csv";
pub const UNIFIEDLOG_FILE: &str = "unifiedlog.ndjson";
/// osquery results (`es_process_events`), written only when [`HostFiles::add_osquery`] was called.
pub const OSQUERY_FILE: &str = "osquery.log";

/// Which files a host has.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Files {
    pub eslogger: bool,
    pub nettop: bool,
    pub unifiedlog: bool,
}

impl Files {
    pub const ALL: Files = Files {
        eslogger: true,
        nettop: true,
        unifiedlog: true,
    };

    /// The file names, in a fixed order.
    pub fn names(self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if self.eslogger {
            v.push(ESLOGGER_FILE);
        }
        if self.nettop {
            v.push(NETTOP_FILE);
        }
        if self.unifiedlog {
            v.push(UNIFIEDLOG_FILE);
        }
        v
    }

    pub fn union(self, o: Files) -> Files {
        Files {
            eslogger: self.eslogger || o.eslogger,
            nettop: self.nettop || o.nettop,
            unifiedlog: self.unifiedlog || o.unifiedlog,
        }
    }
}

/// How a host's files are written.
#[derive(Clone, Debug)]
pub struct HostOpts {
    /// eslogger message version: 9, 10 (array audit tokens) or 11.
    pub es_version: u32,
    /// Local time of nettop's `time` column and the unified log's `timestamp` (seconds east of UTC).
    pub utc_offset_secs: i32,
    pub seed: u64,
    pub nettop_columns: Columns,
    /// The console user: (uid, short name).
    pub user: (u32, String),
    /// nettop's sampling interval (`-s`): frames are at least this many seconds apart.
    pub nettop_interval_s: i64,
}

impl Default for HostOpts {
    fn default() -> Self {
        HostOpts {
            es_version: 9,
            utc_offset_secs: 0,
            seed: 1,
            nettop_columns: Columns::Selected,
            user: (501, "bob".into()),
            nettop_interval_s: 1,
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) enum Action {
    Exec(Box<(Proc, Proc)>),
    Fork(Box<(Proc, Proc)>),
    Exit(Box<Proc>, i32),
    Session(&'static str, String),
    NetAdd {
        pid: i32,
        name: String,
        socket: String,
        iface: &'static str,
        state: &'static str,
        bytes_in: u64,
        bytes_out: u64,
    },
    NetRemove(i32),
    NetClose(i32, String),
    Frame,
    Summary(Box<Summary>),
    Login(String, u32),
    Lock,
    Unlock,
    Log(Box<OwnedRecord>),
}

#[derive(Clone, Debug)]
pub(crate) struct Summary {
    pub pid: i32,
    pub path: String,
    pub uid: u32,
    pub proto: &'static str,
    pub local: String,
    pub remote: String,
    pub duration_s: f64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub packets_in: u64,
    pub packets_out: u64,
}

#[derive(Clone, Debug)]
pub(crate) struct OwnedRecord {
    pub pid: i32,
    pub process_path: String,
    pub uid: u32,
    pub subsystem: &'static str,
    pub category: &'static str,
    pub format_string: String,
    pub message: String,
    pub sender_path: String,
    pub sender_pc: u64,
}

struct Timed {
    ts: Ts,
    prio: u8,
    seq: u64,
    action: Action,
}

/// A background nettop process whose counters grow a little at every frame.
struct BgSock {
    pid: i32,
    name: &'static str,
    socket: String,
    iface: &'static str,
    state: &'static str,
    in_per_s: u64,
    out_per_s: u64,
}

/// One host's open files plus the queue of timed actions that fill them.
pub struct HostFiles {
    pub host: String,
    pub dir: PathBuf,
    pub opts: HostOpts,
    pub(crate) es: Option<EsWriter<BufWriter<File>>>,
    pub(crate) nettop: Option<NettopCsv<BufWriter<File>>>,
    pub(crate) ulog: Option<UnifiedLog<BufWriter<File>>>,
    pub(crate) osq: Option<OsqueryWriter<BufWriter<File>>>,
    /// pid → pidversion of the live images, for osquery's `parent_pidversion`.
    osq_pv: HashMap<i32, u32>,
    /// Added to every unified-log timestamp (a host whose sources disagree on the time).
    ulog_skew_ns: i64,
    pub(crate) rng: ChaCha8Rng,
    queue: Vec<Timed>,
    seq: u64,
    next_pid: i32,
    next_pv: u32,
    reserved: HashSet<i32>,
    boot: Option<Ts>,
    frame_phase: i64,
    last_frame: Option<Ts>,
    bg: Vec<BgSock>,
    /// The host's IPv4 address on en0.
    pub ip: String,
    next_port: u32,
}

impl HostFiles {
    /// Creates `dir` (the host is its last component) and the files named by `files`.
    pub fn create(dir: &Path, files: Files, opts: HostOpts) -> io::Result<HostFiles> {
        let host = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "host".into());
        Self::create_named(dir, &host, files, opts)
    }

    /// [`HostFiles::create`] for a folder that is not named after the host (a day's folder,
    /// `HOST/2026-10-01/`): `host` is what the records name (osquery `hostIdentifier`).
    pub fn create_named(
        dir: &Path,
        host: &str,
        files: Files,
        opts: HostOpts,
    ) -> io::Result<HostFiles> {
        std::fs::create_dir_all(dir)?;
        let host = host.to_string();
        let mut rng = ChaCha8Rng::seed_from_u64(opts.seed ^ 0x4057_F11E);
        let open = |name: &str| -> io::Result<BufWriter<File>> {
            Ok(BufWriter::with_capacity(
                256 * 1024,
                File::create(dir.join(name))?,
            ))
        };
        let es = if files.eslogger {
            let mut w = EsWriter::new(open(ESLOGGER_FILE)?, opts.es_version, rng.random());
            w.set_user(opts.user.0, &opts.user.1);
            Some(w)
        } else {
            None
        };
        let nettop = if files.nettop {
            Some(NettopCsv::with_columns(
                open(NETTOP_FILE)?,
                opts.utc_offset_secs,
                opts.nettop_columns,
            ))
        } else {
            None
        };
        let ulog = if files.unifiedlog {
            Some(UnifiedLog::new(
                open(UNIFIEDLOG_FILE)?,
                opts.utc_offset_secs,
                rng.random(),
            ))
        } else {
            None
        };
        let next_pid = rng.random_range(900..20_000);
        let next_pv = rng.random_range(30_000..160_000);
        let frame_phase = rng.random_range(0..NANOS_PER_SEC);
        let ip = format!(
            "192.168.{}.{}",
            rng.random_range(0..4),
            rng.random_range(10..250)
        );
        let mut hf = HostFiles {
            host,
            dir: dir.to_path_buf(),
            opts,
            es,
            nettop,
            ulog,
            osq: None,
            osq_pv: HashMap::new(),
            ulog_skew_ns: 0,
            rng,
            queue: Vec::new(),
            seq: 0,
            next_pid,
            next_pv,
            reserved: HashSet::new(),
            boot: None,
            frame_phase,
            last_frame: None,
            bg: Vec::new(),
            ip,
            next_port: 0,
        };
        hf.next_port = hf.rng.random_range(49_200..60_000);
        hf.setup_background_sockets();
        Ok(hf)
    }

    pub fn files(&self) -> Files {
        Files {
            eslogger: self.es.is_some(),
            nettop: self.nettop.is_some(),
            unifiedlog: self.ulog.is_some(),
        }
    }

    /// Also writes `osquery.log` (`es_process_events` exec, fork and exit rows for every process event
    /// queued from now on; `hostIdentifier` is the host). Draws nothing from the host's random stream,
    /// so enabling it does not change the other files.
    pub fn add_osquery(&mut self) -> io::Result<()> {
        let f = File::create(self.dir.join(OSQUERY_FILE))?;
        let seed = self.opts.seed ^ 0x05_0E4E;
        self.osq = Some(OsqueryWriter::new(
            BufWriter::with_capacity(256 * 1024, f),
            &self.host,
            seed,
        ));
        Ok(())
    }

    pub fn has_osquery(&self) -> bool {
        self.osq.is_some()
    }

    /// Whether process events (exec, fork, exit) reach any file: eslogger or osquery.
    pub fn has_process_events(&self) -> bool {
        self.es.is_some() || self.osq.is_some()
    }

    /// Shifts every unified-log timestamp by `secs` (clock skew between a host's sources).
    pub fn set_unifiedlog_skew(&mut self, secs: f64) {
        self.ulog_skew_ns = (secs * NANOS_PER_SEC as f64).round() as i64;
    }

    pub fn user(&self) -> (u32, String) {
        self.opts.user.clone()
    }

    /// Bytes written so far, per file (eslogger, nettop, unified log).
    pub fn bytes_written(&self) -> (u64, u64, u64) {
        (
            self.es.as_ref().map_or(0, |w| w.bytes_written()),
            self.nettop.as_ref().map_or(0, |w| w.bytes_written()),
            self.ulog.as_ref().map_or(0, |w| w.bytes_written()),
        )
    }

    fn setup_background_sockets(&mut self) {
        let ip = self.ip.clone();
        let mdns = self.rng.random_range(180..420);
        let apsd = self.rng.random_range(420..700);
        let web = self.rng.random_range(1_200..3_000);
        let p1 = self.port();
        let p2 = self.port();
        self.reserved.extend([mdns, apsd, web]);
        self.bg = vec![
            BgSock {
                pid: mdns,
                name: "mDNSResponder",
                socket: "udp4 *:5353<->*:*".into(),
                iface: "en0",
                state: "",
                in_per_s: 180,
                out_per_s: 90,
            },
            BgSock {
                pid: mdns,
                name: "mDNSResponder",
                socket: "udp6 *.5353<->*.*".into(),
                iface: "en0",
                state: "",
                in_per_s: 150,
                out_per_s: 70,
            },
            BgSock {
                pid: apsd,
                name: "apsd",
                socket: format!("tcp4 {ip}:{p1}<->17.57.146.138:5223"),
                iface: "en0",
                state: "Established",
                in_per_s: 6,
                out_per_s: 9,
            },
            BgSock {
                pid: web,
                name: "com.apple.WebKit.Networking",
                socket: format!("tcp4 {ip}:{p2}<->17.248.214.67:443"),
                iface: "en0",
                state: "Established",
                in_per_s: 2_400,
                out_per_s: 310,
            },
            BgSock {
                pid: web,
                name: "com.apple.WebKit.Networking",
                socket: format!("quic4 {ip}:{}<->142.250.74.46:443", p2 + 7),
                iface: "en0",
                state: "",
                in_per_s: 1_100,
                out_per_s: 160,
            },
        ];
    }

    // -------------------------------------------------------------------------------------------------
    // Allocation

    /// A fresh pid (macOS hands them out in increasing order; others are spawned in between).
    pub fn pid(&mut self) -> i32 {
        loop {
            self.next_pid += self.rng.random_range(1..6);
            if self.next_pid > 99_990 {
                self.next_pid = 120 + self.rng.random_range(0..200);
            }
            if !self.reserved.contains(&self.next_pid) {
                return self.next_pid;
            }
        }
    }

    /// Keeps the pid allocator away from a pid a scenario uses by number.
    pub fn reserve_pid(&mut self, pid: i32) {
        self.reserved.insert(pid);
    }

    /// A fresh pidversion for a new process (room is left for two execs).
    pub fn pidversion(&mut self) -> u32 {
        self.next_pv += self.rng.random_range(1..5) + 2;
        self.next_pv
    }

    /// An ephemeral local port.
    pub fn port(&mut self) -> u32 {
        self.next_port += self.rng.random_range(1..9);
        if self.next_port > 65_000 {
            self.next_port = 49_200 + self.rng.random_range(0..400);
        }
        self.next_port
    }

    /// `ip:port` with a fresh ephemeral port.
    pub fn local_endpoint(&mut self) -> String {
        let port = self.port();
        format!("{}:{port}", self.ip)
    }

    /// The host's boot time (fixed at the first call, some hours before `near`).
    pub fn boot(&mut self, near: Ts) -> Ts {
        if let Some(b) = self.boot {
            return b;
        }
        let b = near.add_secs(-self.rng.random_range(4 * 3_600..9 * 86_400));
        self.boot = Some(b);
        b
    }

    pub fn launchd(&mut self, near: Ts) -> Proc {
        let boot = self.boot(near);
        let pv = self.es.as_ref().map_or(1_029, |w| w.launchd_pidversion());
        Proc::launchd(boot, pv)
    }

    // -------------------------------------------------------------------------------------------------
    // Queueing

    fn push(&mut self, ts: Ts, prio: u8, action: Action) {
        self.seq += 1;
        self.queue.push(Timed {
            ts,
            prio,
            seq: self.seq,
            action,
        });
    }

    pub fn exec(&mut self, ts: Ts, before: &Proc, after: &Proc) {
        if self.has_process_events() {
            self.push(
                ts,
                0,
                Action::Exec(Box::new((before.clone(), after.clone()))),
            );
        }
    }

    pub fn fork(&mut self, ts: Ts, parent: &Proc, child: &Proc) {
        if self.has_process_events() {
            self.push(
                ts,
                0,
                Action::Fork(Box::new((parent.clone(), child.clone()))),
            );
        }
    }

    pub fn exit(&mut self, ts: Ts, p: &Proc, stat: i32) {
        if self.has_process_events() {
            self.push(ts, 0, Action::Exit(Box::new(p.clone()), stat));
        }
    }

    /// An eslogger session event (`lw_session_unlock`, ...).
    pub fn session(&mut self, ts: Ts, kind: &'static str, user: &str) {
        if self.es.is_some() {
            self.push(ts, 0, Action::Session(kind, user.to_string()));
        }
    }

    /// Adds to a socket's cumulative nettop counters (see [`NettopCsv::add`]).
    #[allow(clippy::too_many_arguments)]
    pub fn net_add(
        &mut self,
        ts: Ts,
        pid: i32,
        name: &str,
        socket: &str,
        iface: &'static str,
        state: &'static str,
        bytes_in: u64,
        bytes_out: u64,
    ) {
        if self.nettop.is_some() {
            self.push(
                ts,
                0,
                Action::NetAdd {
                    pid,
                    name: name.to_string(),
                    socket: socket.to_string(),
                    iface,
                    state,
                    bytes_in,
                    bytes_out,
                },
            );
        }
    }

    /// One socket of a process closed: its row is gone from nettop from `ts` on.
    pub fn net_close(&mut self, ts: Ts, pid: i32, socket: &str) {
        if self.nettop.is_some() {
            self.push(ts, 0, Action::NetClose(pid, socket.to_string()));
        }
    }

    /// The process is gone from nettop from `ts` on.
    pub fn net_remove(&mut self, ts: Ts, pid: i32) {
        if self.nettop.is_some() {
            self.push(ts, 0, Action::NetRemove(pid));
        }
    }

    /// The nettop file is written as `nettop -P -L 0` captures it: process rows only, so every row's
    /// protocol is unknown to the reader.
    pub fn nettop_process_only(&mut self) {
        if let Some(n) = self.nettop.as_mut() {
            n.set_process_only(true);
        }
    }

    /// The first frame instant at or after `ts` (frames share one sub-second phase per host).
    pub fn frame_at_or_after(&self, ts: Ts) -> Ts {
        let base = ts.0 - ts.0.rem_euclid(NANOS_PER_SEC) + self.frame_phase;
        if base >= ts.0 {
            Ts(base)
        } else {
            Ts(base + NANOS_PER_SEC)
        }
    }

    /// nettop frames every `every_s` seconds over `[from, to]`.
    pub fn nettop_capture(&mut self, from: Ts, to: Ts, every_s: i64) {
        if self.nettop.is_none() {
            return;
        }
        let mut t = self.frame_at_or_after(from);
        while t <= to {
            self.push(t, 1, Action::Frame);
            t = t.add_secs(every_s.max(self.opts.nettop_interval_s).max(1));
        }
    }

    /// A com.apple.network connection summary (see [`UnifiedLog::connection_summary`]).
    #[allow(clippy::too_many_arguments)]
    pub fn summary(
        &mut self,
        ts_end: Ts,
        pid: i32,
        path: &str,
        uid: u32,
        proto: &'static str,
        local: &str,
        remote: &str,
        duration_s: f64,
        bytes_in: u64,
        bytes_out: u64,
        packets_in: u64,
        packets_out: u64,
    ) {
        if self.ulog.is_some() {
            self.push(
                ts_end,
                0,
                Action::Summary(Box::new(Summary {
                    pid,
                    path: path.to_string(),
                    uid,
                    proto,
                    local: local.to_string(),
                    remote: remote.to_string(),
                    duration_s,
                    bytes_in,
                    bytes_out,
                    packets_in,
                    packets_out,
                })),
            );
        }
    }

    pub fn log_login(&mut self, ts: Ts, user: &str, uid: u32) {
        if self.ulog.is_some() {
            self.push(ts, 0, Action::Login(user.to_string(), uid));
        }
    }

    pub fn log_lock(&mut self, ts: Ts) {
        if self.ulog.is_some() {
            self.push(ts, 0, Action::Lock);
        }
    }

    pub fn log_unlock(&mut self, ts: Ts) {
        if self.ulog.is_some() {
            self.push(ts, 0, Action::Unlock);
        }
    }

    /// Any other unified-log record.
    #[allow(clippy::too_many_arguments)]
    pub fn log_record(
        &mut self,
        ts: Ts,
        pid: i32,
        process_path: &str,
        uid: u32,
        subsystem: &'static str,
        category: &'static str,
        format_string: &str,
        message: &str,
        sender_path: &str,
    ) {
        if self.ulog.is_some() {
            let pc = 100_000 + (crate::util::hash_str(1, format_string) % 9_000_000);
            self.push(
                ts,
                0,
                Action::Log(Box::new(OwnedRecord {
                    pid,
                    process_path: process_path.to_string(),
                    uid,
                    subsystem,
                    category,
                    format_string: format_string.to_string(),
                    message: message.to_string(),
                    sender_path: sender_path.to_string(),
                    sender_pc: pc,
                })),
            );
        }
    }

    // -------------------------------------------------------------------------------------------------
    // Composite helpers

    /// launchd starts a job: fork (launchd → its copy), exec (copy → xpcproxy), exec (xpcproxy → the
    /// job), as eslogger shows it. The job has ppid 1, session 1 and is responsible for itself. Daemons
    /// (`auid` None) run with the unset audit user; agents of a logged-in user carry the user's auid.
    #[allow(clippy::too_many_arguments)]
    pub fn spawn_job(
        &mut self,
        ts: Ts,
        pid: Option<i32>,
        path: &str,
        args: &[&str],
        signer: Signer,
        uid: u32,
        gid: u32,
        auid: Option<u32>,
    ) -> Proc {
        let launchd = self.launchd(ts);
        let pid = pid.unwrap_or_else(|| self.pid());
        let pv = self.pidversion();
        let mut copy = launchd.fork_child(pid, pv, ts);
        copy.session_id = 1;
        copy.responsible_pid = pid;
        self.fork(ts, &launchd, &copy);
        let mut xpc = copy.exec_image(
            "/usr/libexec/xpcproxy",
            &["xpcproxy", &format!("com.local.{}", basename(path))],
            Signer::platform("com.apple.xpc.proxy"),
        );
        xpc.uid = uid;
        xpc.euid = uid;
        xpc.gid = gid;
        let t1 = ts.add_nanos(self.rng.random_range(150_000..600_000));
        self.exec(t1, &copy, &xpc);
        let mut job = xpc.exec_image(path, args, signer);
        job.auid = auid;
        job.cwd = "/".into();
        let t2 = ts.add_nanos(self.rng.random_range(6_000_000..14_000_000));
        self.exec(t2, &xpc, &job);
        job
    }

    /// `parent` forks a child which execs `path`; returns (child before exec, child after exec).
    pub fn fork_exec(
        &mut self,
        ts: Ts,
        parent: &Proc,
        path: &str,
        args: &[&str],
        signer: Signer,
    ) -> (Proc, Proc) {
        let pid = self.pid();
        let pv = self.pidversion();
        let child = parent.fork_child(pid, pv, ts);
        self.fork(ts, parent, &child);
        let after = child.exec_image(path, args, signer);
        let t1 = ts.add_nanos(self.rng.random_range(400_000..2_500_000));
        self.exec(t1, &child, &after);
        (child, after)
    }

    /// The usual surroundings of an activity over `[start, end]`: background from 30 s before to 10 s
    /// after, and 1 s nettop frames from `lead_s` before to 10 s after.
    pub fn around(&mut self, start: Ts, end: Ts, lead_s: i64) {
        self.background(start.add_secs(-30), end.add_secs(10));
        self.nettop_capture(start.add_secs(-lead_s), end.add_secs(10), 1);
    }

    /// A LaunchAgent of the console user: their uid and auid, group staff (20).
    pub fn user_job(&mut self, ts: Ts, path: &str, args: &[&str], signer: Signer) -> Proc {
        let (uid, _) = self.user();
        self.spawn_job(ts, None, path, args, signer, uid, 20, Some(uid))
    }

    /// Benign background in whichever files are open, over `[from, to]`: mdworker_shared and other
    /// launchd jobs starting and exiting, nsurlsessiond connection summaries.
    pub fn background(&mut self, from: Ts, to: Ts) {
        let (uid, _) = self.user();
        if self.has_process_events() {
            let mut t = from.add_nanos(self.rng.random_range(0..8 * NANOS_PER_SEC));
            while t < to {
                let k = self.rng.random_range(0..10u32);
                let (path, id, juid, auid): (&str, &str, u32, Option<u32>) = match k {
                    0..=5 => (
                        "/System/Library/Frameworks/CoreServices.framework/Versions/A/Frameworks/Metadata.framework/Versions/A/Support/mdworker_shared",
                        "com.apple.mdworker_shared",
                        uid,
                        Some(uid),
                    ),
                    6 => ("/usr/libexec/trustd", "com.apple.trustd", 0, None),
                    7 => ("/usr/libexec/nsurlsessiond", "com.apple.nsurlsessiond", uid, Some(uid)),
                    8 => ("/System/Library/PrivateFrameworks/CloudKitDaemon.framework/Support/cloudd", "com.apple.cloudd", uid, Some(uid)),
                    _ => ("/usr/sbin/distnoted", "com.apple.distnoted", uid, Some(uid)),
                };
                let args: Vec<&str> = match k {
                    0..=5 => vec![
                        path,
                        "-s",
                        "mdworker",
                        "-c",
                        "MDSImporterWorker",
                        "-m",
                        "com.apple.mdworker.shared",
                    ],
                    9 => vec![path, "agent"],
                    _ => vec![path],
                };
                let job =
                    self.spawn_job(t, None, path, &args, Signer::platform(id), juid, 20, auid);
                let life = self.rng.random_range(2..40);
                let frac = self.rng.random_range(0..NANOS_PER_SEC);
                self.exit(t.add_secs(life).add_nanos(frac), &job, 0);
                t = t.add_secs(self.rng.random_range(15..60));
            }
        }
        if self.ulog.is_some() {
            let pid = 300 + (self.opts.seed % 900) as i32;
            let mut t = from.add_secs(self.rng.random_range(1..20));
            while t < to {
                let local = self.local_endpoint();
                let remote = format!("Hostname#{:08x}:443", self.rng.random::<u32>());
                let bin = self.rng.random_range(2_000..300_000);
                let bout = self.rng.random_range(800..4_000);
                let d = self.rng.random_range(300..9_000) as f64 / 1000.0;
                self.summary(
                    t,
                    pid,
                    "/usr/libexec/nsurlsessiond",
                    uid,
                    "quic-connection",
                    &local,
                    &remote,
                    d,
                    bin,
                    bout,
                    bin / 1_200 + 3,
                    bout / 200 + 4,
                );
                t = t.add_secs(self.rng.random_range(8..45));
            }
        }
    }

    // -------------------------------------------------------------------------------------------------
    // Writing

    /// Writes every queued action with a time `<= until`, in time order.
    pub fn flush_until(&mut self, until: Ts) -> io::Result<()> {
        self.queue.sort_by_key(|t| (t.ts, t.prio, t.seq));
        let n = self.queue.partition_point(|t| t.ts <= until);
        let rest = self.queue.split_off(n);
        let ready = std::mem::replace(&mut self.queue, rest);
        for t in ready {
            self.apply(t.ts, t.action)?;
        }
        Ok(())
    }

    /// Writes everything queued.
    pub fn flush(&mut self) -> io::Result<()> {
        self.flush_until(Ts::MAX)
    }

    /// Writes everything, flushes the files and sets nettop.csv's modification time to its last frame
    /// (nettop has no date: readers anchor a nettop-only capture to the file's modification time).
    pub fn finish(mut self) -> io::Result<()> {
        self.flush()?;
        if let Some(w) = self.es.as_mut() {
            w.flush()?;
        }
        if let Some(w) = self.ulog.as_mut() {
            w.flush()?;
        }
        if let Some(w) = self.osq.as_mut() {
            w.flush()?;
        }
        if let Some(w) = self.nettop.take() {
            let f = w.into_inner().into_inner().map_err(|e| e.into_error())?;
            if let Some(last) = self.last_frame {
                let t = std::time::UNIX_EPOCH
                    + std::time::Duration::from_nanos(last.0.max(0) as u64 + 50_000_000);
                f.set_modified(t)?;
            }
        }
        Ok(())
    }

    fn apply(&mut self, ts: Ts, action: Action) -> io::Result<()> {
        // Unified-log records carry the host's (possibly skewed) log clock.
        let lts = ts.add_nanos(self.ulog_skew_ns);
        match action {
            Action::Exec(b) => {
                if let Some(w) = self.es.as_mut() {
                    w.exec(ts, &b.0, &b.1)?;
                }
                if self.osq.is_some() {
                    let ppv = self.parent_pv(b.1.ppid);
                    let user = self.user_name(b.1.uid);
                    self.osq_pv.insert(b.1.pid, b.1.pidversion);
                    if let Some(w) = self.osq.as_mut() {
                        w.exec(ts, &b.1, ppv, &user)?;
                    }
                }
            }
            Action::Fork(b) => {
                if let Some(w) = self.es.as_mut() {
                    w.fork(ts, &b.0, &b.1)?;
                }
                if self.osq.is_some() {
                    let ppv = self.parent_pv(b.0.ppid);
                    let user = self.user_name(b.0.uid);
                    self.osq_pv.insert(b.1.pid, b.1.pidversion);
                    if let Some(w) = self.osq.as_mut() {
                        w.fork(ts, &b.0, b.1.pid, ppv, &user)?;
                    }
                }
            }
            Action::Exit(p, stat) => {
                if let Some(w) = self.es.as_mut() {
                    w.exit(ts, &p, stat)?;
                }
                if self.osq.is_some() {
                    let ppv = self.parent_pv(p.ppid);
                    let user = self.user_name(p.uid);
                    self.osq_pv.remove(&p.pid);
                    if let Some(w) = self.osq.as_mut() {
                        w.exit(ts, &p, stat, ppv, &user)?;
                    }
                }
            }
            Action::Session(kind, user) => {
                if let Some(w) = self.es.as_mut() {
                    w.session(ts, kind, &user)?;
                }
            }
            Action::NetAdd {
                pid,
                name,
                socket,
                iface,
                state,
                bytes_in,
                bytes_out,
            } => {
                if let Some(w) = self.nettop.as_mut() {
                    w.add(pid, &name, &socket, iface, state, bytes_in, bytes_out);
                }
            }
            Action::NetRemove(pid) => {
                if let Some(w) = self.nettop.as_mut() {
                    w.remove(pid);
                }
            }
            Action::NetClose(pid, socket) => {
                if let Some(w) = self.nettop.as_mut() {
                    w.close_socket(pid, &socket);
                }
            }
            Action::Frame => {
                if self.last_frame.is_some_and(|l| ts <= l) {
                    return Ok(());
                }
                let dt = match self.last_frame {
                    Some(l) => ((ts.0 - l.0) / NANOS_PER_SEC).clamp(1, 10) as u64,
                    None => 1,
                };
                self.last_frame = Some(ts);
                let Some(w) = self.nettop.as_mut() else {
                    return Ok(());
                };
                for b in &self.bg {
                    let j = |r: &mut ChaCha8Rng, v: u64| {
                        if v == 0 {
                            0
                        } else {
                            r.random_range(v / 2..=v + v / 2) * dt
                        }
                    };
                    let i = j(&mut self.rng, b.in_per_s);
                    let o = j(&mut self.rng, b.out_per_s);
                    w.add(b.pid, b.name, &b.socket, b.iface, b.state, i, o);
                }
                w.frame(ts)?;
            }
            Action::Summary(s) => {
                if let Some(w) = self.ulog.as_mut() {
                    w.connection_summary(
                        lts,
                        s.pid,
                        &s.path,
                        s.uid,
                        s.proto,
                        &s.local,
                        &s.remote,
                        s.duration_s,
                        s.bytes_in,
                        s.bytes_out,
                        s.packets_in,
                        s.packets_out,
                    )?;
                }
            }
            Action::Login(user, uid) => {
                if let Some(w) = self.ulog.as_mut() {
                    w.login(lts, &user, uid)?;
                }
            }
            Action::Lock => {
                if let Some(w) = self.ulog.as_mut() {
                    w.lock(lts)?;
                }
            }
            Action::Unlock => {
                if let Some(w) = self.ulog.as_mut() {
                    w.unlock(lts)?;
                }
            }
            Action::Log(r) => {
                if let Some(w) = self.ulog.as_mut() {
                    w.record(&Record {
                        ts: lts,
                        pid: r.pid,
                        process_path: &r.process_path,
                        uid: r.uid,
                        subsystem: r.subsystem,
                        category: r.category,
                        format_string: &r.format_string,
                        message: &r.message,
                        sender_path: &r.sender_path,
                        sender_pc: r.sender_pc,
                    })?;
                }
            }
        }
        Ok(())
    }
}

impl HostFiles {
    /// osquery's `parent_pidversion`: the parent's current image, launchd's for pid 1.
    fn parent_pv(&self, ppid: i32) -> u32 {
        match self.osq_pv.get(&ppid) {
            Some(&pv) => pv,
            None => self.es.as_ref().map_or(1_029, |w| w.launchd_pidversion()),
        }
    }

    fn user_name(&self, uid: u32) -> String {
        if uid == 0 {
            "root".into()
        } else if uid == self.opts.user.0 {
            self.opts.user.1.clone()
        } else {
            format!("_{uid}")
        }
    }
}
