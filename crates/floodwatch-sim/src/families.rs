//! Activities the fleet simulator needs beyond the ten [`crate::scenario`]s: more flood tools and
//! launch contexts, and the routine traffic a fleet sees every day. Like the scenarios, each function
//! queues its activity into a [`HostFiles`] (so activities share a host's files) and returns an [`Act`]:
//! the process an alert should name (or would name, for benign activity) and the activity's span.
//!
//! Rates are chosen against the default thresholds in config/floodwatch.toml (5 tool execs/s, 1,000
//! weighted packets/s, 10 MB/s weighted bytes, 20 new connections/s, declared floods at 50 packets/s):
//! the attacks clearly above, the routine activity clearly below.

use crate::eslogger::{Proc, Signer, CS_FLAGS_PLATFORM};
use crate::host::HostFiles;
use crate::scenario::{secs_f, short_tcp_row, terminal_shell, Truth};
use floodwatch_core::time::NANOS_PER_SEC;
use floodwatch_core::Ts;
use rand::Rng;

/// What an activity did: its subject and span.
#[derive(Clone, Debug, PartialEq)]
pub struct Act {
    /// The process an alert names (the script that drives a loop, the flooding tool, the agent).
    pub subject_pid: Option<i32>,
    /// Its executable path, when the host's telemetry tells it.
    pub subject_path: Option<String>,
    pub start: Ts,
    pub end: Ts,
}

impl From<Truth> for Act {
    fn from(t: Truth) -> Act {
        Act {
            subject_pid: t.subject_pid,
            subject_path: t.subject_path,
            start: t.start,
            end: t.end,
        }
    }
}

fn act(p: &Proc, start: Ts, end: Ts) -> Act {
    Act {
        subject_pid: Some(p.pid),
        subject_path: Some(p.path.clone()),
        start,
        end,
    }
}

fn ms(hf: &mut HostFiles, lo: i64, hi: i64) -> i64 {
    hf.rng.random_range(lo..hi) * 1_000_000
}

/// `parent` forks and execs `args[0]`… `per_s` times a second for `secs` seconds from `start`; each
/// tool exits 20-45 ms later and shows in nettop meanwhile with one tcp socket to `remote`.
#[allow(clippy::too_many_arguments)]
fn tool_loop(
    hf: &mut HostFiles,
    parent: &Proc,
    start: Ts,
    secs: f64,
    per_s: f64,
    path: &str,
    args: &[&str],
    signer: Signer,
    remote: &str,
) {
    let n = (secs * per_s).round() as i64;
    let gap = secs_f(1.0 / per_s);
    let name = path.rsplit('/').next().unwrap_or(path).to_string();
    for i in 0..n {
        let jitter = hf.rng.random_range(-(gap / 5)..=gap / 5);
        let t = start.add_nanos(i * gap + jitter.max(-(i * gap)));
        let (_, tool) = hf.fork_exec(t, parent, path, args, signer.clone());
        let t_exit = t.add_nanos(ms(hf, 20, 45));
        hf.exit(t_exit, &tool, 0);
        let bin = hf.rng.random_range(900..4_000);
        let bout = hf.rng.random_range(250..900);
        short_tcp_row(
            hf,
            t.add_nanos(3_000_000),
            t_exit,
            tool.pid,
            &name,
            remote,
            bin,
            bout,
        );
    }
}

/// `/usr/sbin/cron` (running since boot, root, tty null).
pub(crate) fn cron_daemon(hf: &mut HostFiles, near: Ts) -> Proc {
    let boot = hf.boot(near);
    let pid = 200 + hf.rng.random_range(0..300);
    hf.reserve_pid(pid);
    Proc {
        pid,
        pidversion: hf.pidversion(),
        ppid: 1,
        original_ppid: 1,
        start_time: boot.add_secs(9),
        path: "/usr/sbin/cron".into(),
        args: vec!["/usr/sbin/cron".into()],
        cwd: "/".into(),
        uid: 0,
        euid: 0,
        gid: 0,
        auid: None,
        tty: None,
        session_id: pid,
        responsible_pid: pid,
        signing_id: Some("com.apple.cron".into()),
        team_id: None,
        platform: true,
        cs_flags: CS_FLAGS_PLATFORM,
    }
}

