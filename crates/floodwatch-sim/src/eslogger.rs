//! `eslogger` JSON Lines (shared/docs/telemetry-formats.md §1), modelled on the real lines in
//! `tests/data/corpus/eslogger/`: the same keys at every level (`process` and `event.exec.target` with
//! `audit_token`, `parent_audit_token`, `responsible_audit_token`, `executable.stat`, `cdhash`,
//! `codesigning_flags`, `tty`, and `cs_validation_category` from version 10 on), `\/`-escaped slashes,
//! keys in a different order on every line, `time` with nanoseconds and `start_time` with microseconds,
//! audit tokens as objects for versions 9 and 11 and as 8-int arrays for version 10.

use crate::util::{
    escape_slashes, hash_str, hex40, mix, rfc3339_micros, rfc3339_nanos, stat_time, write_json,
    Counting, J,
};
use floodwatch_core::time::{days_from_civil, NANOS_PER_SEC};
use floodwatch_core::Ts;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::HashMap;
use std::io::{self, Write};

/// `auid` of processes that never went through a login (launchd and its daemons).
pub const AUID_UNSET: u32 = 4_294_967_295;
/// `codesigning_flags` of Apple platform binaries (real value: `/usr/sbin/ipconfig`, `xpcproxy`).
pub const CS_FLAGS_PLATFORM: u32 = 637_623_057;
/// `codesigning_flags` of a Developer ID signed, hardened-runtime binary (real value: Mullvad VPN).
pub const CS_FLAGS_DEVELOPER_ID: u32 = 570_491_649;
/// `codesigning_flags` of an ad hoc (linker-signed) binary (real value: a locally built `nu`); has
/// CS_ADHOC (0x2) set.
pub const CS_FLAGS_ADHOC: u32 = 570_556_931;
/// es_event_type_t numbers (macOS 13+ SDK).
pub const EVENT_EXEC: u32 = 9;
pub const EVENT_FORK: u32 = 11;
pub const EVENT_EXIT: u32 = 15;

/// One process image as eslogger reports it (`es_process_t`). `pidversion` names the image: an exec
/// target has the instigator's pidversion + 1 and keeps its `pid` and `start_time`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proc {
    pub pid: i32,
    pub pidversion: u32,
    pub ppid: i32,
    pub original_ppid: i32,
    pub start_time: Ts,
    pub path: String,
    pub args: Vec<String>,
    pub cwd: String,
    pub uid: u32,
    pub euid: u32,
    pub gid: u32,
    /// Audit user id; `None` is unset (written as 4294967295).
    pub auid: Option<u32>,
    /// Controlling terminal path (`/dev/ttys002`); `None` is written as `null`.
    pub tty: Option<String>,
    pub session_id: i32,
    pub responsible_pid: i32,
    /// `None` is written as `""` (unsigned code has an empty signing id).
    pub signing_id: Option<String>,
    /// `None` is written as `null`.
    pub team_id: Option<String>,
    pub platform: bool,
    pub cs_flags: u32,
}

/// Who signed an image, for [`Proc::exec_image`] and [`Proc::signed`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Signer {
    /// Apple platform binary with this signing id (`com.apple.curl`).
    Platform(String),
    /// Developer ID: signing id and team id.
    Developer(String, String),
    /// Ad hoc / linker-signed: the signing id (`updater-55554944c8a23f1b`).
    AdHoc(String),
    Unsigned,
}

impl Signer {
    pub fn platform(id: &str) -> Signer {
        Signer::Platform(id.to_string())
    }
    pub fn developer(id: &str, team: &str) -> Signer {
        Signer::Developer(id.to_string(), team.to_string())
    }
    /// Ad hoc signature with a linker-style signing id derived from the name.
    pub fn adhoc(name: &str) -> Signer {
        Signer::AdHoc(format!("{name}-{:016x}", hash_str(7, name)))
    }
}

impl Proc {
    /// launchd (pid 1) with the given pidversion; started at `boot`.
    pub fn launchd(boot: Ts, pidversion: u32) -> Proc {
        Proc {
            pid: 1,
            pidversion,
            ppid: 0,
            original_ppid: 0,
            start_time: boot,
            path: "/sbin/launchd".into(),
            args: vec!["/sbin/launchd".into()],
            cwd: "/".into(),
            uid: 0,
            euid: 0,
            gid: 0,
            auid: None,
            tty: None,
            session_id: 1,
            responsible_pid: 1,
            signing_id: Some("com.apple.xpc.launchd".into()),
            team_id: None,
            platform: true,
            cs_flags: CS_FLAGS_PLATFORM,
        }
    }

