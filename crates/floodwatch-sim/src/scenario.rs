//! Scenarios with ground truth. Each `*` function queues one scenario's activity into a [`HostFiles`]
//! (so scenarios can share a host's files) and returns its [`Truth`]; [`write_scenario`] writes one
//! scenario alone into a new host folder, [`write_example_collection`] the bundled two-host example.

use crate::eslogger::{Proc, Signer};
use crate::host::{Files, HostFiles, HostOpts};
use crate::nettop::Columns;
use floodwatch_core::time::{days_from_civil, NANOS_PER_SEC};
use floodwatch_core::Ts;
use rand::Rng;
use std::io;
use std::path::Path;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scenario {
    LaunchdCurlLoop,
    CronRootPingFlood,
    PythonUdpFloodNettopOnly,
    UnsignedBinaryUnifiedLogOnly,
    OsascriptCurlLoop,
    PidReuse,
    AdminSlowPing,
    BackupdVolume,
    MonitoringAgentPings,
    InteractivePingFlood,
}

impl Scenario {
    pub const ALL: [Scenario; 10] = [
        Scenario::LaunchdCurlLoop,
        Scenario::CronRootPingFlood,
        Scenario::PythonUdpFloodNettopOnly,
        Scenario::UnsignedBinaryUnifiedLogOnly,
        Scenario::OsascriptCurlLoop,
        Scenario::PidReuse,
        Scenario::AdminSlowPing,
        Scenario::BackupdVolume,
        Scenario::MonitoringAgentPings,
        Scenario::InteractivePingFlood,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Scenario::LaunchdCurlLoop => "launchd-curl-loop",
            Scenario::CronRootPingFlood => "cron-root-ping-flood",
            Scenario::PythonUdpFloodNettopOnly => "python-udp-flood-nettop-only",
            Scenario::UnsignedBinaryUnifiedLogOnly => "unsigned-binary-unifiedlog-only",
            Scenario::OsascriptCurlLoop => "osascript-curl-loop",
            Scenario::PidReuse => "pid-reuse",
            Scenario::AdminSlowPing => "admin-slow-ping",
            Scenario::BackupdVolume => "backupd-volume",
            Scenario::MonitoringAgentPings => "monitoring-agent-pings",
            Scenario::InteractivePingFlood => "interactive-ping-flood",
        }
    }

    /// The files [`write_scenario`] writes for this scenario.
    pub fn files(self) -> Files {
        let (eslogger, nettop, unifiedlog) = match self {
            Scenario::LaunchdCurlLoop => (true, true, false),
            Scenario::CronRootPingFlood => (true, true, false),
            Scenario::PythonUdpFloodNettopOnly => (false, true, false),
            Scenario::UnsignedBinaryUnifiedLogOnly => (false, false, true),
            Scenario::OsascriptCurlLoop => (true, true, false),
            Scenario::PidReuse => (true, true, false),
            Scenario::AdminSlowPing => (true, true, false),
            Scenario::BackupdVolume => (true, true, true),
            Scenario::MonitoringAgentPings => (true, false, false),
            Scenario::InteractivePingFlood => (true, false, true),
        };
        Files {
            eslogger,
            nettop,
            unifiedlog,
        }
    }

    pub fn should_alert(self) -> bool {
        !matches!(
            self,
            Scenario::AdminSlowPing | Scenario::BackupdVolume | Scenario::MonitoringAgentPings
        )
    }

    /// eslogger version and UTC offset [`write_scenario`] uses: versions vary across scenarios; the
    /// offset is non-zero only for hosts whose unified log tells it (readers take nettop's offset from
    /// there, else from configuration, +00:00 by default).
    fn host_opts(self, seed: u64) -> HostOpts {
        let es_version = match self {
            Scenario::LaunchdCurlLoop | Scenario::PidReuse | Scenario::BackupdVolume => 10,
            Scenario::OsascriptCurlLoop | Scenario::MonitoringAgentPings => 11,
            _ => 9,
        };
        let utc_offset_secs = match self {
            Scenario::BackupdVolume => -7 * 3_600,
            Scenario::UnsignedBinaryUnifiedLogOnly => 2 * 3_600,
            Scenario::InteractivePingFlood => 19_800,
            _ => 0,
        };
        HostOpts {
            es_version,
            utc_offset_secs,
            seed,
            nettop_columns: if self == Scenario::PidReuse {
                Columns::Default
            } else {
                Columns::Selected
            },
            user: (501, "bob".into()),
            nettop_interval_s: 1,
        }
    }
}