/// An ssh login: `sshd-session` (root, already running) forks the user's `-zsh` on `tty`, with the
/// eslogger `openssh_login` event. Returns the shell.
fn ssh_shell(hf: &mut HostFiles, ts: Ts, tty: &str) -> Proc {
    let (uid, user) = hf.user();
    let boot = hf.boot(ts);
    hf.session(ts.add_nanos(-350_000_000), "openssh_login", &user);
    let pid = 2_000 + hf.rng.random_range(0..3_000);
    hf.reserve_pid(pid);
    let sshd = Proc {
        pid,
        pidversion: hf.pidversion(),
        ppid: 1,
        original_ppid: 1,
        start_time: ts.add_nanos(-420_000_000).max(boot),
        path: "/usr/libexec/sshd-session".into(),
        args: vec![format!("sshd-session: {user} [priv]")],
        cwd: "/".into(),
        uid: 0,
        euid: 0,
        gid: 0,
        auid: Some(uid),
        tty: None,
        session_id: pid,
        responsible_pid: pid,
        signing_id: Some("com.apple.sshd-session".into()),
        team_id: None,
        platform: true,
        cs_flags: CS_FLAGS_PLATFORM,
    };
    let zpid = hf.pid();
    let pv = hf.pidversion();
    let mut child = sshd.fork_child(zpid, pv, ts);
    hf.fork(ts, &sshd, &child);
    child.tty = Some(tty.to_string());
    child.session_id = zpid;
    child.uid = uid;
    child.euid = uid;
    child.gid = 20;
    let mut zsh = child.exec_image("/bin/zsh", &["-zsh"], Signer::platform("com.apple.zsh"));
    zsh.cwd = format!("/Users/{user}");
    hf.exec(ts.add_nanos(2_100_000), &child, &zsh);
    zsh
}

// ---------------------------------------------------------------------------------------------------------
// Attacks

/// A LaunchAgent (the user's uid and auid, tty null) runs `/bin/zsh ~/Library/Application
/// Support/.cache/sync.sh`, which runs `curl -s -m 2 -o /dev/null https://198.51.100.61/api/v1/beat`
/// `per_s` times a second for `secs` seconds. Subject: the zsh.
pub fn launchagent_curl_loop(hf: &mut HostFiles, start: Ts, secs: f64, per_s: f64) -> Act {
    launchagent_curl_loop_to(hf, start, secs, per_s, "198.51.100.61")
}

/// [`launchagent_curl_loop`] against `target` (an IPv4 address): the campaign scenario runs the same
/// script on several hosts.
pub fn launchagent_curl_loop_to(
    hf: &mut HostFiles,
    start: Ts,
    secs: f64,
    per_s: f64,
    target: &str,
) -> Act {
    let end = start.add_nanos(secs_f(secs));
    let (_, user) = hf.user();
    hf.around(start, end, 20);
    let script = format!("/Users/{user}/Library/Application Support/.cache/sync.sh");
    let mut zsh = hf.user_job(
        start.add_nanos(-1_900_000_000),
        "/bin/zsh",
        &["/bin/zsh", &script],
        Signer::platform("com.apple.zsh"),
    );
    zsh.cwd = format!("/Users/{user}");
    tool_loop(
        hf,
        &zsh,
        start,
        secs,
        per_s,
        "/usr/bin/curl",
        &[
            "/usr/bin/curl",
            "-s",
            "-m",
            "2",
            "-o",
            "/dev/null",
            &format!("https://{target}/api/v1/beat"),
        ],
        Signer::platform("com.apple.curl"),
        &format!("{target}:443"),
    );
    hf.exit(end.add_nanos(300_000_000), &zsh, 0);
    act(&zsh, start, end)
}

/// root's crontab: cron forks `/bin/sh -c /var/root/.local/bin/poll.sh`, which execs the script's
/// `/bin/bash` (same pid), which runs `curl -s -o /dev/null http://198.51.100.62/` `per_s` times a
/// second for `secs` seconds. Subject: the bash.
pub fn cron_curl_loop(hf: &mut HostFiles, start: Ts, secs: f64, per_s: f64) -> Act {
    let end = start.add_nanos(secs_f(secs));
    hf.around(start, end, 20);
    let cron = cron_daemon(hf, start);
    let script = "/var/root/.local/bin/poll.sh";
    let (_, sh) = hf.fork_exec(
        start.add_nanos(-9_000_000),
        &cron,
        "/bin/sh",
        &["/bin/sh", "-c", script],
        Signer::platform("com.apple.sh"),
    );
    let mut bash = sh.exec_image(
        "/bin/bash",
        &["/bin/bash", script],
        Signer::platform("com.apple.bash"),
    );
    bash.cwd = "/var/root".into();
    hf.exec(start.add_nanos(-4_000_000), &sh, &bash);
    tool_loop(
        hf,
        &bash,
        start,
        secs,
        per_s,
        "/usr/bin/curl",
        &[
            "/usr/bin/curl",
            "-s",
            "-o",
            "/dev/null",
            "http://198.51.100.62/",
        ],
        Signer::platform("com.apple.curl"),
        "198.51.100.62:80",
    );
    hf.exit(end.add_nanos(250_000_000), &bash, 0);
    act(&bash, start, end)
}

/// A LaunchAgent whose program is `/sbin/ping -q -i 0.002 -s 1200 203.0.113.50` (the user's uid:
/// macOS 15 lets anyone go down to 2 ms, 500 packets/s) for `secs` seconds. ICMP has no nettop rows:
/// the command line and the lifetime are the evidence. Subject: the ping.
pub fn ping_fast_interval(hf: &mut HostFiles, start: Ts, secs: f64) -> Act {
    let end = start.add_nanos(secs_f(secs));
    let (uid, _) = hf.user();
    hf.around(start, end, 20);
    let ping = hf.spawn_job(
        start,
        None,
        "/sbin/ping",
        &[
            "/sbin/ping",
            "-q",
            "-i",
            "0.002",
            "-s",
            "1200",
            "203.0.113.50",
        ],
        Signer::platform("com.apple.ping"),
        uid,
        20,
        Some(uid),
    );
    hf.exit(end, &ping, 2);
    act(&ping, start, end)
}

