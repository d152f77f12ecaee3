//! Containment options, least disruptive first, with the macOS commands filled in from the alert, and
//! which one the decision points recommend first.

use crate::decide::Decided;
use crate::owned::Ownership;
use crate::shell::quote;
use floodwatch_core::alert::ProcessView;
use floodwatch_core::config::Config;
use floodwatch_core::event::split_endpoint;
use floodwatch_core::net::{addr_of, parse_cidr};
use floodwatch_core::respond::{Answer, Containment};
use floodwatch_core::time::civil_parts;
use floodwatch_core::Ts;

/// What containment is built from besides the decision points.
pub struct Subject<'a> {
    pub host: &'a str,
    pub process: Option<&'a ProcessView>,
    /// `launchd_daemon`, `launchd_agent`, `cron`, ... (empty when unknown).
    pub launched_by: &'a str,
    /// The script the subject runs, else its executable: what a launch job's plist names.
    pub program: Option<&'a str>,
    /// The subject ran tools of its own (a loop): stopping it means its children too.
    pub group: bool,
    pub uid: Option<u32>,
    /// The suppression owner, when one documents it.
    pub owner: Option<&'a str>,
}

/// The options, in order of disruption, and the id of the one to take first with why.
pub fn containment(
    d: &Decided,
    s: &Subject,
    cfg: &Config,
) -> (Vec<Containment>, &'static str, String) {
    let dest = d.destination.as_deref();
    let launchd = s.launched_by.starts_with("launchd");
    let opts = vec![
        confirm_owner(d, s),
        stop_process(d, s),
        unload_job(s, launchd),
        block_destination(dest, &d.owned),
        Containment {
            id: "isolate_host".into(),
            title: format!("Isolate {} from the network", s.host),
            disruption: 5,
            when: "untrusted code flooding an outside target with nobody at the keyboard (a compromised Mac), or the steps above did not stop it".into(),
            commands: Vec::new(),
            applicable: true,
            note: Some(format!(
                "through {}: network isolation that keeps the Mac running, so memory and state survive for collection",
                cfg.respond.isolation_tool
            )),
        },
    ];
    let (first, why) = recommend(d, s, launchd);
    (opts, first, why)
}

/// The decision points pick the first step: the least disruptive one that is enough.
fn recommend(d: &Decided, s: &Subject, launchd: bool) -> (&'static str, String) {
    let compromised =
        d.trusted == Answer::No && d.present == Answer::No && d.owned.answer == Answer::No;
    if compromised {
        return (
            "isolate_host",
            "untrusted code is sending to an address outside the organization with nobody at the keyboard: treat the Mac as compromised and isolate it, keeping its state for collection".into(),
        );
    }
    if d.documented == Answer::Yes {
        return (
            "confirm_owner",
            format!(
                "it is documented automation{}: confirm the rate with its owner before containing it; stop it if the owner does not recognise this rate",
                s.owner.map(|o| format!(" (owner {o})")).unwrap_or_default()
            ),
        );
    }
    let has_pid = s.process.is_some_and(|p| p.pid > 0);
    if d.running != Answer::No && has_pid {
        if launchd {
            return (
                "unload_job",
                "launchd started it: stopping the process alone lets launchd start it again, so unload its job (which stops it)".into(),
            );
        }
        return (
            "stop_process",
            match d.running {
                Answer::Yes => "it is still running: stopping the process ends the flood with the least disruption".into(),
                _ => "it may still be running (the telemetry shows no exits): stop the process if it is, checking its start time first".into(),
            },
        );
    }
    if launchd && has_pid {
        return (
            "unload_job",
            "the process exited, but launchd started it and will start it again: unload its job"
                .into(),
        );
    }
    if d.destination.is_some() && d.owned.answer != Answer::Yes {
        return (
            "block_destination",
            if has_pid {
                "the process exited: block the destination so a rerun cannot reach it, and find what started it".into()
            } else {
                "no process is known behind this traffic: block the destination at the host, then find the sender".into()
            },
        );
    }
    (
        "confirm_owner",
        "the flood has stopped and its destination is the organization's own: confirm with the host's user or owner what ran, and collect the evidence".into(),
    )
}

