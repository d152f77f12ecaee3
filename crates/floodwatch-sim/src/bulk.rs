//! Bulk telemetry for benchmarks: many hosts, all three formats, mostly eslogger (~80% of the bytes),
//! benign activity with an occasional flood. Streams: each host's timeline is generated and written one
//! minute at a time, so memory stays bounded whatever the size.

use crate::eslogger::{Proc, Signer};
use crate::host::{Files, HostFiles, HostOpts};
use crate::nettop::Columns;
use crate::scenario;
use crate::util::mix;
use floodwatch_core::time::{days_from_civil, NANOS_PER_SEC};
use floodwatch_core::Ts;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::io;
use std::path::Path;

const SLICE_S: i64 = 60;
/// The eslogger share of the bytes the generator aims at.
const ES_SHARE: f64 = 0.8;

/// Writes `hosts` host folders (`mac-0000`, ...) under `dir` totalling about `target_bytes`, each with
/// `eslogger.jsonl`, `nettop.csv` and `unifiedlog.ndjson`. Deterministic for `seed`. Returns the bytes
/// written.
pub fn write_bulk(dir: &Path, hosts: usize, target_bytes: u64, seed: u64) -> io::Result<u64> {
    std::fs::create_dir_all(dir)?;
    let hosts = hosts.max(1);
    let per_host = (target_bytes / hosts as u64).max(1);
    let mut total = 0u64;
    for h in 0..hosts {
        total += write_host(&dir.join(format!("mac-{h:04}")), h, per_host, seed)?;
    }
    Ok(total)
}

struct Shell {
    zsh: Proc,
}