/// A LaunchDaemon script `/bin/bash "/Library/Application Support/.sysmon/check.sh"` (root) runs
/// `/sbin/ping -q -l 500 -c 500 -s 1000 198.51.100.70` back to back for `secs` seconds: every run sends
/// its 500 packets at once and exits about a second later. Subject: the bash.
pub fn ping_preload(hf: &mut HostFiles, start: Ts, secs: f64) -> Act {
    let end = start.add_nanos(secs_f(secs));
    hf.around(start, end, 20);
    let bash = hf.spawn_job(
        start.add_nanos(-1_200_000_000),
        None,
        "/bin/bash",
        &["/bin/bash", "/Library/Application Support/.sysmon/check.sh"],
        Signer::platform("com.apple.bash"),
        0,
        0,
        None,
    );
    let mut t = start;
    while t < end {
        let (_, ping) = hf.fork_exec(
            t,
            &bash,
            "/sbin/ping",
            &[
                "/sbin/ping",
                "-q",
                "-l",
                "500",
                "-c",
                "500",
                "-s",
                "1000",
                "198.51.100.70",
            ],
            Signer::platform("com.apple.ping"),
        );
        let life = ms(hf, 700, 1_300);
        hf.exit(t.add_nanos(life), &ping, 0);
        t = t.add_nanos(life + ms(hf, 40, 160));
    }
    hf.exit(t.add_nanos(200_000_000), &bash, 0);
    act(&bash, start, end)
}

/// A LaunchAgent script `/bin/zsh ~/.local/share/.t/run.sh` runs one `curl -s -Z --parallel-max 100
/// -o /dev/null http://198.51.100.20/[1-100000]` for `secs` seconds (then killed). nettop shows the
/// curl with about a hundred short tcp sockets at any moment: `conn_per_s` new ones a second, each
/// 0.3-0.9 s long. Subject: the zsh.
pub fn curl_range_flood(hf: &mut HostFiles, start: Ts, secs: f64, conn_per_s: f64) -> Act {
    let end = start.add_nanos(secs_f(secs));
    let (_, user) = hf.user();
    hf.around(start, end, 20);
    let script = format!("/Users/{user}/.local/share/.t/run.sh");
    let mut zsh = hf.user_job(
        start.add_nanos(-800_000_000),
        "/bin/zsh",
        &["/bin/zsh", &script],
        Signer::platform("com.apple.zsh"),
    );
    zsh.cwd = format!("/Users/{user}");
    let (_, curl) = hf.fork_exec(
        start.add_nanos(-20_000_000),
        &zsh,
        "/usr/bin/curl",
        &[
            "curl",
            "-s",
            "-Z",
            "--parallel-max",
            "100",
            "-o",
            "/dev/null",
            "http://198.51.100.20/[1-100000]",
        ],
        Signer::platform("com.apple.curl"),
    );
    let n = (secs * conn_per_s).round() as i64;
    let gap = secs_f(1.0 / conn_per_s);
    for i in 0..n {
        let t_open = start.add_nanos(i * gap + hf.rng.random_range(0..gap));
        let t_close = t_open.add_nanos(ms(hf, 300, 900)).min(end);
        let sock = format!("tcp4 {}<->198.51.100.20:80", hf.local_endpoint());
        let bin = hf.rng.random_range(1_800..6_500);
        let bout = hf.rng.random_range(140..420);
        hf.net_add(
            t_open,
            curl.pid,
            "curl",
            &sock,
            "en0",
            "Established",
            bin,
            bout,
        );
        hf.net_close(t_close, curl.pid, &sock);
    }
    hf.net_remove(end.add_nanos(1_000_000), curl.pid);
    hf.exit(end, &curl, 15);
    hf.exit(end.add_nanos(40_000_000), &zsh, 0);
    act(&zsh, start, end)
}

/// A LaunchDaemon whose program is a perl one-liner looping `send` on a UDP socket to
/// 198.51.100.30:9999 with no pause (root); nettop shows `perl` with one udp4 socket sending
/// `bytes_per_s` for `secs` seconds. Subject: the perl.
pub fn perl_udp_flood(hf: &mut HostFiles, start: Ts, secs: f64, bytes_per_s: u64) -> Act {
    let end = start.add_nanos(secs_f(secs));
    hf.around(start, end, 10);
    let code = r#"use IO::Socket::INET; my $s = IO::Socket::INET->new(PeerAddr => "198.51.100.30:9999", Proto => "udp") or die; my $p = "A" x 1400; while (1) { $s->send($p) }"#;
    let perl = hf.spawn_job(
        start.add_nanos(-30_000_000),
        None,
        "/usr/bin/perl",
        &["/usr/bin/perl", "-e", code],
        Signer::platform("com.apple.perl"),
        0,
        0,
        None,
    );
    let sock = format!("udp4 {}<->198.51.100.30:9999", hf.local_endpoint());
    let mut t = hf.frame_at_or_after(start).add_nanos(-NANOS_PER_SEC / 2);
    while t < end {
        let out = hf
            .rng
            .random_range(bytes_per_s * 95 / 100..=bytes_per_s * 105 / 100);
        hf.net_add(t, perl.pid, "perl", &sock, "en0", "", 0, out);
        t = t.add_secs(1);
    }
    hf.net_remove(end.add_nanos(100_000_000), perl.pid);
    hf.exit(end.add_nanos(100_000_000), &perl, 9);
    act(&perl, start, end)
}

