//! Lab activity for network-level findings and the coverage self-test: an hping3 SYN flood run from a
//! Terminal (to be paired with a Zeek log of the same flood, [`crate::zeek::syn_flood`]), and the
//! bounded self-test commands `floodwatch coverage --selftest-plan` prints, with the telemetry they leave.
//! The command lines come from the caller (the plan's own builders), so the simulated runs are exactly
//! the planned ones.

use crate::eslogger::{Proc, Signer};
use crate::families::Act;
use crate::host::HostFiles;
use crate::scenario::{secs_f, short_tcp_row, terminal_shell};
use floodwatch_core::time::NANOS_PER_SEC;
use floodwatch_core::Ts;
use rand::Rng;

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// `sudo CMD...` from `zsh`, then sudo's child execs `path` with `argv` as root (uid and euid 0).
/// Returns (sudo, the tool).
fn sudo_exec(
    hf: &mut HostFiles,
    t: Ts,
    zsh: &Proc,
    path: &str,
    argv: &[String],
    signer: Signer,
) -> (Proc, Proc) {
    let mut sudo_args = vec!["sudo".to_string()];
    sudo_args.extend(argv.iter().cloned());
    let (_, mut sudo) = hf.fork_exec(
        t,
        zsh,
        "/usr/bin/sudo",
        &strs(&sudo_args),
        Signer::platform("com.apple.sudo"),
    );
    sudo.euid = 0;
    let t2 = t.add_nanos(40_000_000);
    let pid = hf.pid();
    let pv = hf.pidversion();
    let child = sudo.fork_child(pid, pv, t2);
    hf.fork(t2, &sudo, &child);
    let mut tool = child.exec_image(path, &strs(argv), signer);
    tool.uid = 0;
    tool.euid = 0;
    tool.gid = 0;
    hf.exec(t2.add_nanos(900_000), &child, &tool);
    (sudo, tool)
}

/// An admin in Terminal (`-zsh` on ttys002) runs `sudo hping3 -S --flood TARGET` (Homebrew, ad hoc
/// signed, root) for `secs` seconds. hping3 injects through BPF, so nettop and the unified log never
/// show it; with `traffic`, the host's nettop and unified log nevertheless carry its connection to
/// `TARGET:80` (what a source attributing raw packets to pids would give), so a network finding can be
/// joined by destination. Subject: the hping3.
pub fn hping3_syn_flood(
    hf: &mut HostFiles,
    start: Ts,
    secs: f64,
    target: &str,
    traffic: bool,
) -> Act {
    let end = start.add_nanos(secs_f(secs));
    hf.around(start, end, 20);
    let (_, user) = hf.user();
    hf.session(start.add_secs(-70), "lw_session_unlock", &user);
    hf.log_unlock(start.add_secs(-70));
    let (_, zsh) = terminal_shell(hf, start.add_secs(-60), "/dev/ttys002");
    let argv: Vec<String> = ["hping3", "-S", "--flood", target]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let (sudo, hping) = sudo_exec(
        hf,
        start.add_nanos(-900_000_000),
        &zsh,
        "/opt/homebrew/Cellar/hping/3.20051105/sbin/hping3",
        &argv,
        Signer::adhoc("hping3"),
    );
    if traffic {
        let sock = format!("tcp4 {}<->{target}:80", hf.local_endpoint());
        let mut t = hf.frame_at_or_after(start).add_nanos(-NANOS_PER_SEC / 2);
        while t < end {
            let out = hf.rng.random_range(700_000..900_000);
            hf.net_add(t, hping.pid, "hping3", &sock, "en0", "SynSent", 0, out);
            t = t.add_secs(1);
        }
        hf.net_remove(end.add_nanos(200_000_000), hping.pid);
        let local = hf.local_endpoint();
        let pk = (secs * 20_000.0) as u64;
        hf.summary(
            end,
            hping.pid,
            &hping.path,
            0,
            "tcp",
            &local,
            &format!("{target}:80"),
            secs,
            0,
            pk * 40,
            0,
            pk,
        );
    }
    hf.exit(end, &hping, 2);
    hf.exit(end.add_nanos(3_000_000), &sudo, 0);
    Act {
        subject_pid: Some(hping.pid),
        subject_path: Some(hping.path.clone()),
        start,
        end,
    }
}