/// What a scenario did and what a detector should say about it.
#[derive(Clone, Debug, PartialEq)]
pub struct Truth {
    pub scenario: Scenario,
    pub host: String,
    pub should_alert: bool,
    /// The process an alert should name (the script/agent that drives a loop, the flooding tool).
    pub subject_pid: Option<i32>,
    /// Its executable path, when the host's telemetry tells it.
    pub subject_path: Option<String>,
    /// The activity (flood or benign volume) from `start` to `end`.
    pub start: Ts,
    pub end: Ts,
}

pub(crate) fn secs_f(s: f64) -> i64 {
    (s * NANOS_PER_SEC as f64).round() as i64
}

fn truth(
    hf: &HostFiles,
    s: Scenario,
    pid: Option<i32>,
    path: Option<&str>,
    start: Ts,
    end: Ts,
) -> Truth {
    Truth {
        scenario: s,
        host: hf.host.clone(),
        should_alert: s.should_alert(),
        subject_pid: pid,
        subject_path: path.map(str::to_string),
        start,
        end,
    }
}

/// Short-lived tool processes in nettop: a row (and one tcp socket) from `t_start` until `t_end`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn short_tcp_row(
    hf: &mut HostFiles,
    t_start: Ts,
    t_end: Ts,
    pid: i32,
    name: &str,
    remote: &str,
    bytes_in: u64,
    bytes_out: u64,
) {
    if hf.files().nettop {
        let local = hf.local_endpoint();
        let sock = format!("tcp4 {local}<->{remote}");
        hf.net_add(
            t_start,
            pid,
            name,
            &sock,
            "en0",
            "Established",
            bytes_in,
            bytes_out,
        );
        hf.net_remove(t_end, pid);
    }
}

// ---------------------------------------------------------------------------------------------------------
// 1. LaunchDaemon bash script looping curl

/// launchd → `/bin/bash /Library/Scripts/.sync.sh` (LaunchDaemon: root, auid unset, tty null, responsible
/// for itself) which forks and execs `/usr/bin/curl -s -o /dev/null http://203.0.113.10/ping` `per_s`
/// times a second for `secs` seconds; each curl exits ~30 ms later. nettop frames every second show the
/// curls alive at that instant (`curl.<pid>` + one tcp4 socket, a few KB). Subject: the bash.
pub fn launchd_curl_loop(hf: &mut HostFiles, start: Ts, secs: f64, per_s: f64) -> Truth {
    launchd_curl_bursts(hf, start, &[(0, secs, per_s)])
}

/// The same LaunchDaemon script running several curl bursts: `(offset_s, secs, per_s)` from `start`,
/// quiet in between (one bash process throughout, so a later burst is the same subject flaring again).
pub fn launchd_curl_bursts(hf: &mut HostFiles, start: Ts, bursts: &[(i64, f64, f64)]) -> Truth {
    let last = bursts
        .iter()
        .map(|(o, s, _)| start.add_secs(*o).add_nanos(secs_f(*s)))
        .max()
        .unwrap_or(start);
    let bash = hf.spawn_job(
        start.add_nanos(-2_300_000_000),
        None,
        "/bin/bash",
        &["/bin/bash", "/Library/Scripts/.sync.sh"],
        Signer::platform("com.apple.bash"),
        0,
        0,
        None,
    );
    for &(offset, secs, per_s) in bursts {
        let b_start = start.add_secs(offset);
        let end = b_start.add_nanos(secs_f(secs));
        hf.around(b_start, end, 20);
        let n = (secs * per_s).round() as i64;
        let gap = secs_f(1.0 / per_s);
        let url = "http://203.0.113.10/ping";
        for i in 0..n {
            let jitter = hf.rng.random_range(-(gap / 5)..=gap / 5);
            let t = b_start.add_nanos(i * gap + jitter.max(-(i * gap)));
            let (_, curl) = hf.fork_exec(
                t,
                &bash,
                "/usr/bin/curl",
                &["/usr/bin/curl", "-s", "-o", "/dev/null", url],
                Signer::platform("com.apple.curl"),
            );
            let t_exit = t.add_nanos(hf.rng.random_range(22_000_000..42_000_000));
            hf.exit(t_exit, &curl, 0);
            let bin = hf.rng.random_range(1_500..4_200);
            let bout = hf.rng.random_range(300..900);
            short_tcp_row(
                hf,
                t.add_nanos(3_000_000),
                t_exit,
                curl.pid,
                "curl",
                "203.0.113.10:80",
                bin,
                bout,
            );
        }
    }
    hf.exit(last.add_nanos(400_000_000), &bash, 0);
    truth(
        hf,
        Scenario::LaunchdCurlLoop,
        Some(bash.pid),
        Some("/bin/bash"),
        start,
        last,
    )
}