/// A LaunchDaemon (root) whose program is a python one-liner sending 1,400-byte datagrams from
/// `socket(2, 2)` (AF_INET, SOCK_DGRAM) to 198.51.100.9:9 in a `for` loop of a billion sends (not an
/// endless `while`: no declared flood, only the socket says UDP), `bytes_per_s` for `secs` seconds.
/// Seen through `nettop -P` (call [`HostFiles::nettop_process_only`] first): `python3.<pid>` process
/// rows with no protocol. Subject: the python.
pub fn python_udp_flood_process_rows(
    hf: &mut HostFiles,
    start: Ts,
    secs: f64,
    bytes_per_s: u64,
) -> Act {
    let end = start.add_nanos(secs_f(secs));
    hf.around(start, end, 10);
    let code = "import socket as k\ns=k.socket(2,2)\nfor _ in range(10**9): s.sendto(b'A'*1400,('198.51.100.9',9))";
    let py = hf.spawn_job(
        start.add_nanos(-40_000_000),
        None,
        "/usr/bin/python3",
        &["/usr/bin/python3", "-c", code],
        Signer::platform("com.apple.python3"),
        0,
        0,
        None,
    );
    let sock = format!("udp4 {}<->198.51.100.9:9", hf.local_endpoint());
    let mut t = hf.frame_at_or_after(start).add_nanos(-NANOS_PER_SEC / 2);
    while t < end {
        let out = hf
            .rng
            .random_range(bytes_per_s * 95 / 100..=bytes_per_s * 105 / 100);
        hf.net_add(t, py.pid, "python3", &sock, "en0", "", 0, out);
        t = t.add_secs(1);
    }
    hf.net_remove(end.add_nanos(100_000_000), py.pid);
    hf.exit(end.add_nanos(100_000_000), &py, 9);
    act(&py, start, end)
}

/// An admin logged in over ssh runs `sudo hping3 --flood -S -p 80 198.51.100.40` (Homebrew, ad hoc
/// signed, root, tty ttys003) for `secs` seconds. hping3 sends through BPF: no nettop rows. Subject: the
/// hping3 (an interactive flood: it alerts, ranked lower).
pub fn hping3_flood(hf: &mut HostFiles, start: Ts, secs: f64) -> Act {
    let end = start.add_nanos(secs_f(secs));
    hf.background(start.add_secs(-120), end.add_secs(20));
    hf.nettop_capture(start.add_secs(-20), end.add_secs(10), 1);
    let zsh = ssh_shell(hf, start.add_secs(-75), "/dev/ttys003");
    let hping_path = "/opt/homebrew/Cellar/hping/3.20051105/sbin/hping3";
    let argv = ["hping3", "--flood", "-S", "-p", "80", "198.51.100.40"];
    let mut sudo_args = vec!["sudo"];
    sudo_args.extend(argv);
    let t = start.add_nanos(-2_400_000_000);
    let pid = hf.pid();
    let pv = hf.pidversion();
    let zchild = zsh.fork_child(pid, pv, t);
    hf.fork(t, &zsh, &zchild);
    let mut sudo = zchild.exec_image(
        "/usr/bin/sudo",
        &sudo_args,
        Signer::platform("com.apple.sudo"),
    );
    sudo.euid = 0;
    hf.exec(t.add_nanos(800_000), &zchild, &sudo);
    let t = start.add_nanos(-4_000_000);
    let pid = hf.pid();
    let pv = hf.pidversion();
    let child = sudo.fork_child(pid, pv, t);
    hf.fork(t, &sudo, &child);
    let mut hping = child.exec_image(hping_path, &argv, Signer::adhoc("hping3"));
    hping.uid = 0;
    hping.euid = 0;
    hping.gid = 0;
    hf.exec(start, &child, &hping);
    hf.exit(end, &hping, 2);
    hf.exit(end.add_nanos(3_000_000), &sudo, 0);
    act(&hping, start, end)
}