/// The self-test's command lines, as the plan prints them (argv after the shell has expanded them).
#[derive(Clone, Debug)]
pub struct SelftestArgv {
    pub target: String,
    /// `ping -c N -i 0.01 -t T TARGET`, run under sudo; runs `ping_secs`.
    pub ping: Vec<String>,
    pub ping_secs: f64,
    /// `/bin/sh -c 'for i in ...; do curl ...; sleep ...; done'`.
    pub loop_sh: Vec<String>,
    /// Each curl the loop runs, in order, and the `sleep` argv between them.
    pub curls: Vec<Vec<String>>,
    pub sleep: Vec<String>,
    /// `python3 -c '...'`: `udp_datagrams` datagrams of `udp_payload` bytes to TARGET:`udp_port`
    /// over `udp_secs`.
    pub python: Vec<String>,
    pub udp_datagrams: u64,
    pub udp_payload: u64,
    pub udp_port: u16,
    pub udp_secs: f64,
}

/// What the self-test runs left: when each step ran and which pids did it.
#[derive(Clone, Debug)]
pub struct SelftestTruth {
    pub ping_pid: i32,
    pub loop_pid: i32,
    pub python_pid: i32,
    pub start: Ts,
    pub end: Ts,
}

/// Runs the three self-test steps one after the other from a Terminal `-zsh` (ttys005), from `start`:
/// the root ping (ICMP: no nettop row), the curl loop (a `/bin/sh -c` loop; each curl shows in nettop
/// while it lives), the python UDP burst (one udp4 socket in nettop). Returns the pids and span.
pub fn selftest_runs(hf: &mut HostFiles, start: Ts, a: &SelftestArgv) -> SelftestTruth {
    let (_, user) = hf.user();
    hf.session(start.add_secs(-50), "lw_session_unlock", &user);
    hf.log_unlock(start.add_secs(-50));
    let (_, zsh) = terminal_shell(hf, start.add_secs(-40), "/dev/ttys005");

    // 1. sudo ping: two seconds of ICMP, no nettop row.
    let (sudo, ping) = sudo_exec(
        hf,
        start,
        &zsh,
        "/sbin/ping",
        &a.ping,
        Signer::platform("com.apple.ping"),
    );
    let ping_end = start.add_nanos(secs_f(a.ping_secs));
    hf.exit(ping_end, &ping, 0);
    hf.exit(ping_end.add_nanos(2_000_000), &sudo, 0);

    // 2. The curl loop, a few seconds later.
    let t_loop = ping_end.add_secs(3);
    let (_, sh) = hf.fork_exec(
        t_loop,
        &zsh,
        "/bin/sh",
        &strs(&a.loop_sh),
        Signer::platform("com.apple.sh"),
    );
    let mut t = t_loop.add_nanos(5_000_000);
    let remote = format!("{}:80", a.target);
    for argv in &a.curls {
        let (_, curl) = hf.fork_exec(
            t,
            &sh,
            "/usr/bin/curl",
            &strs(argv),
            Signer::platform("com.apple.curl"),
        );
        let t_exit = t.add_nanos(hf.rng.random_range(20_000_000..40_000_000));
        hf.exit(t_exit, &curl, 0);
        let bin = hf.rng.random_range(300..900);
        let bout = hf.rng.random_range(150..260);
        short_tcp_row(
            hf,
            t.add_nanos(2_000_000),
            t_exit,
            curl.pid,
            "curl",
            &remote,
            bin,
            bout,
        );
        let (_, sleep) = hf.fork_exec(
            t_exit.add_nanos(500_000),
            &sh,
            "/bin/sleep",
            &strs(&a.sleep),
            Signer::platform("com.apple.sleep"),
        );
        let t_next = t_exit.add_nanos(52_000_000);
        hf.exit(t_next, &sleep, 0);
        t = t_next.add_nanos(1_000_000);
    }
    let loop_end = t;
    hf.exit(loop_end, &sh, 0);

    // 3. The python UDP burst.
    let t_py = loop_end.add_secs(3);
    let (_, py) = hf.fork_exec(
        t_py,
        &zsh,
        "/usr/bin/python3",
        &strs(&a.python),
        Signer::platform("com.apple.python3"),
    );
    let py_end = t_py.add_nanos(secs_f(a.udp_secs));
    let sock = format!("udp4 {}<->{}:{}", hf.local_endpoint(), a.target, a.udp_port);
    let per_s = (a.udp_datagrams as f64 / a.udp_secs.max(0.1)) as u64;
    let mut tf = hf.frame_at_or_after(t_py).add_nanos(-NANOS_PER_SEC / 2);
    while tf < py_end {
        hf.net_add(
            tf,
            py.pid,
            "python3",
            &sock,
            "en0",
            "",
            0,
            per_s * a.udp_payload,
        );
        tf = tf.add_secs(1);
    }
    hf.net_remove(py_end.add_nanos(100_000_000), py.pid);
    hf.exit(py_end, &py, 0);
    let end = py_end.add_secs(1);
    hf.around(start, end, 20);
    SelftestTruth {
        ping_pid: ping.pid,
        loop_pid: sh.pid,
        python_pid: py.pid,
        start,
        end,
    }
}