fn write_host(dir: &Path, h: usize, budget: u64, seed: u64) -> io::Result<u64> {
    let hseed = mix(seed ^ (h as u64).wrapping_mul(0x9E37_79B9));
    let mut rng = ChaCha8Rng::seed_from_u64(hseed);
    let offsets = [0, 2 * 3_600, -7 * 3_600, 19_800, -4 * 3_600, 3_600];
    let users = ["bob", "alice", "ci", "dev", "maria", "kim"];
    let opts = HostOpts {
        es_version: [9, 10, 11][h % 3],
        utc_offset_secs: offsets[rng.random_range(0..offsets.len())],
        seed: hseed,
        nettop_columns: if h % 4 == 3 {
            Columns::Default
        } else {
            Columns::Selected
        },
        user: (501, users[h % users.len()].to_string()),
        nettop_interval_s: 1,
    };
    let mut hf = HostFiles::create(dir, Files::ALL, opts)?;
    let start = Ts::from_secs(
        days_from_civil(2025, 9, 15) * 86_400 + 7 * 3_600 + rng.random_range(0..3_600),
    );
    let (uid, user) = hf.user();
    hf.log_login(start.add_secs(5), &user, uid);
    hf.session(start.add_secs(5), "lw_session_login", &user);

    // A few long-lived apps with sockets in nettop.
    let apps: Vec<(i32, &'static str, String, &'static str, u64, u64)> = {
        let names = [
            ("Slack Helper", "tcp4", 443, 900u64, 400u64),
            ("Google Chrome H", "quic4", 443, 8_000, 900),
            ("Dropbox", "tcp4", 443, 2_000, 6_000),
            ("zoom.us", "udp4", 8801, 60_000, 55_000),
            ("Microsoft Outlook", "tcp4", 443, 1_500, 300),
        ];
        let n = rng.random_range(2..=names.len());
        (0..n)
            .map(|i| {
                let (name, proto, port, i_s, o_s) = names[i];
                let pid = hf.pid();
                hf.reserve_pid(pid);
                let sock = format!(
                    "{proto} {}<->{}.{}.{}.{}:{port}",
                    hf.local_endpoint(),
                    rng.random_range(13..200),
                    rng.random_range(0..255),
                    rng.random_range(0..255),
                    rng.random_range(1..254)
                );
                let state = if proto == "tcp4" { "Established" } else { "" };
                (pid, name, sock, state, i_s, o_s)
            })
            .collect()
    };

    let mut shell: Option<Shell> = None;
    let mut t = start;
    // Estimated eslogger bytes per "activity unit", refined from what was written.
    let mut unit_bytes = 12_000.0f64;
    let flood_at = if rng.random_bool(0.2) {
        Some(rng.random_range(2..40u64))
    } else {
        None
    };
    let mut slice = 0u64;
    loop {
        let (es, nt, ul) = hf.bytes_written();
        if es + nt + ul >= budget {
            break;
        }
        let slice_end = t.add_secs(SLICE_S);
        // Non-eslogger output first (fixed per slice), then as much eslogger activity as keeps the share.
        let every = [1, 2, 5, 10][rng.random_range(0..4)];
        hf.nettop_capture(t, slice_end.add_nanos(-1), every);
        for (pid, name, sock, state, i_s, o_s) in &apps {
            let mut tt = t.add_nanos(500_000_000);
            while tt < slice_end {
                let i = rng.random_range(0..=*i_s * 2) * 5;
                let o = rng.random_range(0..=*o_s * 2) * 5;
                hf.net_add(tt, *pid, name, sock, "en0", state, i, o);
                tt = tt.add_secs(5);
            }
        }
        if rng.random_bool(0.05) {
            let kind = if rng.random_bool(0.5) {
                hf.log_lock(t.add_secs(30));
                "lw_session_lock"
            } else {
                hf.log_unlock(t.add_secs(30));
                "lw_session_unlock"
            };
            hf.session(t.add_secs(30), kind, &user);
        }
        if flood_at == Some(slice) {
            let fstart = t.add_secs(40);
            match rng.random_range(0..5u32) {
                0 => drop(scenario::launchd_curl_loop(&mut hf, fstart, 20.0, 12.0)),
                1 => drop(scenario::cron_root_ping_flood(&mut hf, fstart, 60.0)),
                2 => drop(scenario::python_udp_flood(
                    &mut hf, fstart, 30.0, 20_000_000,
                )),
                3 => drop(scenario::unsigned_binary_unified_log(
                    &mut hf, fstart, 15.0, 50.0,
                )),
                _ => drop(scenario::osascript_curl_loop(&mut hf, fstart, 15.0, 10.0)),
            }
        } else {
            hf.background(t, slice_end);
        }
        let want_es = ((nt + ul) as f64 * ES_SHARE / (1.0 - ES_SHARE) - es as f64).max(0.0);
        let units = ((want_es / unit_bytes).ceil() as u64).clamp(1, 400);
        let before = es;
        for _ in 0..units {
            let at = t.add_nanos(rng.random_range(3 * NANOS_PER_SEC..SLICE_S * NANOS_PER_SEC));
            activity(&mut hf, &mut rng, &mut shell, at);
        }
        hf.flush_until(slice_end)?;
        let (es2, _, _) = hf.bytes_written();
        if es2 > before {
            unit_bytes =
                0.7 * unit_bytes + 0.3 * ((es2 - before) as f64 / units as f64).max(2_000.0);
        }
        t = slice_end;
        slice += 1;
    }
    hf.finish()?;
    let mut total = 0;
    for name in Files::ALL.names() {
        total += std::fs::metadata(dir.join(name))?.len();
    }
    Ok(total)
}