/// A LaunchDaemon script `/bin/bash /private/var/tmp/.n/run.sh` (root) runs `nping --udp -p 53 --rate
/// <rate> -c 0 -H -N --data-length 512 198.51.100.41` (Homebrew nmap, ad hoc signed) for `secs`
/// seconds. Raw sockets: no nettop rows. Subject: the bash.
pub fn nping_flood(hf: &mut HostFiles, start: Ts, secs: f64, rate: u32) -> Act {
    let end = start.add_nanos(secs_f(secs));
    hf.around(start, end, 20);
    let bash = hf.spawn_job(
        start.add_nanos(-1_000_000_000),
        None,
        "/bin/bash",
        &["/bin/bash", "/private/var/tmp/.n/run.sh"],
        Signer::platform("com.apple.bash"),
        0,
        0,
        None,
    );
    let rate = rate.to_string();
    let (_, nping) = hf.fork_exec(
        start,
        &bash,
        "/opt/homebrew/Cellar/nmap/7.95_1/bin/nping",
        &[
            "nping",
            "--udp",
            "-p",
            "53",
            "--rate",
            &rate,
            "-c",
            "0",
            "-H",
            "-N",
            "--data-length",
            "512",
            "198.51.100.41",
        ],
        Signer::adhoc("nping"),
    );
    hf.exit(end, &nping, 15);
    hf.exit(end.add_nanos(120_000_000), &bash, 0);
    act(&bash, start, end)
}

// ---------------------------------------------------------------------------------------------------------
// Routine activity

/// An admin unlocks the screen, opens Terminal (`-zsh` on ttys004) and checks a service with a few
/// `curl -sS -o /dev/null -w "%{http_code}\n" https://intranet.example.com/healthz`, seconds apart, then
/// downloads a package with `curl -LO`. Subject: the login shell (what an alert would name).
pub fn interactive_admin_curl(hf: &mut HostFiles, start: Ts) -> Act {
    let (_, user) = hf.user();
    hf.session(start.add_secs(-60), "lw_session_unlock", &user);
    hf.log_unlock(start.add_secs(-60));
    let (_, zsh) = terminal_shell(hf, start.add_secs(-40), "/dev/ttys004");
    let n = hf.rng.random_range(3..9);
    let mut t = start;
    for _ in 0..n {
        let (_, curl) = hf.fork_exec(
            t,
            &zsh,
            "/usr/bin/curl",
            &[
                "curl",
                "-sS",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}\\n",
                "https://intranet.example.com/healthz",
            ],
            Signer::platform("com.apple.curl"),
        );
        let life = ms(hf, 150, 1_200);
        hf.nettop_capture(t.add_secs(-1), t.add_secs(3), 1);
        let bin = hf.rng.random_range(3_000..9_000);
        let bout = hf.rng.random_range(700..1_500);
        short_tcp_row(
            hf,
            t.add_nanos(20_000_000),
            t.add_nanos(life),
            curl.pid,
            "curl",
            "10.20.0.15:443",
            bin,
            bout,
        );
        hf.exit(t.add_nanos(life), &curl, 0);
        t = t.add_nanos(life + ms(hf, 2_500, 15_000));
    }
    // A download: one connection, megabytes in, little out.
    let (_, dl) = hf.fork_exec(
        t,
        &zsh,
        "/usr/bin/curl",
        &[
            "curl",
            "-LO",
            "https://downloads.example.com/agent-4.2.1.pkg",
        ],
        Signer::platform("com.apple.curl"),
    );
    let secs = hf.rng.random_range(4..10);
    hf.nettop_capture(t.add_secs(-1), t.add_secs(secs + 2), 1);
    let sock = format!("tcp4 {}<->93.184.215.14:443", hf.local_endpoint());
    let mut tt = hf.frame_at_or_after(t).add_nanos(-NANOS_PER_SEC / 2);
    let t_end = t.add_secs(secs);
    while tt < t_end {
        let inb = hf.rng.random_range(4_000_000..9_000_000);
        hf.net_add(
            tt,
            dl.pid,
            "curl",
            &sock,
            "en0",
            "Established",
            inb,
            inb / 70,
        );
        tt = tt.add_secs(1);
    }
    hf.net_remove(t_end.add_nanos(50_000_000), dl.pid);
    hf.exit(t_end.add_nanos(50_000_000), &dl, 0);
    hf.background(start.add_secs(-90), t_end.add_secs(20));
    act(&zsh, start, t_end)
}