fn confirm_owner(d: &Decided, s: &Subject) -> Containment {
    Containment {
        id: "confirm_owner".into(),
        title: match s.owner {
            Some(o) => format!("Confirm with {o}, the documented owner"),
            None => format!("Confirm with the user or owner of {}", s.host),
        },
        disruption: 1,
        when: "documented automation, or a person at the keyboard who can explain it; nothing is stopped".into(),
        commands: Vec::new(),
        applicable: true,
        note: (d.documented != Answer::Yes && d.present != Answer::Yes)
            .then(|| "nothing documents it and nobody was at the keyboard: confirmation alone is not containment".into()),
    }
}

fn stop_process(d: &Decided, s: &Subject) -> Containment {
    let mut c = Containment {
        id: "stop_process".into(),
        title: "Stop the process".into(),
        disruption: 2,
        when: "it is still running and nothing restarts it (not a launchd job)".into(),
        commands: Vec::new(),
        applicable: false,
        note: None,
    };
    let Some(p) = s.process.filter(|p| p.pid > 0) else {
        c.note = Some("no process is known behind it".into());
        return c;
    };
    c.title = format!("Stop the process (pid {})", p.pid);
    let pid = p.pid;
    // The pid alone may name another process by now: check the start time (as `ps` prints it in
    // UTC and the C locale) before signalling.
    match p.start_time.map(lstart) {
        Some(started) => {
            let guard = format!(
                "[ \"$(TZ=UTC LC_ALL=C ps -p {pid} -o lstart=)\" = {} ]",
                quote(&started)
            );
            c.commands.push(format!(
                "TZ=UTC LC_ALL=C ps -p {pid} -o pid=,lstart=,command="
            ));
            if s.group {
                c.commands.push(format!(
                    "{guard} && sudo kill -STOP {pid} && sudo pkill -TERM -P {pid} && sudo kill -TERM {pid} && sudo kill -CONT {pid}"
                ));
            } else {
                c.commands.push(format!("{guard} && sudo kill -TERM {pid}"));
            }
        }
        None => {
            c.commands
                .push(format!("ps -p {pid} -o pid=,lstart=,command="));
            c.commands.push(format!("sudo kill -TERM {pid}"));
            c.note = Some("the telemetry gave no start time: check with ps that the command line matches before killing (the pid may have been reused)".into());
        }
    }
    match d.running {
        Answer::No => {
            c.note = Some(format!(
                "pid {pid} already exited: nothing to stop (a rerun has a new pid)"
            ));
        }
        _ => c.applicable = true,
    }
    c
}

fn unload_job(s: &Subject, launchd: bool) -> Containment {
    let mut c = Containment {
        id: "unload_job".into(),
        title: "Unload its launchd job".into(),
        disruption: 3,
        when:
            "launchd started it (a LaunchDaemon or LaunchAgent would start it again after a kill)"
                .into(),
        commands: Vec::new(),
        applicable: false,
        note: None,
    };
    let program = s.program.unwrap_or("");
    if !launchd {
        if s.launched_by == "cron" {
            let user = match s.uid {
                Some(0) | None => "root".to_string(),
                Some(u) => format!("$(id -un {u})"),
            };
            c.title = "Remove its crontab entry".into();
            c.commands.push(format!("sudo crontab -l -u {user}"));
            if !program.is_empty() {
                c.commands.push(format!(
                    "sudo crontab -l -u {user} | grep -nF -- {}",
                    quote(program)
                ));
            }
            c.applicable = true;
            c.note = Some("cron started it: edit the entry out with `sudo crontab -e -u USER` after collecting it".into());
        } else {
            c.note = Some(
                format!(
                    "not started by launchd (launched by {})",
                    if s.launched_by.is_empty() {
                        "unknown"
                    } else {
                        s.launched_by
                    }
                )
                .replace('_', " "),
            );
        }
        return c;
    }
    // The agent's GUI domain: its user's, else the console user's (a LaunchAgent runs as them).
    let gui = match s.uid {
        Some(u) if u != 0 => format!("gui/{u}"),
        _ => "gui/$(stat -f %u /dev/console)".into(),
    };
    // The telemetry does not name the plist: find the job whose plist names the program, in every
    // launchd folder (the uid a job runs as does not say which folder holds it), and boot it out of
    // the domain its folder implies.
    if !program.is_empty() {
        let find = format!(
            "sudo grep -lF -- {} /Library/LaunchDaemons/*.plist /Library/LaunchAgents/*.plist /Users/*/Library/LaunchAgents/*.plist 2>/dev/null",
            quote(program)
        );
        c.commands.push(find.clone());
        c.commands.push(format!(
            "plist=$({find} | head -n 1) && [ -n \"$plist\" ] && case \"$plist\" in /Library/LaunchDaemons/*) sudo launchctl bootout system \"$plist\" ;; *) sudo launchctl bootout {gui} \"$plist\" ;; esac"
        ));
    }
    if let Some(p) = s.process.filter(|p| p.pid > 0) {
        c.commands
            .push(format!("sudo launchctl procinfo {} | head -n 40", p.pid));
    }
    c.applicable = true;
    c.note = Some("the telemetry does not carry the plist path: the first command finds the job whose plist names the program".into());
    c
}