// ---------------------------------------------------------------------------------------------------------
// 2. cron job running ping -f as root

/// `/usr/sbin/cron` → `/bin/sh -c /sbin/ping -f -q 198.51.100.7` → exec `/sbin/ping -f -q 198.51.100.7`
/// (uid/euid 0, tty null) for `secs` seconds. nettop (when the host has it) shows only background rows:
/// ICMP has no nettop rows. Subject: the ping process.
pub fn cron_root_ping_flood(hf: &mut HostFiles, start: Ts, secs: f64) -> Truth {
    let end = start.add_nanos(secs_f(secs));
    hf.background(start.add_secs(-40), end.add_secs(15));
    hf.nettop_capture(start.add_secs(-20), end.add_secs(10), 1);
    let cron = crate::families::cron_daemon(hf, start);
    let t0 = start.add_nanos(-6_000_000);
    let cmd = "/sbin/ping -f -q 198.51.100.7";
    let (_, sh) = hf.fork_exec(
        t0,
        &cron,
        "/bin/sh",
        &["/bin/sh", "-c", cmd],
        Signer::platform("com.apple.sh"),
    );
    let ping = sh.exec_image(
        "/sbin/ping",
        &["/sbin/ping", "-f", "-q", "198.51.100.7"],
        Signer::platform("com.apple.ping"),
    );
    hf.exec(start, &sh, &ping);
    hf.exit(end, &ping, 0);
    truth(
        hf,
        Scenario::CronRootPingFlood,
        Some(ping.pid),
        Some("/sbin/ping"),
        start,
        end,
    )
}

// ---------------------------------------------------------------------------------------------------------
// 3. python UDP flood seen only by nettop

/// nettop only: frames every second; `python3.6101` with one `udp4 <host>:53122<->198.51.100.9:53`
/// socket sending `bytes_per_s` (about 20 MB/s) for `secs` seconds, among background rows. Subject pid
/// 6101 (no path: nettop has none).
pub fn python_udp_flood(hf: &mut HostFiles, start: Ts, secs: f64, bytes_per_s: u64) -> Truth {
    let end = start.add_nanos(secs_f(secs));
    hf.around(start, end, 10);
    let pid = 6101;
    hf.reserve_pid(pid);
    let sock = format!("udp4 {}:53122<->198.51.100.9:53", hf.ip);
    let mut t = hf.frame_at_or_after(start).add_nanos(-NANOS_PER_SEC / 2);
    while t < end {
        let out = hf
            .rng
            .random_range(bytes_per_s * 95 / 100..=bytes_per_s * 105 / 100);
        let inb = hf.rng.random_range(0..2_000);
        hf.net_add(t, pid, "python3", &sock, "en0", "", inb, out);
        t = t.add_secs(1);
    }
    hf.net_remove(end.add_nanos(200_000_000), pid);
    truth(
        hf,
        Scenario::PythonUdpFloodNettopOnly,
        Some(pid),
        None,
        start,
        end,
    )
}

// ---------------------------------------------------------------------------------------------------------
// 4. unsigned binary seen only in the unified log

/// Unified log only: `/Users/Shared/.cache/netd` (pid 6502, uid 501) closes `per_s` (about 50) tcp
/// connections a second to `IPv4#1a2b3c4d:80` for `secs` seconds, each 0.5 s long with ~40 KB and 30
/// packets out; plus nsurlsessiond summaries and a screen lock 25 s before it starts. Subject pid 6502.
pub fn unsigned_binary_unified_log(hf: &mut HostFiles, start: Ts, secs: f64, per_s: f64) -> Truth {
    let end = start.add_nanos(secs_f(secs));
    let (uid, _) = hf.user();
    hf.log_lock(start.add_secs(-25));
    hf.background(start.add_secs(-120), end.add_secs(30));
    let pid = 6502;
    hf.reserve_pid(pid);
    let path = "/Users/Shared/.cache/netd";
    let n = (secs * per_s).round() as i64;
    let gap = secs_f(1.0 / per_s);
    for i in 0..n {
        let t_open = start.add_nanos(i * gap + hf.rng.random_range(0..gap / 2));
        let dur = 0.5 + hf.rng.random_range(-20..20) as f64 / 1000.0;
        let t_end = t_open.add_nanos(secs_f(dur));
        let local = hf.local_endpoint();
        let bout = hf.rng.random_range(38_000..42_000);
        let bin = hf.rng.random_range(300..700);
        let pin = hf.rng.random_range(6..12);
        hf.summary(
            t_end,
            pid,
            path,
            uid,
            "tcp",
            &local,
            "IPv4#1a2b3c4d:80",
            dur,
            bin,
            bout,
            pin,
            30,
        );
    }
    truth(
        hf,
        Scenario::UnsignedBinaryUnifiedLogOnly,
        Some(pid),
        Some(path),
        start,
        end,
    )
}