/// softwareupdated (platform LaunchDaemon, uid 200) downloads an update over tcp (tens of MB/s in)
/// while cloudd uploads to iCloud (a few MB/s out), with Network.framework connection summaries.
/// Platform daemons are never subjects. Subject: softwareupdated.
pub fn software_update(hf: &mut HostFiles, start: Ts, secs: f64) -> Act {
    let end = start.add_nanos(secs_f(secs));
    hf.around(start, end, 10);
    let su_path =
        "/System/Library/PrivateFrameworks/SoftwareUpdate.framework/Resources/softwareupdated";
    let su = hf.spawn_job(
        start.add_secs(-5),
        None,
        su_path,
        &[su_path],
        Signer::platform("com.apple.softwareupdated"),
        200,
        200,
        None,
    );
    let cd_path = "/System/Library/PrivateFrameworks/CloudKitDaemon.framework/Support/cloudd";
    let cd = hf.user_job(
        start.add_secs(-3),
        cd_path,
        &[cd_path],
        Signer::platform("com.apple.cloudd"),
    );
    let down = hf.rng.random_range(20_000_000..45_000_000u64);
    let up = hf.rng.random_range(2_000_000..8_000_000u64);
    let s1 = format!("tcp4 {}<->17.253.73.201:443", hf.local_endpoint());
    let s2 = format!("tcp4 {}<->17.248.190.72:443", hf.local_endpoint());
    let mut t = hf.frame_at_or_after(start).add_nanos(-NANOS_PER_SEC / 2);
    while t < end {
        let i = hf.rng.random_range(down * 8 / 10..=down * 12 / 10);
        hf.net_add(
            t,
            su.pid,
            "softwareupdated",
            &s1,
            "en0",
            "Established",
            i,
            i / 60,
        );
        let o = hf.rng.random_range(up * 8 / 10..=up * 12 / 10);
        hf.net_add(t, cd.pid, "cloudd", &s2, "en0", "Established", o / 40, o);
        t = t.add_secs(1);
    }
    let mut t = start.add_secs(hf.rng.random_range(10..30));
    while t < end {
        let local = hf.local_endpoint();
        let bin = hf.rng.random_range(40_000_000..200_000_000u64);
        let d = hf.rng.random_range(4_000..20_000) as f64 / 1000.0;
        hf.summary(
            t,
            su.pid,
            su_path,
            200,
            "tcp",
            &local,
            "Hostname#5e1f0a2b:443",
            d,
            bin,
            bin / 60,
            bin / 1_448,
            bin / 2_900 + 3,
        );
        t = t.add_secs(hf.rng.random_range(20..45));
    }
    hf.net_remove(end.add_secs(2), su.pid);
    hf.net_remove(end.add_secs(2), cd.pid);
    hf.exit(end.add_secs(2), &su, 0);
    hf.exit(end.add_secs(3), &cd, 0);
    act(&su, start, end)
}

/// A video call in zoom.us next to Google Chrome (both Developer ID signed, started by launchd for the
/// user): zoom sends `zoom_out` bytes/s over udp4 to its media server (plus a tcp control socket),
/// Chrome's network service a few hundred KB/s out over QUIC and tcp, with a new tcp connection every
/// few seconds. Steady, below every threshold. Subject: zoom.us.
pub fn browser_and_video_call(hf: &mut HostFiles, start: Ts, secs: f64, zoom_out: u64) -> Act {
    let end = start.add_nanos(secs_f(secs));
    hf.background(start.add_secs(-60), end.add_secs(20));
    hf.nettop_capture(start.add_secs(-10), end.add_secs(5), 1);
    let chrome_path = "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome";
    let team = "EQHXZ8M8AV";
    let chrome = hf.user_job(
        start.add_secs(-45),
        chrome_path,
        &[chrome_path],
        Signer::developer("com.google.Chrome", team),
    );
    let helper = "/Applications/Google Chrome.app/Contents/Frameworks/Google Chrome Framework.framework/Versions/131.0.6778.86/Helpers/Google Chrome Helper.app/Contents/MacOS/Google Chrome Helper";
    let (_, net) = hf.fork_exec(
        start.add_secs(-44),
        &chrome,
        helper,
        &[
            helper,
            "--type=utility",
            "--utility-sub-type=network.mojom.NetworkService",
            "--lang=en-US",
            "--service-sandbox-type=network",
        ],
        Signer::developer("com.google.Chrome.helper", team),
    );
    let zoom_path = "/Applications/zoom.us.app/Contents/MacOS/zoom.us";
    let zoom = hf.user_job(
        start.add_secs(-20),
        zoom_path,
        &[zoom_path],
        Signer::developer("us.zoom.xos", "BJ4HAAB9B3"),
    );
    let media = format!("udp4 {}<->144.195.37.51:8801", hf.local_endpoint());
    let ctl = format!("tcp4 {}<->170.114.10.83:443", hf.local_endpoint());
    let quic = format!("quic4 {}<->142.250.74.110:443", hf.local_endpoint());
    let chrome_in = hf.rng.random_range(1_000_000..5_000_000u64);
    let chrome_out = hf.rng.random_range(150_000..600_000u64);
    let mut tabs: Vec<(String, Ts)> = Vec::new();
    let mut next_tab = start;
    let mut t = hf.frame_at_or_after(start).add_nanos(-NANOS_PER_SEC / 2);
    while t < end {
        let o = hf
            .rng
            .random_range(zoom_out * 85 / 100..=zoom_out * 115 / 100);
        hf.net_add(t, zoom.pid, "zoom.us", &media, "en0", "", o, o);
        let c = hf.rng.random_range(2_000..9_000);
        hf.net_add(t, zoom.pid, "zoom.us", &ctl, "en0", "Established", c, c / 3);
        let i = hf.rng.random_range(chrome_in / 2..=chrome_in * 3 / 2);
        let o = hf.rng.random_range(chrome_out / 2..=chrome_out * 3 / 2);
        hf.net_add(t, net.pid, "Google Chrome Helper", &quic, "en0", "", i, o);
        if t >= next_tab {
            let sock = format!("tcp4 {}<->151.101.1.140:443", hf.local_endpoint());
            tabs.push((sock, t.add_secs(hf.rng.random_range(5..60))));
            next_tab = t.add_secs(hf.rng.random_range(3..20));
        }
        let mut k = 0;
        while k < tabs.len() {
            if tabs[k].1 <= t {
                let (sock, _) = tabs.swap_remove(k);
                hf.net_close(t, net.pid, &sock);
            } else {
                let i = hf.rng.random_range(5_000..120_000);
                let o = hf.rng.random_range(800..6_000);
                let sock = tabs[k].0.clone();
                hf.net_add(
                    t,
                    net.pid,
                    "Google Chrome Helper",
                    &sock,
                    "en0",
                    "Established",
                    i,
                    o,
                );
                k += 1;
            }
        }
        t = t.add_secs(1);
    }
    hf.net_remove(end.add_secs(1), zoom.pid);
    hf.exit(end.add_secs(1), &zoom, 0);
    act(&zoom, start, end)
}