pub(crate) fn block_destination(dest: Option<&str>, owned: &Ownership) -> Containment {
    let mut c = Containment {
        id: "block_destination".into(),
        title: "Block the destination on this Mac".into(),
        disruption: 4,
        when: "the process exited or cannot be stopped, or the destination is outside the organization and nothing on this Mac needs it".into(),
        commands: Vec::new(),
        applicable: false,
        note: None,
    };
    let Some(dest) = dest else {
        c.note = Some("no destination was seen".into());
        return c;
    };
    // pf accepts an address, a network, or a plain host name: anything else is not written into a rule.
    let target = if let Some(ip) = addr_of(dest) {
        Some(ip.to_string())
    } else if parse_cidr(dest).is_some() && dest.contains('/') {
        Some(dest.to_string())
    } else {
        let (h, _) = split_endpoint(dest);
        (!h.is_empty()
            && h.len() <= 253
            && h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-'))
        .then(|| h.to_string())
    };
    let Some(target) = target else {
        c.note = Some("the destination is not an address or host name pf can block".into());
        return c;
    };
    c.title = format!("Block {target} on this Mac");
    // Rules in an anchor under com.apple/ are loaded by macOS's default /etc/pf.conf.
    let rule = quote(&format!("block drop out quick to {target}"));
    c.commands.push(format!(
        "echo {rule} | sudo pfctl -a com.apple/floodwatch -f - && sudo pfctl -E"
    ));
    c.commands
        .push("sudo pfctl -a com.apple/floodwatch -s rules".into());
    c.commands
        .push("sudo pfctl -a com.apple/floodwatch -F rules   # undo".into());
    c.applicable = true;
    if owned.answer == Answer::Yes {
        c.note = Some(format!(
            "the destination is the organization's own{}: blocking cuts this Mac off from it",
            owned
                .service
                .as_deref()
                .map(|s| format!(" ({s})"))
                .unwrap_or_default()
        ));
    }
    c
}

/// A time as macOS `ps -o lstart` prints it in UTC and the C locale: `Tue Sep 16 03:11:58 2025`.
pub fn lstart(t: Ts) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (y, mo, d, h, mi, s, _) = civil_parts(t);
    let day = t.secs().div_euclid(86_400).rem_euclid(7) as usize;
    format!(
        "{} {} {:>2} {:02}:{:02}:{:02} {}",
        DAYS[day],
        MONTHS[(mo.clamp(1, 12) - 1) as usize],
        d,
        h,
        mi,
        s,
        y
    )
}

#[cfg(test)]
mod tests {
    use super::lstart;
    use floodwatch_core::Ts;

    #[test]
    fn lstart_matches_ps() {
        // 2025-09-16T03:11:58Z was a Tuesday; 2025-09-06 a Saturday (day padded with a space).
        assert_eq!(
            lstart(Ts::from_secs(1_757_992_318)),
            "Tue Sep 16 03:11:58 2025"
        );
        assert_eq!(
            lstart(Ts::from_secs(1_757_116_800)),
            "Sat Sep  6 00:00:00 2025"
        );
    }
}