// ---------------------------------------------------------------------------------------------------------
// 5. LaunchAgent osascript running curl through sh

/// launchd → `/usr/bin/osascript "/Users/<user>/Library/Application Support/.helper/run.scpt"`
/// (LaunchAgent: the user's uid and auid, tty null) which `per_s` (about 20) times a second forks, the
/// child execs `sh -c "curl -s http://203.0.113.20/"` and the sh execs `/usr/bin/curl -s
/// http://203.0.113.20/` (same pid, pidversion + 1), which exits. Subject: the osascript.
pub fn osascript_curl_loop(hf: &mut HostFiles, start: Ts, secs: f64, per_s: f64) -> Truth {
    let end = start.add_nanos(secs_f(secs));
    let (_, user) = hf.user();
    hf.around(start, end, 20);
    let script = format!("/Users/{user}/Library/Application Support/.helper/run.scpt");
    let mut osa = hf.user_job(
        start.add_nanos(-1_700_000_000),
        "/usr/bin/osascript",
        &["/usr/bin/osascript", &script],
        Signer::platform("com.apple.osascript"),
    );
    osa.cwd = "/".into();
    let n = (secs * per_s).round() as i64;
    let gap = secs_f(1.0 / per_s);
    let url = "http://203.0.113.20/";
    for i in 0..n {
        let t = start.add_nanos(i * gap + hf.rng.random_range(0..gap / 4));
        let (_, sh) = hf.fork_exec(
            t,
            &osa,
            "/bin/sh",
            &["sh", "-c", &format!("curl -s {url}")],
            Signer::platform("com.apple.sh"),
        );
        let curl = sh.exec_image(
            "/usr/bin/curl",
            &["curl", "-s", url],
            Signer::platform("com.apple.curl"),
        );
        let t2 = t.add_nanos(hf.rng.random_range(3_000_000..6_000_000));
        hf.exec(t2, &sh, &curl);
        let t_exit = t2.add_nanos(hf.rng.random_range(25_000_000..60_000_000));
        hf.exit(t_exit, &curl, 0);
        let bin = hf.rng.random_range(1_200..3_500);
        let bout = hf.rng.random_range(250..600);
        short_tcp_row(
            hf,
            t2.add_nanos(2_000_000),
            t_exit,
            curl.pid,
            "curl",
            "203.0.113.20:80",
            bin,
            bout,
        );
    }
    hf.exit(end.add_secs(1), &osa, 0);
    truth(
        hf,
        Scenario::OsascriptCurlLoop,
        Some(osa.pid),
        Some("/usr/bin/osascript"),
        start,
        end,
    )
}

// ---------------------------------------------------------------------------------------------------------
// 6. pid reuse