/// A developer's python script makes a handful of HTTPS requests (a new tcp socket each, a few KB out)
/// over some seconds: from Terminal (`-zsh` → `python3 scripts/check_links.py`) or, `unattended`, as a
/// LaunchAgent (`python3.12 ~/bin/sync_calendar.py`). Subject: the python.
pub fn developer_script(hf: &mut HostFiles, start: Ts, unattended: bool) -> Act {
    let (_, user) = hf.user();
    let py_path = "/opt/homebrew/Cellar/python@3.12/3.12.7/Frameworks/Python.framework/Versions/3.12/bin/python3.12";
    let signer = Signer::adhoc("python3.12");
    let py = if unattended {
        let script = format!("/Users/{user}/bin/sync_calendar.py");
        let mut p = hf.user_job(start, py_path, &[py_path, &script], signer);
        p.cwd = format!("/Users/{user}");
        p
    } else {
        let (_, zsh) = terminal_shell(hf, start.add_secs(-30), "/dev/ttys005");
        let mut zsh = zsh;
        zsh.cwd = format!("/Users/{user}/src/website");
        let (_, p) = hf.fork_exec(
            start,
            &zsh,
            py_path,
            &[
                "python3",
                "scripts/check_links.py",
                "--base",
                "https://docs.example.com",
            ],
            signer,
        );
        p
    };
    let n = hf.rng.random_range(4..13);
    let mut t = start.add_nanos(ms(hf, 150, 600));
    for _ in 0..n {
        let sock = format!("tcp4 {}<->185.199.108.153:443", hf.local_endpoint());
        let life = ms(hf, 200, 2_000);
        let bin = hf.rng.random_range(5_000..80_000);
        let bout = hf.rng.random_range(600..2_500);
        hf.net_add(
            t,
            py.pid,
            "python3.12",
            &sock,
            "en0",
            "Established",
            bin,
            bout,
        );
        hf.net_close(t.add_nanos(life), py.pid, &sock);
        t = t.add_nanos(life + ms(hf, 100, 3_000));
    }
    let end = t.add_nanos(ms(hf, 50, 400));
    hf.net_remove(end, py.pid);
    hf.exit(end, &py, 0);
    hf.nettop_capture(start.add_secs(-5), end.add_secs(5), 1);
    hf.background(start.add_secs(-60), end.add_secs(20));
    act(&py, start, end)
}

/// A CI agent (`buildkite-agent`, Developer ID, LaunchAgent of the ci user) polls a service under test
/// with `curl -fsS -o /dev/null http://10.0.4.12:8080/healthz` about once a second for `secs` seconds.
/// Subject: the agent (tool execs count on whatever ran them).
pub fn ci_runner(hf: &mut HostFiles, start: Ts, secs: f64) -> Act {
    let end = start.add_nanos(secs_f(secs));
    let (_, user) = hf.user();
    hf.around(start, end, 10);
    let path = "/usr/local/bin/buildkite-agent";
    let cfg = format!("/Users/{user}/.buildkite-agent/buildkite-agent.cfg");
    let mut agent = hf.user_job(
        start.add_secs(-90),
        path,
        &[path, "start", "--config", &cfg],
        Signer::developer("com.buildkite.agent", "7R5ZEU67FQ"),
    );
    agent.cwd = format!("/Users/{user}/.buildkite-agent");
    if hf.files().nettop {
        let s = format!("tcp4 {}<->52.45.138.21:443", hf.local_endpoint());
        let mut t = hf.frame_at_or_after(start).add_nanos(-NANOS_PER_SEC / 2);
        while t < end {
            let i = hf.rng.random_range(300..2_000);
            hf.net_add(
                t,
                agent.pid,
                "buildkite-agent",
                &s,
                "en0",
                "Established",
                i,
                400,
            );
            t = t.add_secs(5);
        }
    }
    let mut t = start;
    while t < end {
        let (_, curl) = hf.fork_exec(
            t,
            &agent,
            "/usr/bin/curl",
            &[
                "curl",
                "-fsS",
                "-o",
                "/dev/null",
                "http://10.0.4.12:8080/healthz",
            ],
            Signer::platform("com.apple.curl"),
        );
        let life = ms(hf, 15, 90);
        hf.exit(t.add_nanos(life), &curl, 0);
        let bin = hf.rng.random_range(200..900);
        let bout = hf.rng.random_range(120..300);
        short_tcp_row(
            hf,
            t.add_nanos(2_000_000),
            t.add_nanos(life),
            curl.pid,
            "curl",
            "10.0.4.12:8080",
            bin,
            bout,
        );
        t = t.add_nanos(ms(hf, 800, 1_300));
    }
    act(&agent, start, end)
}