    /// The child of a fork: the same image (path, args, ids, tty, session, responsible process) under a
    /// new pid, pidversion and start time.
    pub fn fork_child(&self, pid: i32, pidversion: u32, ts: Ts) -> Proc {
        Proc {
            pid,
            pidversion,
            ppid: self.pid,
            original_ppid: self.pid,
            start_time: ts,
            ..self.clone()
        }
    }

    /// The image after an exec: same pid, start time, parent, ids and tty; pidversion + 1.
    pub fn exec_image(&self, path: &str, args: &[&str], signer: Signer) -> Proc {
        Proc {
            pidversion: self.pidversion + 1,
            path: path.to_string(),
            args: args.iter().map(|a| a.to_string()).collect(),
            ..self.clone()
        }
        .signed(signer)
    }

    /// Replaces the signing facts.
    pub fn signed(mut self, signer: Signer) -> Proc {
        match signer {
            Signer::Platform(id) => {
                self.signing_id = Some(id);
                self.team_id = None;
                self.platform = true;
                self.cs_flags = CS_FLAGS_PLATFORM;
            }
            Signer::Developer(id, team) => {
                self.signing_id = Some(id);
                self.team_id = Some(team);
                self.platform = false;
                self.cs_flags = CS_FLAGS_DEVELOPER_ID;
            }
            Signer::AdHoc(id) => {
                self.signing_id = Some(id);
                self.team_id = None;
                self.platform = false;
                self.cs_flags = CS_FLAGS_ADHOC;
            }
            Signer::Unsigned => {
                self.signing_id = None;
                self.team_id = None;
                self.platform = false;
                self.cs_flags = 0;
            }
        }
        self
    }

    pub fn basename(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or(&self.path)
    }

    pub fn cmdline(&self) -> String {
        self.args.join(" ")
    }
}

#[derive(Clone, Copy, Debug)]
struct Token {
    auid: u32,
    euid: u32,
    egid: u32,
    ruid: u32,
    rgid: u32,
    pid: i32,
    asid: u32,
    pidversion: u32,
}

struct Known {
    token: Token,
    group_id: i32,
    env: Vec<String>,
}

/// Per-path stat facts, computed once.
#[derive(Clone)]
struct StatVals {
    dev: u64,
    ino: u64,
    mode: u64,
    nlink: u64,
    uid: u64,
    gid: u64,
    rdev: u64,
    size: u64,
    blocks: u64,
    blksize: u64,
    flags: u64,
    atime: String,
    mtime: String,
    ctime: String,
    birth: String,
}

/// Writes eslogger JSON Lines: one `exec`, `fork`, `exit` or session event per call, in call order.
pub struct EsWriter<W: Write> {
    out: Counting<W>,
    version: u32,
    rng: ChaCha8Rng,
    salt: u64,
    line: Vec<u8>,
    escaped: Vec<u8>,
    global_seq: u64,
    seq: HashMap<u32, u64>,
    boot: Option<Ts>,
    launchd_pv: u32,
    sys_asid: u32,
    user_asid: u32,
    sys_dev: u64,
    data_dev: u64,
    devfs_dev: u64,
    os_build: Ts,
    known: HashMap<i32, Known>,
    stats: HashMap<String, StatVals>,
    ttys: HashMap<String, Ts>,
    users: HashMap<u32, String>,
}