/// pid 7001: `/usr/libexec/mdworker_shared` (platform) until start+10 s; from start+20 s an ad hoc
/// signed `/private/tmp/.x/updater` (launched by launchd, tty null, CS_ADHOC, no team id) sending
/// `bytes_per_s` (about 15 MB/s) of UDP in nettop (`updater.7001` + udp4 socket) for 60 s; from start+100
/// s `mdworker_shared` again at pid 7001 with the same rate over tcp (platform: no alert, and not the
/// updater). Subject: the updater (start+20 s .. start+80 s).
pub fn pid_reuse(hf: &mut HostFiles, start: Ts, bytes_per_s: u64) -> Truth {
    let (uid, _) = hf.user();
    let pid = 7001;
    hf.reserve_pid(pid);
    hf.background(start.add_secs(-40), start.add_secs(150));
    hf.nettop_capture(start.add_secs(-20), start.add_secs(150), 1);
    let md_path = "/usr/libexec/mdworker_shared";
    let md_args = [
        md_path,
        "-s",
        "mdworker",
        "-c",
        "MDSImporterWorker",
        "-m",
        "com.apple.mdworker.shared",
    ];
    let md1 = hf.spawn_job(
        start.add_secs(-25),
        Some(pid),
        md_path,
        &md_args,
        Signer::platform("com.apple.mdworker_shared"),
        uid,
        20,
        Some(uid),
    );
    hf.exit(start.add_secs(10), &md1, 0);

    let up_start = start.add_secs(20);
    let up_end = start.add_secs(80);
    let upd = hf.spawn_job(
        up_start.add_nanos(-15_000_000),
        Some(pid),
        "/private/tmp/.x/updater",
        &["/private/tmp/.x/updater", "--daemon"],
        Signer::adhoc("updater"),
        uid,
        20,
        Some(uid),
    );
    let sock = format!("udp4 {}<->203.0.113.77:443", hf.local_endpoint());
    let mut t = hf.frame_at_or_after(up_start).add_nanos(-NANOS_PER_SEC / 2);
    while t < up_end {
        let out = hf
            .rng
            .random_range(bytes_per_s * 95 / 100..=bytes_per_s * 105 / 100);
        let inb = hf.rng.random_range(0..3_000);
        hf.net_add(t, pid, "updater", &sock, "en0", "", inb, out);
        t = t.add_secs(1);
    }
    hf.net_remove(up_end.add_nanos(100_000_000), pid);
    hf.exit(up_end.add_nanos(100_000_000), &upd, 9);

    let md2_start = start.add_secs(100);
    let md2_end = start.add_secs(130);
    let md2 = hf.spawn_job(
        md2_start.add_nanos(-20_000_000),
        Some(pid),
        md_path,
        &md_args,
        Signer::platform("com.apple.mdworker_shared"),
        uid,
        20,
        Some(uid),
    );
    let sock = format!("tcp4 {}<->17.248.190.14:443", hf.local_endpoint());
    let mut t = hf
        .frame_at_or_after(md2_start)
        .add_nanos(-NANOS_PER_SEC / 2);
    while t < md2_end {
        let out = hf
            .rng
            .random_range(bytes_per_s * 95 / 100..=bytes_per_s * 105 / 100);
        let inb = hf.rng.random_range(20_000..60_000);
        hf.net_add(
            t,
            pid,
            "mdworker_shared",
            &sock,
            "en0",
            "Established",
            inb,
            out,
        );
        t = t.add_secs(1);
    }
    hf.net_remove(md2_end.add_secs(2), pid);
    hf.exit(md2_end.add_secs(2), &md2, 0);
    truth(
        hf,
        Scenario::PidReuse,
        Some(pid),
        Some("/private/tmp/.x/updater"),
        up_start,
        up_end,
    )
}

// ---------------------------------------------------------------------------------------------------------
// Terminal sessions

pub(crate) const TERMINAL: &str =
    "/System/Applications/Utilities/Terminal.app/Contents/MacOS/Terminal";

/// Terminal (already running) → login → `-zsh` on `tty`; returns (Terminal, zsh).
pub(crate) fn terminal_shell(hf: &mut HostFiles, ts: Ts, tty: &str) -> (Proc, Proc) {
    let (uid, user) = hf.user();
    let boot = hf.boot(ts);
    let term_pid = 600 + hf.rng.random_range(0..900);
    hf.reserve_pid(term_pid);
    let term = Proc {
        pid: term_pid,
        pidversion: hf.pidversion(),
        ppid: 1,
        original_ppid: 1,
        start_time: boot.add_secs(hf.rng.random_range(60..3_000)),
        path: TERMINAL.into(),
        args: vec![TERMINAL.into()],
        cwd: "/".into(),
        uid,
        euid: uid,
        gid: 20,
        auid: Some(uid),
        tty: None,
        session_id: term_pid,
        responsible_pid: term_pid,
        signing_id: Some("com.apple.Terminal".into()),
        team_id: None,
        platform: true,
        cs_flags: crate::eslogger::CS_FLAGS_PLATFORM,
    };
    // Terminal forks; the child takes the pty as its controlling terminal and execs login.
    let login_pid = hf.pid();
    let pv = hf.pidversion();
    let mut child = term.fork_child(login_pid, pv, ts);
    hf.fork(ts, &term, &child);
    child.tty = Some(tty.to_string());
    child.session_id = login_pid;
    let mut login = child.exec_image(
        "/usr/bin/login",
        &["login", "-pf", &user],
        Signer::platform("com.apple.login"),
    );
    login.euid = 0;
    hf.exec(ts.add_nanos(1_200_000), &child, &login);
    let t = ts.add_nanos(9_000_000);
    let zpid = hf.pid();
    let pv = hf.pidversion();
    let lchild = login.fork_child(zpid, pv, t);
    hf.fork(t, &login, &lchild);
    let mut zsh = lchild.exec_image("/bin/zsh", &["-zsh"], Signer::platform("com.apple.zsh"));
    zsh.euid = uid;
    zsh.cwd = format!("/Users/{user}");
    hf.exec(t.add_nanos(700_000), &lchild, &zsh);
    (term, zsh)
}