/// One benign unit of process activity at `t`: a shell command, a build step burst, a launchd job,
/// a periodic script.
fn activity(hf: &mut HostFiles, rng: &mut ChaCha8Rng, shell: &mut Option<Shell>, t: Ts) {
    let (uid, user) = hf.user();
    match rng.random_range(0..10u32) {
        0..=4 => {
            let zsh = match shell {
                Some(s) => s.zsh.clone(),
                None => {
                    let z = interactive_shell(hf, t, uid, &user);
                    *shell = Some(Shell { zsh: z.clone() });
                    z
                }
            };
            let cmds: [(&str, &[&str], Signer); 8] = [
                ("/bin/ls", &["ls", "-la"], Signer::platform("com.apple.ls")),
                (
                    "/usr/bin/git",
                    &["git", "status"],
                    Signer::platform("com.apple.git"),
                ),
                (
                    "/usr/bin/grep",
                    &["grep", "-rn", "TODO", "src"],
                    Signer::platform("com.apple.grep"),
                ),
                (
                    "/opt/homebrew/bin/python3.12",
                    &["python3", "manage.py", "test"],
                    Signer::adhoc("python3.12"),
                ),
                (
                    "/usr/bin/curl",
                    &["curl", "-sSL", "https://example.com/status"],
                    Signer::platform("com.apple.curl"),
                ),
                (
                    "/sbin/ping",
                    &["ping", "-c", "4", "10.0.0.1"],
                    Signer::platform("com.apple.ping"),
                ),
                (
                    "/usr/bin/ssh",
                    &["ssh", "build@10.0.0.4"],
                    Signer::platform("com.apple.ssh"),
                ),
                (
                    "/Applications/Visual Studio Code.app/Contents/Resources/app/bin/code",
                    &["code", "."],
                    Signer::developer("com.microsoft.VSCode", "UBF8T346G9"),
                ),
            ];
            let (path, args, signer) = cmds[rng.random_range(0..cmds.len())].clone();
            let (_, p) = hf.fork_exec(t, &zsh, path, args, signer);
            let life = rng.random_range(20_000_000..8_000_000_000i64);
            hf.exit(t.add_nanos(life), &p, 0);
        }
        5..=7 => {
            // A build step: make → several compiler invocations.
            let mut make = hf.spawn_job(
                t,
                None,
                "/bin/bash",
                &["/bin/bash", "/Users/Shared/ci/build.sh"],
                Signer::platform("com.apple.bash"),
                uid,
                20,
                Some(uid),
            );
            make.cwd = format!("/Users/{user}/src/app");
            let n = rng.random_range(2..8);
            let mut tt = t.add_nanos(20_000_000);
            for i in 0..n {
                let file = format!("src/mod{i}.c");
                let (_, cc) = hf.fork_exec(
                    tt,
                    &make,
                    "/usr/bin/clang",
                    &["clang", "-O2", "-c", &file, "-o", "build/mod.o"],
                    Signer::platform("com.apple.clang"),
                );
                let d = rng.random_range(80_000_000..900_000_000i64);
                hf.exit(tt.add_nanos(d), &cc, 0);
                tt = tt.add_nanos(d + rng.random_range(1_000_000..20_000_000));
            }
            hf.exit(tt.add_nanos(5_000_000), &make, 0);
        }
        8 => {
            let path = "/usr/libexec/periodic-wrapper";
            let job = hf.spawn_job(
                t,
                None,
                path,
                &[path, "daily"],
                Signer::platform("com.apple.periodic-wrapper"),
                0,
                0,
                None,
            );
            let (_, sh) = hf.fork_exec(
                t.add_nanos(30_000_000),
                &job,
                "/bin/sh",
                &["/bin/sh", "/etc/periodic/daily/110.clean-tmps"],
                Signer::platform("com.apple.sh"),
            );
            hf.exit(t.add_nanos(900_000_000), &sh, 0);
            hf.exit(t.add_nanos(950_000_000), &job, 0);
        }
        _ => {
            let path = "/System/Library/PrivateFrameworks/SoftwareUpdate.framework/Resources/softwareupdated";
            let job = hf.spawn_job(
                t,
                None,
                path,
                &[path],
                Signer::platform("com.apple.softwareupdated"),
                200,
                200,
                None,
            );
            hf.exit(t.add_secs(rng.random_range(5..50)), &job, 0);
        }
    }
}

fn interactive_shell(hf: &mut HostFiles, t: Ts, uid: u32, user: &str) -> Proc {
    let term = hf.spawn_job(
        t.add_secs(-2),
        None,
        "/System/Applications/Utilities/Terminal.app/Contents/MacOS/Terminal",
        &["/System/Applications/Utilities/Terminal.app/Contents/MacOS/Terminal"],
        Signer::platform("com.apple.Terminal"),
        uid,
        20,
        Some(uid),
    );
    let tty = "/dev/ttys000".to_string();
    let zpid = hf.pid();
    let pv = hf.pidversion();
    let mut child = term.fork_child(zpid, pv, t.add_secs(-1));
    hf.fork(t.add_secs(-1), &term, &child);
    child.tty = Some(tty);
    child.session_id = zpid;
    let mut zsh = child.exec_image("/bin/zsh", &["-zsh"], Signer::platform("com.apple.zsh"));
    zsh.cwd = format!("/Users/{user}");
    hf.exec(t.add_nanos(-990_000_000), &child, &zsh);
    zsh
}