/// mdmclient (platform LaunchDaemon) checks in with the MDM server every `every_s` seconds (± 20%) for
/// `span_s` seconds: a short job, one tcp connection of a few KB in nettop and its connection summary
/// in the unified log. Subject: the first mdmclient.
pub fn mdm_checkin(hf: &mut HostFiles, start: Ts, span_s: i64, every_s: i64) -> Act {
    let path = "/usr/libexec/mdmclient";
    let end = start.add_secs(span_s);
    let mut first: Option<Proc> = None;
    let mut t = start;
    let mut last_end = start;
    while t < end {
        let job = hf.spawn_job(
            t,
            None,
            path,
            &[path, "daemon"],
            Signer::platform("com.apple.mdmclient"),
            0,
            0,
            None,
        );
        let life = ms(hf, 1_500, 6_000);
        let t_conn = t.add_nanos(ms(hf, 100, 400));
        let t_exit = t.add_nanos(life);
        hf.nettop_capture(t.add_secs(-2), t_exit.add_secs(2), 1);
        let local = hf.local_endpoint();
        let bin = hf.rng.random_range(3_000..20_000);
        let bout = hf.rng.random_range(1_500..6_000);
        if hf.files().nettop {
            let sock = format!("tcp4 {local}<->40.83.21.7:443");
            hf.net_add(
                t_conn,
                job.pid,
                "mdmclient",
                &sock,
                "en0",
                "Established",
                bin,
                bout,
            );
            hf.net_remove(t_exit, job.pid);
        }
        let d = (t_exit.0 - t_conn.0) as f64 / 1e9;
        hf.summary(
            t_exit.add_nanos(-5_000_000),
            job.pid,
            path,
            0,
            "tcp",
            &local,
            "Hostname#2c81d9e4:443",
            d,
            bin,
            bout,
            bin / 1_200 + 4,
            bout / 500 + 5,
        );
        hf.exit(t_exit, &job, 0);
        last_end = t_exit;
        first.get_or_insert(job);
        let jitter = every_s / 5;
        t = t.add_secs(every_s + hf.rng.random_range(-jitter..=jitter));
    }
    match first {
        Some(p) => act(&p, start, last_end),
        None => Act {
            subject_pid: None,
            subject_path: Some(path.into()),
            start,
            end: start,
        },
    }
}

/// A daily upload: a LaunchAgent runs IBM Aspera's `ascp` (Developer ID), which sends `bytes_per_s`
/// (about 20 MB/s) over its UDP transport (FASP, port 33001) for `secs` seconds; nettop shows the `udp4`
/// socket. Hot by the absolute byte threshold every time it runs: routine for the host that does it
/// every day, which only a learned (and reviewed) baseline can tell. Subject: the ascp.
pub fn aspera_upload(hf: &mut HostFiles, start: Ts, secs: f64, bytes_per_s: u64) -> Act {
    let end = start.add_nanos(secs_f(secs));
    hf.background(start.add_secs(-60), end.add_secs(20));
    hf.nettop_capture(start.add_secs(-20), end.add_secs(10), 1);
    let path = "/Applications/IBM Aspera Connect.app/Contents/Resources/ascp";
    let (_, user) = hf.user();
    let file = format!("/Users/{user}/Exports/daily-export.tar");
    let ascp = hf.user_job(
        start.add_nanos(-400_000_000),
        path,
        &[
            "ascp",
            "-QT",
            "-l",
            "200m",
            "-P",
            "33001",
            &file,
            "xfer@upload.example.com:/incoming",
        ],
        Signer::developer("com.ibm.aspera.ascp", "ASPERA0001"),
    );
    let sock = format!("udp4 {}<->203.0.113.50:33001", hf.local_endpoint());
    let mut t = hf.frame_at_or_after(start).add_nanos(-NANOS_PER_SEC / 2);
    while t < end {
        let out = hf
            .rng
            .random_range(bytes_per_s * 97 / 100..=bytes_per_s * 103 / 100);
        hf.net_add(t, ascp.pid, "ascp", &sock, "en0", "", out / 200, out);
        t = t.add_secs(1);
    }
    hf.net_remove(end.add_nanos(300_000_000), ascp.pid);
    hf.exit(end.add_nanos(300_000_000), &ascp, 0);
    act(&ascp, start, end)
}