/// Scenario 7: Terminal → login → `-zsh` (tty /dev/ttys001) → `/sbin/ping 10.0.0.1` for `secs` seconds at one
/// packet a second. No alert.
pub fn admin_slow_ping(hf: &mut HostFiles, start: Ts, secs: f64) -> Truth {
    let end = start.add_nanos(secs_f(secs));
    let (_, user) = hf.user();
    hf.background(start.add_secs(-120), end.add_secs(30));
    hf.nettop_capture(start.add_secs(-30), end.add_secs(15), 1);
    hf.session(start.add_secs(-95), "lw_session_unlock", &user);
    hf.log_unlock(start.add_secs(-95));
    let (_, zsh) = terminal_shell(hf, start.add_secs(-80), "/dev/ttys001");
    let (_, ping) = hf.fork_exec(
        start.add_nanos(-2_000_000),
        &zsh,
        "/sbin/ping",
        &["ping", "10.0.0.1"],
        Signer::platform("com.apple.ping"),
    );
    hf.exit(end, &ping, 0);
    truth(
        hf,
        Scenario::AdminSlowPing,
        Some(ping.pid),
        Some("/sbin/ping"),
        start,
        end,
    )
}

/// Scenario 10: Terminal → `-zsh` (tty /dev/ttys002) → `sudo ping -f 10.0.0.1` → `/sbin/ping -f 10.0.0.1`
/// (root, tty ttys002, responsible Terminal) for `secs` seconds. Should alert, ranked below an
/// unattended flood.
pub fn interactive_ping_flood(hf: &mut HostFiles, start: Ts, secs: f64) -> Truth {
    let end = start.add_nanos(secs_f(secs));
    let (uid, user) = hf.user();
    hf.background(start.add_secs(-120), end.add_secs(30));
    hf.log_login(start.add_secs(-3_600), &user, uid);
    hf.session(start.add_secs(-100), "lw_session_unlock", &user);
    hf.log_unlock(start.add_secs(-100));
    let (_, zsh) = terminal_shell(hf, start.add_secs(-70), "/dev/ttys002");
    // sudo is set-uid root: its exec target already has euid 0.
    let t = start.add_nanos(-2_600_000_000);
    let pid = hf.pid();
    let pv = hf.pidversion();
    let zchild = zsh.fork_child(pid, pv, t);
    hf.fork(t, &zsh, &zchild);
    let mut sudo = zchild.exec_image(
        "/usr/bin/sudo",
        &["sudo", "ping", "-f", "10.0.0.1"],
        Signer::platform("com.apple.sudo"),
    );
    sudo.euid = 0;
    hf.exec(t.add_nanos(900_000), &zchild, &sudo);
    let t = start.add_nanos(-3_000_000);
    let pid = hf.pid();
    let pv = hf.pidversion();
    let child = sudo.fork_child(pid, pv, t);
    hf.fork(t, &sudo, &child);
    let mut ping = child.exec_image(
        "/sbin/ping",
        &["ping", "-f", "10.0.0.1"],
        Signer::platform("com.apple.ping"),
    );
    ping.uid = 0;
    ping.euid = 0;
    ping.gid = 0;
    hf.exec(start, &child, &ping);
    hf.exit(end, &ping, 0);
    hf.exit(end.add_nanos(2_000_000), &sudo, 0);
    truth(
        hf,
        Scenario::InteractivePingFlood,
        Some(ping.pid),
        Some("/sbin/ping"),
        start,
        end,
    )
}

// ---------------------------------------------------------------------------------------------------------
// 8. backupd