impl<W: Write> EsWriter<W> {
    /// `version`: the ES message version to write (9: macOS 15, 10: macOS 26 with array audit tokens,
    /// 11: macOS 27 beta with `entitlements`). Everything random comes from `seed`.
    pub fn new(w: W, version: u32, seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xE5_1066E5);
        let global_seq = rng.random_range(200..40_000u64);
        let mut seq = HashMap::new();
        for t in [EVENT_EXEC, EVENT_FORK, EVENT_EXIT] {
            seq.insert(t, global_seq / 3 - rng.random_range(0..global_seq / 8 + 1));
        }
        let sys_asid = 100_000 + rng.random_range(1..20u32);
        let user_asid = sys_asid + rng.random_range(1..6u32);
        let sys_dev = 16_777_229 + rng.random_range(0..5u64);
        let devfs_dev = rng.random_range(1_000_000_000..2_000_000_000u64);
        let os_build = Ts::from_secs(
            days_from_civil(2025, 6, 20 + rng.random_range(0..9u32)) * 86_400
                + rng.random_range(0..86_400i64),
        );
        let launchd_pv = rng.random_range(700..1_200u32);
        let mut users = HashMap::new();
        users.insert(0, "root".to_string());
        EsWriter {
            out: Counting::new(w),
            version,
            salt: rng.random(),
            rng,
            line: Vec::with_capacity(8192),
            escaped: Vec::with_capacity(8192),
            global_seq,
            seq,
            boot: None,
            launchd_pv,
            sys_asid,
            user_asid,
            sys_dev,
            data_dev: sys_dev + 1,
            devfs_dev,
            os_build,
            known: HashMap::new(),
            stats: HashMap::new(),
            ttys: HashMap::new(),
            users,
        }
    }

    /// Names a uid (for `HOME`, `USER`, `LOGNAME` in exec environments and session events).
    pub fn set_user(&mut self, uid: u32, name: &str) {
        self.users.insert(uid, name.to_string());
    }

    /// launchd's pidversion as this writer reports it in parent tokens.
    pub fn launchd_pidversion(&self) -> u32 {
        self.launchd_pv
    }

    pub fn version(&self) -> u32 {
        self.version
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

    /// `process` = `before` (the pre-exec image), `event.exec.target` = `after` (normally
    /// `before.pidversion + 1`, same pid and start_time), with `after.args`.
    pub fn exec(&mut self, ts: Ts, before: &Proc, after: &Proc) -> io::Result<()> {
        let env = self.exec_env(before, after);
        let process = self.proc_json(before);
        let target = self.proc_json(after);
        if let Some(k) = self.known.get_mut(&after.pid) {
            k.env = env.clone();
        }
        let cwd = self.file_json(&after.cwd, true, ts);
        let mut fds = Vec::new();
        let pipe =
            before.basename() == "osascript" || after.args.first().is_some_and(|a| a == "sh");
        for fd in 0..3u64 {
            let fdtype = if pipe && fd > 0 { 6 } else { 1 };
            fds.push(J::O(vec![("fd", J::U(fd)), ("fdtype", J::U(fdtype))]));
        }
        let mut exec = vec![
            ("target", target),
            (
                "args",
                J::A(after.args.iter().map(|a| J::s(a.as_str())).collect()),
            ),
            ("env", J::A(env.into_iter().map(J::S).collect())),
            ("cwd", cwd),
            ("dyld_exec_path", J::s(after.path.as_str())),
            ("script", J::Null),
            ("fds", J::A(fds)),
            ("last_fd", J::U(2)),
            ("image_cputype", J::I(16_777_228)),
            (
                "image_cpusubtype",
                J::I(if after.platform { -2_147_483_646 } else { 0 }),
            ),
        ];
        if self.version >= 11 {
            exec.push(("entitlements", J::O(Vec::new())));
        }
        self.emit(
            ts,
            EVENT_EXEC,
            J::O(vec![("exec", J::O(exec))]),
            process,
            before,
        )
    }

    /// `process` = `parent`, `event.fork.child` = `child`.
    pub fn fork(&mut self, ts: Ts, parent: &Proc, child: &Proc) -> io::Result<()> {
        let process = self.proc_json(parent);
        let inherited = self.known.get(&parent.pid).map(|k| k.env.clone());
        let child_j = self.proc_json(child);
        if let (Some(env), Some(k)) = (inherited, self.known.get_mut(&child.pid)) {
            k.env = env;
        }
        self.emit(
            ts,
            EVENT_FORK,
            J::O(vec![("fork", J::O(vec![("child", child_j)]))]),
            process,
            parent,
        )
    }

    /// `event.exit.stat` is the wait status (exit code << 8, or the signal number).
    pub fn exit(&mut self, ts: Ts, p: &Proc, stat: i32) -> io::Result<()> {
        let process = self.proc_json(p);
        let r = self.emit(
            ts,
            EVENT_EXIT,
            J::O(vec![("exit", J::O(vec![("stat", J::I(stat as i64))]))]),
            process,
            p,
        );
        self.known.remove(&p.pid);
        r
    }

    /// A session event: `lw_session_lock`, `lw_session_unlock`, `lw_session_login`, `lw_session_logout`
    /// (instigator loginwindow) or `openssh_login` (instigator sshd-session).
    pub fn session(&mut self, ts: Ts, kind: &str, user: &str) -> io::Result<()> {
        let uid = self
            .users
            .iter()
            .filter(|(_, n)| n.as_str() == user)
            .map(|(u, _)| *u)
            .min()
            .unwrap_or(501);
        let boot = self.boot_for(ts);
        let (event_type, payload, instigator) = match kind {
            "openssh_login" => {
                let pid = 2_000 + (hash_str(self.salt, user) % 20_000) as i32;
                let p = Proc {
                    pid,
                    pidversion: self.launchd_pv + 3_000 + pid as u32 % 5_000,
                    ppid: 120 + (self.salt % 300) as i32,
                    original_ppid: 1,
                    start_time: ts.add_nanos(-40_000_000),
                    path: "/usr/libexec/sshd-session".into(),
                    args: vec!["sshd-session: ".to_string() + user + " [priv]"],
                    cwd: "/".into(),
                    uid: 0,
                    euid: 0,
                    gid: 0,
                    auid: None,
                    tty: None,
                    session_id: pid,
                    responsible_pid: pid,
                    signing_id: Some("com.apple.sshd-session".into()),
                    team_id: None,
                    platform: true,
                    cs_flags: CS_FLAGS_PLATFORM,
                };
                let octet = 2 + hash_str(self.salt ^ 3, user) % 250;
                let payload = J::O(vec![
                    ("success", J::B(true)),
                    ("result_type", J::U(2)),
                    ("source_address_type", J::U(1)),
                    ("source_address", J::S(format!("192.168.1.{octet}"))),
                    ("username", J::s(user)),
                    ("has_uid", J::B(true)),
                    ("uid", J::O(vec![("uid", J::U(uid as u64))])),
                ]);
                (120, payload, p)
            }
            _ => {
                let et = match kind {
                    "lw_session_login" => 114,
                    "lw_session_logout" => 115,
                    "lw_session_lock" => 116,
                    "lw_session_unlock" => 117,
                    other => {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidInput,
                            format!("unknown session event kind {other:?}"),
                        ))
                    }
                };
                let pid = 150 + (self.salt % 250) as i32;
                let p = Proc {
                    pid,
                    pidversion: self.launchd_pv + 200 + (self.salt % 500) as u32,
                    ppid: 1,
                    original_ppid: 1,
                    start_time: boot.add_secs(12),
                    path: "/System/Library/CoreServices/loginwindow.app/Contents/MacOS/loginwindow"
                        .into(),
                    args: vec![
                        "/System/Library/CoreServices/loginwindow.app/Contents/MacOS/loginwindow"
                            .into(),
                        "console".into(),
                    ],
                    cwd: "/".into(),
                    uid,
                    euid: uid,
                    gid: 20,
                    auid: Some(uid),
                    tty: None,
                    session_id: pid,
                    responsible_pid: pid,
                    signing_id: Some("com.apple.loginwindow".into()),
                    team_id: None,
                    platform: true,
                    cs_flags: CS_FLAGS_PLATFORM,
                };
                let mut fields = vec![("username", J::s(user))];
                if et != 115 || (self.salt & 1) == 0 {
                    fields.push(("graphical_session_id", J::U(257)));
                }
                (et, J::O(fields), p)
            }
        };
        let name: &'static str = match kind {
            "openssh_login" => "openssh_login",
            "lw_session_login" => "lw_session_login",
            "lw_session_logout" => "lw_session_logout",
            "lw_session_lock" => "lw_session_lock",
            _ => "lw_session_unlock",
        };
        let process = self.proc_json(&instigator);
        self.emit(
            ts,
            event_type,
            J::O(vec![(name, payload)]),
            process,
            &instigator,
        )
    }

    // -----------------------------------------------------------------------------------------------

    fn boot_for(&mut self, ts: Ts) -> Ts {
        if let Some(b) = self.boot {
            return b;
        }
        let up = self.rng.random_range(3 * 3_600..12 * 86_400i64);
        let b = Ts(ts.0 - up * NANOS_PER_SEC - self.rng.random_range(0..NANOS_PER_SEC));
        self.boot = Some(b);
        b
    }

    fn emit(&mut self, ts: Ts, event_type: u32, event: J, process: J, p: &Proc) -> io::Result<()> {
        let boot = self.boot_for(ts);
        // Apple silicon mach ticks: 24 MHz.
        let mach = ((ts.0 - boot.0).max(0) as u128 * 3 / 125) as u64;
        self.global_seq += 1;
        let seq = self.seq.entry(event_type).or_insert(0);
        let seq_num = *seq;
        *seq += 1;
        let thread_id =
            100_000 + mix(self.salt ^ ((p.pid as u64) << 32) ^ p.pidversion as u64) % 1_900_000;
        let top = J::O(vec![
            ("schema_version", J::U(1)),
            ("version", J::U(self.version as u64)),
            ("time", J::S(rfc3339_nanos(ts))),
            ("mach_time", J::U(mach)),
            ("event_type", J::U(event_type as u64)),
            ("event", event),
            ("process", process),
            ("seq_num", J::U(seq_num)),
            ("global_seq_num", J::U(self.global_seq - 1)),
            ("thread", J::O(vec![("thread_id", J::U(thread_id))])),
            ("action_type", J::U(1)),
            (
                "action",
                J::O(vec![(
                    "result",
                    J::O(vec![
                        ("result", J::O(vec![("auth", J::U(0))])),
                        ("result_type", J::U(0)),
                    ]),
                )]),
            ),
        ]);
        self.line.clear();
        write_json(&top, &mut self.line, Some(&mut self.rng));
        self.escaped.clear();
        escape_slashes(&self.line, &mut self.escaped);
        self.escaped.push(b'\n');
        self.out.put(&self.escaped)
    }

    fn token_of(&self, p: &Proc) -> Token {
        Token {
            auid: p.auid.unwrap_or(AUID_UNSET),
            euid: p.euid,
            egid: p.gid,
            ruid: p.uid,
            rgid: p.gid,
            pid: p.pid,
            asid: if p.auid.is_some() {
                self.user_asid
            } else {
                self.sys_asid
            },
            pidversion: p.pidversion,
        }
    }

    fn launchd_token(&self) -> Token {
        Token {
            auid: AUID_UNSET,
            euid: 0,
            egid: 0,
            ruid: 0,
            rgid: 0,
            pid: 1,
            asid: self.sys_asid,
            pidversion: self.launchd_pv,
        }
    }

    /// The token of another process: as last written, else launchd's, else made up from `like`.
    fn other_token(&self, pid: i32, like: &Token) -> Token {
        if let Some(k) = self.known.get(&pid) {
            return k.token;
        }
        if pid == 1 {
            return self.launchd_token();
        }
        Token {
            pid,
            pidversion: (self.launchd_pv + 1_000)
                .wrapping_add((mix(self.salt ^ pid as u64) % 60_000) as u32),
            ..*like
        }
    }

    fn token_json(&self, t: &Token) -> J {
        if self.version == 10 {
            J::A(vec![
                J::U(t.auid as u64),
                J::U(t.euid as u64),
                J::U(t.egid as u64),
                J::U(t.ruid as u64),
                J::U(t.rgid as u64),
                J::I(t.pid as i64),
                J::U(t.asid as u64),
                J::U(t.pidversion as u64),
            ])
        } else {
            J::O(vec![
                ("auid", J::U(t.auid as u64)),
                ("euid", J::U(t.euid as u64)),
                ("egid", J::U(t.egid as u64)),
                ("ruid", J::U(t.ruid as u64)),
                ("rgid", J::U(t.rgid as u64)),
                ("pid", J::I(t.pid as i64)),
                ("asid", J::U(t.asid as u64)),
                ("pidversion", J::U(t.pidversion as u64)),
            ])
        }
    }

    /// Builds an es_process_t object and records the process for later parent/responsible tokens.
    fn proc_json(&mut self, p: &Proc) -> J {
        let token = self.token_of(p);
        let parent = self.other_token(p.ppid, &token);
        let responsible = if p.responsible_pid == p.pid {
            token
        } else {
            self.other_token(p.responsible_pid, &token)
        };
        let group_id = match self.known.get(&p.pid) {
            Some(k)
                if k.token.pidversion + 1 == p.pidversion || k.token.pidversion == p.pidversion =>
            {
                k.group_id
            }
            _ if p.ppid <= 1 || p.tty.is_some() => p.pid,
            _ => self
                .known
                .get(&p.ppid)
                .map(|k| k.group_id)
                .unwrap_or(p.ppid),
        };
        match self.known.get_mut(&p.pid) {
            Some(k) => {
                if k.token.pidversion != p.pidversion && k.token.pidversion + 1 != p.pidversion {
                    k.env.clear();
                }
                k.token = token;
                k.group_id = group_id;
            }
            None => {
                self.known.insert(
                    p.pid,
                    Known {
                        token,
                        group_id,
                        env: Vec::new(),
                    },
                );
            }
        }
        let start = p.start_time;
        let executable = self.file_json(&p.path, false, start);
        let tty = match &p.tty {
            Some(t) => self.tty_json(t, p.uid, start),
            None => J::Null,
        };
        let cdhash = if p.cs_flags == 0 && p.signing_id.is_none() {
            "0000000000000000000000000000000000000000".to_string()
        } else {
            hex40(hash_str(self.salt, &p.path))
        };
        let mut fields = vec![
            ("audit_token", self.token_json(&token)),
            ("parent_audit_token", self.token_json(&parent)),
            ("responsible_audit_token", self.token_json(&responsible)),
            ("ppid", J::I(p.ppid as i64)),
            ("original_ppid", J::I(p.original_ppid as i64)),
            ("group_id", J::I(group_id as i64)),
            ("session_id", J::I(p.session_id as i64)),
            ("executable", executable),
            (
                "signing_id",
                J::s(p.signing_id.as_deref().unwrap_or_default()),
            ),
            ("team_id", J::opt_s(p.team_id.as_deref())),
            ("cdhash", J::S(cdhash)),
            ("codesigning_flags", J::U(p.cs_flags as u64)),
            ("is_platform_binary", J::B(p.platform)),
            ("is_es_client", J::B(false)),
            ("start_time", J::S(rfc3339_micros(start))),
            ("tty", tty),
        ];
        if self.version >= 10 {
            let cat = if p.platform {
                1
            } else if p.team_id.is_some() {
                6
            } else {
                10
            };
            fields.push(("cs_validation_category", J::U(cat)));
        }
        J::O(fields)
    }

    fn stat_vals(&mut self, path: &str, dir: bool, near: Ts) -> StatVals {
        if let Some(s) = self.stats.get(path) {
            return s.clone();
        }
        let h = hash_str(self.salt, path);
        let system = ["/System/", "/usr/", "/bin/", "/sbin/"]
            .iter()
            .any(|p| path.starts_with(p))
            && !path.starts_with("/usr/local/");
        let user_uid: Option<u64> = path
            .strip_prefix("/Users/")
            .filter(|r| !r.starts_with("Shared"))
            .map(|_| 501);
        let ns = |x: u64| (x % 1_000_000_000) as i64;
        let (dev, ino, flags, uid, gid, birth, mtime, ctime, atime);
        if system || path == "/" {
            dev = self.sys_dev;
            ino = if path == "/" {
                2
            } else {
                1_152_921_500_312_000_000 + h % 700_000
            };
            flags = if dir { 1_048_576 } else { 524_320 };
            uid = 0;
            gid = 0;
            birth = self.os_build;
            mtime = birth;
            ctime = birth;
            atime = birth;
        } else {
            dev = self.data_dev;
            ino = 30_000 + h % 90_000_000;
            flags = 0;
            uid = user_uid.unwrap_or(0);
            gid = if user_uid.is_some() {
                20
            } else if path.starts_with("/Applications/") {
                80
            } else {
                0
            };
            let base = near.0 - ((h >> 20) % (400 * 86_400)) as i64 * NANOS_PER_SEC;
            birth = Ts(base - base.rem_euclid(NANOS_PER_SEC) + ns(h >> 7));
            mtime = birth;
            ctime = Ts(birth.0 + ((h >> 33) % 86_400) as i64 * NANOS_PER_SEC + ns(h >> 3));
            atime = Ts(near.0 - ((h >> 41) % 7_200) as i64 * NANOS_PER_SEC - ns(h >> 11));
        }
        let (mode, nlink, size, blksize) = if dir {
            (16_877, 3 + h % 40, 64 + 32 * (h % 60), 4096)
        } else {
            (33_261, 1, 20_000 + (h >> 9) % 4_000_000, 4096)
        };
        let blocks = if dir { 0 } else { size.div_ceil(4096) * 8 };
        let v = StatVals {
            dev,
            ino,
            mode,
            nlink,
            uid,
            gid,
            rdev: 0,
            size,
            blocks,
            blksize,
            flags,
            atime: stat_time(atime),
            mtime: stat_time(mtime),
            ctime: stat_time(ctime),
            birth: stat_time(birth),
        };
        if self.stats.len() > 50_000 {
            self.stats.clear();
        }
        self.stats.insert(path.to_string(), v.clone());
        v
    }

    fn stat_json(v: StatVals) -> J {
        J::O(vec![
            ("st_dev", J::U(v.dev)),
            ("st_ino", J::U(v.ino)),
            ("st_mode", J::U(v.mode)),
            ("st_nlink", J::U(v.nlink)),
            ("st_uid", J::U(v.uid)),
            ("st_gid", J::U(v.gid)),
            ("st_rdev", J::U(v.rdev)),
            ("st_size", J::U(v.size)),
            ("st_blocks", J::U(v.blocks)),
            ("st_blksize", J::U(v.blksize)),
            ("st_flags", J::U(v.flags)),
            ("st_gen", J::U(0)),
            ("st_atimespec", J::S(v.atime)),
            ("st_mtimespec", J::S(v.mtime)),
            ("st_ctimespec", J::S(v.ctime)),
            ("st_birthtimespec", J::S(v.birth)),
        ])
    }

    fn file_json(&mut self, path: &str, dir: bool, near: Ts) -> J {
        let v = self.stat_vals(path, dir, near);
        J::O(vec![
            ("path", J::s(path)),
            ("path_truncated", J::B(false)),
            ("stat", Self::stat_json(v)),
        ])
    }

    fn tty_json(&mut self, path: &str, uid: u32, near: Ts) -> J {
        let opened = *self
            .ttys
            .entry(path.to_string())
            .or_insert(Ts(near.0 - 2_000_000));
        let n: u64 = path
            .trim_start_matches(|c: char| !c.is_ascii_digit())
            .parse()
            .unwrap_or(0);
        let t = stat_time(Ts(opened.0 - opened.0.rem_euclid(1000)));
        let a = stat_time(Ts(opened.0
            - 3_970_000
            - (opened.0 - 3_970_000).rem_euclid(1000)));
        let v = StatVals {
            dev: self.devfs_dev,
            ino: 1_000 + 223 * n + hash_str(self.salt, path) % 200,
            mode: 8_592,
            nlink: 1,
            uid: uid as u64,
            gid: 4,
            rdev: 268_435_456 + n,
            size: 0,
            blocks: 0,
            blksize: 65_536,
            flags: 0,
            atime: a,
            mtime: t.clone(),
            ctime: t,
            birth: "1970-01-01T00:00:00.000000000Z".into(),
        };
        J::O(vec![
            ("path", J::s(path)),
            ("path_truncated", J::B(false)),
            ("stat", Self::stat_json(v)),
        ])
    }

    fn user_name(&self, uid: u32) -> String {
        self.users
            .get(&uid)
            .cloned()
            .unwrap_or_else(|| format!("user{uid}"))
    }

    fn tmpdir(&self, uid: u32) -> String {
        let h = hash_str(self.salt ^ uid as u64, "tmpdir");
        const A: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        let pick = |i: u32| A[(mix(h ^ i as u64) % A.len() as u64) as usize] as char;
        let two: String = (0..2).map(pick).collect();
        let rest: String = (2..32).map(pick).collect();
        format!("/var/folders/{two}/{rest}/T/")
    }

    /// The environment passed to `after`: inherited from `before` (tracked through forks and execs)
    /// with what the exec-ing program changes (a shell's `_`, `SHLVL`, `PWD`; sudo's reset; launchd's
    /// fresh daemon or agent environment).
    fn exec_env(&mut self, before: &Proc, after: &Proc) -> Vec<String> {
        let inherited = self
            .known
            .get(&before.pid)
            .map(|k| k.env.clone())
            .unwrap_or_default();
        let name = self.user_name(after.uid);
        let home = if after.uid == 0 {
            "/var/root".to_string()
        } else {
            format!("/Users/{name}")
        };
        let label = {
            let b = after.basename().trim_start_matches('.');
            let b = after
                .args
                .get(1)
                .filter(|_| matches!(after.basename(), "bash" | "sh" | "osascript" | "python3"))
                .map(|s| s.rsplit('/').next().unwrap_or(s).trim_start_matches('.'))
                .unwrap_or(b);
            let b = b.split('.').next().unwrap_or(b);
            if after.platform && after.args.len() == 1 {
                format!("com.apple.{b}")
            } else {
                format!("com.local.{b}")
            }
        };
        let set = |env: &mut Vec<String>, key: &str, val: &str| {
            let pre = format!("{key}=");
            env.retain(|e| !e.starts_with(&pre));
            env.push(format!("{key}={val}"));
        };
        match before.basename() {
            "xpcproxy" | "launchd" => {
                let mut env = vec![
                    "PATH=/usr/bin:/bin:/usr/sbin:/sbin".to_string(),
                    format!("XPC_SERVICE_NAME={label}"),
                    "XPC_FLAGS=0x0".to_string(),
                ];
                if after.auid.is_some() {
                    env.insert(0, "OSLogRateLimit=64".into());
                    env.extend([
                        format!("HOME={home}"),
                        format!("LOGNAME={name}"),
                        format!("USER={name}"),
                        "SHELL=/bin/zsh".to_string(),
                        format!("TMPDIR={}", self.tmpdir(after.uid)),
                        format!(
                            "SSH_AUTH_SOCK=/private/tmp/com.apple.launchd.{:010X}/Listeners",
                            hash_str(self.salt, "ssh") % 0xFF_FFFF_FFFF
                        ),
                    ]);
                }
                env
            }
            "cron" => vec![
                "SHELL=/bin/sh".into(),
                "PATH=/usr/bin:/bin".into(),
                format!("LOGNAME={name}"),
                format!("USER={name}"),
                format!("HOME={home}"),
            ],
            "sudo" => {
                let user = self.user_name(before.uid);
                let term = inherited
                    .iter()
                    .find(|e| e.starts_with("TERM="))
                    .cloned()
                    .unwrap_or_else(|| "TERM=xterm-256color".into());
                vec![
                    term,
                    "LANG=en_US.UTF-8".into(),
                    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
                    "HOME=/var/root".into(),
                    "SHELL=/bin/zsh".into(),
                    "LOGNAME=root".into(),
                    "USER=root".into(),
                    format!("SUDO_USER={user}"),
                    format!("SUDO_UID={}", before.uid),
                    format!("SUDO_GID={}", before.gid),
                    format!("SUDO_COMMAND={}", after.cmdline()),
                    "MAIL=/var/mail/root".into(),
                ]
            }
            "login" => vec![
                "TERM_PROGRAM=Apple_Terminal".into(),
                "TERM=xterm-256color".into(),
                "TERM_PROGRAM_VERSION=455.1".into(),
                format!(
                    "TERM_SESSION_ID={}",
                    crate::util::uuid_from(self.salt, after.pid as u64)
                ),
                format!("TMPDIR={}", self.tmpdir(after.uid)),
                format!("USER={name}"),
                format!(
                    "SSH_AUTH_SOCK=/private/tmp/com.apple.launchd.{:010X}/Listeners",
                    hash_str(self.salt, "ssh") % 0xFF_FFFF_FFFF
                ),
                "__CF_USER_TEXT_ENCODING=0x1F5:0x0:0x0".into(),
                "XPC_FLAGS=0x0".into(),
                "XPC_SERVICE_NAME=0".into(),
                "__CFBundleIdentifier=com.apple.Terminal".into(),
                "LANG=en_US.UTF-8".into(),
                format!("HOME={home}"),
                "SHELL=/bin/zsh".into(),
                format!("LOGNAME={name}"),
                "PATH=/usr/bin:/bin:/usr/sbin:/sbin".into(),
            ],
            "sh" | "bash" | "zsh" | "-zsh" | "dash" => {
                let mut env = if inherited.is_empty() {
                    vec!["PATH=/usr/bin:/bin:/usr/sbin:/sbin".to_string()]
                } else {
                    inherited
                };
                if !env.iter().any(|e| e.starts_with("SHLVL=")) {
                    env.push("SHLVL=1".into());
                }
                set(&mut env, "PWD", &after.cwd);
                if before.tty.is_some() && !env.iter().any(|e| e.starts_with("OLDPWD=")) {
                    env.push(format!("OLDPWD={home}"));
                }
                set(&mut env, "_", &after.path);
                env
            }
            _ if !inherited.is_empty() => inherited,
            _ => {
                if after.auid.is_none() {
                    vec![
                        "PATH=/usr/bin:/bin:/usr/sbin:/sbin".to_string(),
                        format!("XPC_SERVICE_NAME={label}"),
                        "XPC_FLAGS=0x0".to_string(),
                    ]
                } else {
                    vec![
                        "PATH=/usr/bin:/bin:/usr/sbin:/sbin".to_string(),
                        format!("HOME={home}"),
                        format!("USER={name}"),
                        format!("LOGNAME={name}"),
                        "SHELL=/bin/zsh".to_string(),
                        format!("TMPDIR={}", self.tmpdir(after.uid)),
                    ]
                }
            }
        }
    }
}