/// `backupd` (platform, launchd daemon) sending `bytes_per_s` (about 60 MB/s) over tcp to
/// 10.0.0.20:445 for `secs` seconds (nettop), with unified-log connection summaries. No alert.
pub fn backupd_volume(hf: &mut HostFiles, start: Ts, secs: f64, bytes_per_s: u64) -> Truth {
    let end = start.add_nanos(secs_f(secs));
    let path = "/System/Library/CoreServices/backupd.bundle/Contents/Resources/backupd";
    hf.background(start.add_secs(-60), end.add_secs(20));
    hf.nettop_capture(start.add_secs(-20), end.add_secs(10), 1);
    let b = hf.spawn_job(
        start.add_secs(-1),
        None,
        path,
        &[path],
        Signer::platform("com.apple.backupd"),
        0,
        0,
        None,
    );
    let port = hf.port();
    let sock = format!("tcp4 {}:{port}<->10.0.0.20:445", hf.ip);
    let mut t = hf.frame_at_or_after(start).add_nanos(-NANOS_PER_SEC / 2);
    while t < end {
        let out = hf
            .rng
            .random_range(bytes_per_s * 9 / 10..=bytes_per_s * 11 / 10);
        hf.net_add(
            t,
            b.pid,
            "backupd",
            &sock,
            "en0",
            "Established",
            out / 90,
            out,
        );
        t = t.add_secs(1);
    }
    // Short metadata connections logged by Network.framework while the backup runs.
    let mut t = start.add_secs(20);
    while t < end {
        let local = hf.local_endpoint();
        let bout = hf.rng.random_range(2_000_000..9_000_000);
        let d = hf.rng.random_range(3_000..20_000) as f64 / 1000.0;
        hf.summary(
            t,
            b.pid,
            path,
            0,
            "tcp",
            &local,
            "IPv4#0a000014:445",
            d,
            bout / 80,
            bout,
            bout / 1_400,
            bout / 1_448 + 3,
        );
        t = t.add_secs(hf.rng.random_range(25..50));
    }
    hf.net_remove(end.add_secs(2), b.pid);
    hf.exit(end.add_secs(2), &b, 0);
    truth(
        hf,
        Scenario::BackupdVolume,
        Some(b.pid),
        Some(path),
        start,
        end,
    )
}

// ---------------------------------------------------------------------------------------------------------
// 9. monitoring agent

/// LaunchDaemon `/Library/Application Support/Acme/monitor-agent` (Developer ID, ppid 1, tty null) runs
/// `/sbin/ping -c 3 -i 1 10.0.0.1` every `every_s` (10) seconds for `secs` seconds (fork + exec, exit 2-3
/// s later). No alert. Subject: the agent.
pub fn monitoring_agent_pings(hf: &mut HostFiles, start: Ts, secs: f64, every_s: i64) -> Truth {
    let end = start.add_nanos(secs_f(secs));
    let path = "/Library/Application Support/Acme/monitor-agent";
    hf.background(start.add_secs(-60), end.add_secs(20));
    hf.nettop_capture(start.add_secs(-20), end.add_secs(10), 1);
    let agent = hf.spawn_job(
        start.add_secs(-8),
        None,
        path,
        &[
            path,
            "--config",
            "/Library/Application Support/Acme/agent.conf",
        ],
        Signer::developer("com.acme.monitor-agent", "ACME7Q2X9Z"),
        0,
        0,
        None,
    );
    if hf.files().nettop {
        let s = format!("tcp4 {}<->198.18.40.2:443", hf.local_endpoint());
        let mut t = hf.frame_at_or_after(start).add_nanos(-NANOS_PER_SEC / 2);
        while t < end {
            hf.net_add(
                t,
                agent.pid,
                "monitor-agent",
                &s,
                "en0",
                "Established",
                120,
                340,
            );
            t = t.add_secs(5);
        }
    }
    let mut t = start;
    while t < end {
        let (_, ping) = hf.fork_exec(
            t,
            &agent,
            "/sbin/ping",
            &["/sbin/ping", "-c", "3", "-i", "1", "10.0.0.1"],
            Signer::platform("com.apple.ping"),
        );
        let life = 2_000_000_000 + hf.rng.random_range(1_000_000..900_000_000);
        hf.exit(t.add_nanos(life), &ping, 0);
        t = t.add_secs(every_s);
    }
    truth(
        hf,
        Scenario::MonitoringAgentPings,
        Some(agent.pid),
        Some(path),
        start,
        end,
    )
}

// ---------------------------------------------------------------------------------------------------------
// Entry points

/// Queues scenario `s` with its standard parameters into `hf`, starting at `start`.
pub fn run(s: Scenario, hf: &mut HostFiles, start: Ts) -> Truth {
    match s {
        Scenario::LaunchdCurlLoop => launchd_curl_loop(hf, start, 60.0, 40.0),
        Scenario::CronRootPingFlood => cron_root_ping_flood(hf, start, 120.0),
        Scenario::PythonUdpFloodNettopOnly => python_udp_flood(hf, start, 90.0, 20_000_000),
        Scenario::UnsignedBinaryUnifiedLogOnly => {
            unsigned_binary_unified_log(hf, start, 60.0, 50.0)
        }
        Scenario::OsascriptCurlLoop => osascript_curl_loop(hf, start, 60.0, 20.0),
        Scenario::PidReuse => pid_reuse(hf, start, 15_000_000),
        Scenario::AdminSlowPing => admin_slow_ping(hf, start, 60.0),
        Scenario::BackupdVolume => backupd_volume(hf, start, 300.0, 60_000_000),
        Scenario::MonitoringAgentPings => monitoring_agent_pings(hf, start, 600.0, 10),
        Scenario::InteractivePingFlood => interactive_ping_flood(hf, start, 60.0),
    }
}

/// Writes scenario `s` alone into `host_dir` (created; the host is its name): the files
/// [`Scenario::files`] names, deterministic for `seed`.
pub fn write_scenario(s: Scenario, host_dir: &Path, start: Ts, seed: u64) -> io::Result<Truth> {
    let mut hf = HostFiles::create(host_dir, s.files(), s.host_opts(seed))?;
    let t = run(s, &mut hf, start);
    hf.finish()?;
    Ok(t)
}

fn utc(y: i64, m: u32, d: u32, h: i64, mi: i64, s: i64) -> Ts {
    Ts::from_secs(days_from_civil(y, m, d) * 86_400 + h * 3_600 + mi * 60 + s)
}

/// The bundled example: `dir/build-mac-07/` (a LaunchDaemon curl loop at night, a monitoring agent's
/// pings and a Time Machine backup, in the same three files) and `dir/admin-mbp-02/` (an admin's slow
/// interactive ping among benign activity). Kept small (a few hundred KB per host): the curl loop runs
/// 25 s at 8 execs/s instead of 60 s at 40/s, still well above the default 5 execs/s over a 30 s window.
pub fn write_example_collection(dir: &Path) -> io::Result<Vec<Truth>> {
    let mut truths = Vec::new();

    let build = HostOpts {
        es_version: 10,
        utc_offset_secs: 2 * 3_600,
        seed: 7,
        nettop_columns: Columns::Selected,
        user: (501, "ci".into()),
        nettop_interval_s: 2,
    };
    let mut hf = HostFiles::create(&dir.join("build-mac-07"), Files::ALL, build)?;
    truths.push(backupd_volume(
        &mut hf,
        utc(2025, 9, 16, 1, 0, 0),
        300.0,
        60_000_000,
    ));
    hf.flush()?;
    truths.push(launchd_curl_loop(
        &mut hf,
        utc(2025, 9, 16, 3, 12, 0).add_nanos(250_000_000),
        25.0,
        8.0,
    ));
    hf.flush()?;
    truths.push(monitoring_agent_pings(
        &mut hf,
        utc(2025, 9, 16, 9, 0, 0),
        600.0,
        10,
    ));
    hf.finish()?;

    let admin = HostOpts {
        es_version: 9,
        utc_offset_secs: -4 * 3_600,
        seed: 2,
        nettop_columns: Columns::Selected,
        user: (501, "alice".into()),
        nettop_interval_s: 1,
    };
    let mut hf = HostFiles::create(&dir.join("admin-mbp-02"), Files::ALL, admin)?;
    let (uid, user) = hf.user();
    let morning = utc(2025, 9, 16, 13, 2, 11);
    hf.log_login(morning, &user, uid);
    hf.session(morning.add_secs(1), "lw_session_login", &user);
    // After login: launchd jobs, nsurlsessiond and browser traffic for a few minutes.
    hf.background(morning.add_secs(2), morning.add_secs(240));
    hf.nettop_capture(morning.add_secs(20), morning.add_secs(140), 1);
    truths.push(admin_slow_ping(&mut hf, utc(2025, 9, 16, 14, 20, 0), 60.0));
    hf.session(utc(2025, 9, 16, 14, 31, 5), "lw_session_lock", &user);
    hf.log_lock(utc(2025, 9, 16, 14, 31, 5));
    hf.finish()?;
    Ok(truths)
}
