//! Context: how a subject was launched and whether anyone is at the keyboard.
//! AN0971 singles out floods "with no UI context or user interaction": a process with no TTY, started by
//! launchd, cron or osascript, or running while the screen is locked. Context ranks; it never alerts alone.

use crate::process::{basename, Proc, ProcId, ProcessTable};
use crate::scope::Scope;
use floodwatch_core::event::{Session, SessionKind, SignatureClass, Tty};
use floodwatch_core::Ts;

#[derive(Clone, Copy, Debug, PartialEq, Eq, bitcode::Encode, bitcode::Decode)]
pub enum LaunchedBy {
    LaunchdDaemon,
    LaunchdAgent,
    Cron,
    Osascript,
    Terminal,
    Ssh,
    App,
    Unknown,
}

impl LaunchedBy {
    pub fn as_str(self) -> &'static str {
        match self {
            LaunchedBy::LaunchdDaemon => "launchd_daemon",
            LaunchedBy::LaunchdAgent => "launchd_agent",
            LaunchedBy::Cron => "cron",
            LaunchedBy::Osascript => "osascript",
            LaunchedBy::Terminal => "terminal",
            LaunchedBy::Ssh => "ssh",
            LaunchedBy::App => "app",
            LaunchedBy::Unknown => "unknown",
        }
    }
}

/// Per-host session and UI state, fed by session events in time order.
#[derive(Clone, Debug, Default, bitcode::Encode, bitcode::Decode)]
pub struct SessionState {
    pub locked_since: Option<Ts>,
    pub logged_out_since: Option<Ts>,
    pub asleep_since: Option<Ts>,
    pub ssh_sessions: u32,
    pub screen_sharing: u32,
    pub seen_any: bool,
}

impl SessionState {
    pub fn apply(&mut self, s: &Session, ts: Ts) {
        self.seen_any = true;
        match s.kind {
            SessionKind::Lock => self.locked_since = Some(ts),
            SessionKind::Unlock => self.locked_since = None,
            SessionKind::Login | SessionKind::UserPresent => self.logged_out_since = None,
            SessionKind::Logout => self.logged_out_since = Some(ts),
            SessionKind::Sleep => self.asleep_since = Some(ts),
            SessionKind::Wake => self.asleep_since = None,
            SessionKind::SshLogin => self.ssh_sessions += 1,
            SessionKind::SshLogout => self.ssh_sessions = self.ssh_sessions.saturating_sub(1),
            SessionKind::ScreenShareStart => self.screen_sharing += 1,
            SessionKind::ScreenShareEnd => {
                self.screen_sharing = self.screen_sharing.saturating_sub(1)
            }
        }
    }

    /// Screen locked or user logged out: nobody is interacting with the console.
    pub fn away(&self) -> Option<(&'static str, Ts)> {
        if let Some(t) = self.logged_out_since {
            return Some(("logged out", t));
        }
        self.locked_since.map(|t| ("screen locked", t))
    }

    pub fn describe(&self) -> String {
        if !self.seen_any {
            return "unknown (no session events)".into();
        }
        let mut parts = Vec::new();
        match self.away() {
            Some((what, t)) => parts.push(format!("{what} since {}", t.hms())),
            None => parts.push("console unlocked".into()),
        }
        if self.ssh_sessions > 0 {
            parts.push(format!("{} ssh session(s)", self.ssh_sessions));
        }
        if self.screen_sharing > 0 {
            parts.push("screen sharing active".into());
        }
        parts.join(", ")
    }
}

#[derive(Clone, Debug, bitcode::Encode, bitcode::Decode)]
pub struct Context {
    pub launched_by: LaunchedBy,
    /// launchd → ... → subject, as display text.
    pub chain: String,
    pub tty: Option<String>,
    /// Whether the source could tell the TTY at all (eslogger can, nettop cannot).
    pub tty_known: bool,
    pub responsible: Option<String>,
    /// Someone at this Mac's keyboard: a TTY from a local terminal (or a TTY whose launcher is
    /// unknown). A TTY that comes through sshd is not this: see `remote_session`.
    pub interactive: bool,
    /// A TTY that comes through sshd: "remote session via sshd-session (tty ttys003)". Someone typed
    /// it, but in a remote login, not at the console.
    pub remote_session: Option<String>,
    pub unattended: bool,
    pub away: Option<String>,
    pub root: bool,
    pub signature: SignatureClass,
    pub suspicious_path: Option<String>,
    pub session: String,
}

/// `subject` is the group root; `member` the process that did the work (may equal the root).
pub fn classify(
    table: &ProcessTable,
    scope: &Scope,
    subject: ProcId,
    member: ProcId,
    session: &SessionState,
) -> Context {
    let root = table.get(subject);
    let mem = table.get(member).or(root);
    let lineage = lineage(table, subject, member);
    let (tty, tty_known) = tty(table, subject, member);
    let responsible = responsible(table, mem);
    let top = lineage.last().and_then(|id| table.get(*id));
    let top_ppid_is_launchd = top.is_some_and(|p| p.info.ppid == Some(1) || p.info.pid == 1);
    let launched_by = launched_by(
        table,
        scope,
        &lineage,
        responsible.as_deref(),
        top.filter(|_| top_ppid_is_launchd),
    );

    // A TTY through sshd is a remote login: attended (someone typed it) but not at the keyboard, so
    // neither the local console's interactive discount nor "unattended"; a locked console says
    // nothing about whether the ssh user is there. sshd without a TTY (`ssh host cmd`) stays
    // unattended by the no-TTY rule.
    let remote_session = match (&tty, launched_by) {
        (Some(t), LaunchedBy::Ssh) => Some(format!(
            "remote session via {} (tty {})",
            sshd_name(table, &lineage),
            t.strip_prefix("/dev/").unwrap_or(t)
        )),
        _ => None,
    };
    let interactive =
        tty.is_some() && matches!(launched_by, LaunchedBy::Terminal | LaunchedBy::Unknown);
    let away = session
        .away()
        .map(|(w, t)| format!("{w} since {}", t.hms()));
    let scheduled = matches!(
        launched_by,
        LaunchedBy::LaunchdDaemon
            | LaunchedBy::LaunchdAgent
            | LaunchedBy::Cron
            | LaunchedBy::Osascript
    );
    let unattended = remote_session.is_none()
        && ((!interactive && (scheduled || (tty_known && tty.is_none()))) || away.is_some());

    let chain = display_chain(table, &lineage, top_ppid_is_launchd);
    let info = mem.map(|p| &p.info);
    let root_user =
        info.is_some_and(|i| i.euid == Some(0)) || root.is_some_and(|p| p.info.euid == Some(0));
    let signature = info
        .map(|i| i.signing.class())
        .unwrap_or(SignatureClass::Unknown);
    Context {
        launched_by,
        chain,
        tty,
        tty_known,
        responsible,
        interactive,
        remote_session,
        unattended,
        away,
        root: root_user,
        signature,
        suspicious_path: suspicious_path(table, scope, &lineage),
        session: session.describe(),
    }
}

/// The sshd in the lineage, by name (`sshd`, `sshd-session` on macOS 15 and later).
fn sshd_name(table: &ProcessTable, lineage: &[ProcId]) -> String {
    lineage
        .iter()
        .filter_map(|id| table.get(*id))
        .filter_map(|p| Scope::name_of(&p.info))
        .find(|n| n.starts_with("sshd"))
        .unwrap_or("sshd")
        .to_string()
}

/// The member, its ancestors up to the subject, and the subject's ancestors: nearest first.
fn lineage(table: &ProcessTable, subject: ProcId, member: ProcId) -> Vec<ProcId> {
    let mut lineage: Vec<ProcId> = vec![member];
    if member != subject {
        for a in table.ancestors(member) {
            lineage.push(a);
            if a == subject {
                break;
            }
        }
    }
    lineage.extend(table.ancestors(subject));
    lineage
}

/// The member's TTY, else the subject's (fork children inherit it), and whether any source could
/// tell at all.
fn tty(table: &ProcessTable, subject: ProcId, member: ProcId) -> (Option<String>, bool) {
    let tty_of = |id: ProcId| {
        table
            .get(id)
            .map(|p| p.info.tty.clone())
            .unwrap_or_default()
    };
    match (tty_of(member), tty_of(subject)) {
        (Tty::Some(t), _) | (_, Tty::Some(t)) => (Some(t), true),
        (Tty::None, _) | (_, Tty::None) => (None, true),
        _ => (None, false),
    }
}

/// The path of the member's responsible process (the app or terminal macOS holds responsible).
fn responsible(table: &ProcessTable, mem: Option<&Proc>) -> Option<String> {
    mem.and_then(|p| p.info.responsible_pid)
        .filter(|&rp| Some(rp) != mem.map(|p| p.info.pid))
        .and_then(|rp| {
            let t = mem.map(|p| p.first_seen).unwrap_or_default();
            table.alive_at(rp, t, i64::MAX / 4)
        })
        .and_then(|id| table.get(id))
        .and_then(|p| p.info.path.as_deref().map(str::to_string))
}

/// How the lineage was started: cron, ssh, a terminal, osascript, else by what launchd started
/// (`launchd_child`: the top of the lineage, when its parent is launchd), else the responsible app.
fn launched_by(
    table: &ProcessTable,
    scope: &Scope,
    lineage: &[ProcId],
    responsible: Option<&str>,
    launchd_child: Option<&Proc>,
) -> LaunchedBy {
    let names: Vec<&str> = lineage
        .iter()
        .filter_map(|id| table.get(*id))
        .filter_map(|p| Scope::name_of(&p.info))
        .collect();
    let any = |f: &dyn Fn(&str) -> bool| names.iter().any(|n| f(n));
    if any(&|n| n == "cron" || n == "crond" || n == "atrun") {
        LaunchedBy::Cron
    } else if any(&|n| n.starts_with("sshd")) {
        LaunchedBy::Ssh
    } else if responsible.is_some_and(|p| scope.is_terminal_app(basename(p)))
        || lineage.iter().filter_map(|id| table.get(*id)).any(|p| {
            p.info
                .path
                .as_deref()
                .is_some_and(|p| scope.is_terminal_app(basename(p)))
        })
    {
        LaunchedBy::Terminal
    } else if any(&|n| n == "osascript") {
        LaunchedBy::Osascript
    } else if let Some(t) = launchd_child {
        let path = t.info.path.as_deref().unwrap_or("");
        if path.contains(".app/Contents/MacOS/") {
            LaunchedBy::App
        } else if t.info.euid == Some(0) || t.info.uid == Some(0) {
            LaunchedBy::LaunchdDaemon
        } else {
            LaunchedBy::LaunchdAgent
        }
    } else if responsible.is_some_and(|r| r.contains(".app/Contents/MacOS/")) {
        LaunchedBy::App
    } else {
        LaunchedBy::Unknown
    }
}

/// The first executable or script path in the lineage that lives somewhere a dropped tool would.
fn suspicious_path(table: &ProcessTable, scope: &Scope, lineage: &[ProcId]) -> Option<String> {
    let procs = || lineage.iter().filter_map(|id| table.get(*id));
    procs()
        .filter_map(|p| p.info.path.as_deref())
        .chain(
            // A script's own path is its first argument (`/bin/bash /Library/Scripts/.sync.sh`).
            procs()
                .filter_map(|p| {
                    p.info
                        .args
                        .as_ref()
                        .and_then(|a| a.get(1))
                        .map(String::as_str)
                })
                .filter(|a| a.starts_with('/')),
        )
        .find_map(|p| scope.suspicious_path(p))
        .map(str::to_string)
}

fn short_cmd(table: &ProcessTable, id: ProcId) -> String {
    let Some(p) = table.get(id) else {
        return "?".into();
    };
    let mut s = match (&p.info.args, &p.info.path) {
        (Some(a), Some(path)) if !a.is_empty() => {
            let mut s = path.to_string();
            for arg in a.iter().skip(1) {
                s.push(' ');
                s.push_str(arg);
            }
            s
        }
        (Some(a), None) if !a.is_empty() => a.join(" "),
        (_, Some(path)) => path.to_string(),
        _ => format!("pid {}", p.info.pid),
    };
    if s.chars().count() > 120 {
        s = s.chars().take(117).collect::<String>() + "...";
    }
    s
}

/// "launchd → /usr/sbin/cron → /bin/sh -c ... → /sbin/ping -f -q 198.51.100.7", outermost first.
fn display_chain(table: &ProcessTable, lineage: &[ProcId], from_launchd: bool) -> String {
    let mut parts: Vec<String> = Vec::new();
    let has_launchd = lineage
        .iter()
        .filter_map(|id| table.get(*id))
        .any(|p| p.info.pid == 1);
    if from_launchd && !has_launchd {
        parts.push("launchd".into());
    }
    for id in lineage.iter().rev() {
        if table.get(*id).is_some_and(|p| p.info.pid == 1) {
            parts.push("launchd".into());
        } else {
            parts.push(short_cmd(table, *id));
        }
    }
    parts.dedup();
    parts.join(" → ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use floodwatch_core::config::Config;
    use floodwatch_core::event::ProcInfo;

    const T: i64 = 1_757_989_800;

    /// A process started at `T + pid` s, argv split on spaces, signed by Apple unless told otherwise.
    fn info(pid: i32, ppid: i32, path: &str, argv: &str, euid: u32, tty: Tty) -> ProcInfo {
        let mut p = ProcInfo {
            pid,
            ppid: Some(ppid),
            start_time: Some(Ts::from_secs(T + pid as i64)),
            path: Some(path.into()),
            args: Some(argv.split(' ').map(str::to_string).collect()),
            uid: Some(euid),
            euid: Some(euid),
            tty,
            ..ProcInfo::default()
        };
        p.signing.platform_binary = Some(true);
        p.signing.signing_id = Some("com.apple.x".into());
        p
    }

    /// The rows in order (parents first); returns the table and each row's lifetime.
    fn table(rows: &[ProcInfo]) -> (ProcessTable, Vec<ProcId>) {
        let mut t = ProcessTable::new(i64::MAX / 4);
        let now = Ts::from_secs(T + 10_000);
        let ids = rows.iter().map(|r| t.observe(r, now)).collect();
        (t, ids)
    }

    fn scope() -> Scope {
        Scope::new(&Config::default().scope).unwrap()
    }

    fn launchd() -> ProcInfo {
        info(1, 0, "/sbin/launchd", "/sbin/launchd", 0, Tty::None)
    }

    #[test]
    fn a_cron_script_without_a_tty_is_unattended_and_its_chain_reads_outermost_first() {
        let (t, ids) = table(&[
            launchd(),
            info(241, 1, "/usr/sbin/cron", "/usr/sbin/cron", 0, Tty::None),
            info(300, 241, "/bin/bash", "/bin/bash /opt/x.sh", 0, Tty::None),
            info(
                301,
                300,
                "/usr/bin/curl",
                "/usr/bin/curl -s http://203.0.113.10/",
                0,
                Tty::None,
            ),
        ]);
        let c = classify(&t, &scope(), ids[2], ids[3], &SessionState::default());
        assert_eq!(c.launched_by, LaunchedBy::Cron);
        assert!(c.unattended);
        assert!(!c.interactive);
        assert_eq!((c.tty.as_deref(), c.tty_known), (None, true));
        assert!(c.root);
        assert_eq!(c.signature, SignatureClass::Platform);
        assert_eq!(c.away, None);
        assert_eq!(
            c.chain,
            "launchd → /usr/sbin/cron → /bin/bash /opt/x.sh → /usr/bin/curl -s http://203.0.113.10/"
        );
        assert_eq!(c.session, "unknown (no session events)");
    }

    #[test]
    fn a_terminal_tty_is_interactive_until_the_screen_locks() {
        let terminal = "/System/Applications/Utilities/Terminal.app/Contents/MacOS/Terminal";
        let tty = || Tty::Some("/dev/ttys001".into());
        let mut zsh = info(410, 400, "/bin/zsh", "-zsh", 501, tty());
        zsh.responsible_pid = Some(400);
        let mut ping = info(411, 410, "/sbin/ping", "ping -c 5 10.0.0.1", 501, tty());
        ping.responsible_pid = Some(400);
        let (t, ids) = table(&[
            launchd(),
            info(400, 1, terminal, terminal, 501, Tty::None),
            zsh,
            ping,
        ]);
        let mut session = SessionState::default();
        session.apply(&session_event(SessionKind::Login), Ts::from_secs(T));
        let c = classify(&t, &scope(), ids[3], ids[3], &session);
        assert_eq!(c.launched_by, LaunchedBy::Terminal);
        assert!(c.interactive);
        assert!(!c.unattended);
        assert!(!c.root);
        assert_eq!(c.tty.as_deref(), Some("/dev/ttys001"));
        assert_eq!(c.responsible.as_deref(), Some(terminal));
        assert_eq!(c.session, "console unlocked");

        // Nobody at the console: unattended even with a terminal's TTY.
        let locked_at = Ts::from_secs(T + 60);
        session.apply(&session_event(SessionKind::Lock), locked_at);
        let c = classify(&t, &scope(), ids[3], ids[3], &session);
        assert!(c.interactive && c.unattended);
        let away = format!("screen locked since {}", locked_at.hms());
        assert_eq!(c.away.as_deref(), Some(away.as_str()));
        assert_eq!(c.session, away);
        session.apply(&session_event(SessionKind::Unlock), Ts::from_secs(T + 90));
        assert!(!classify(&t, &scope(), ids[3], ids[3], &session).unattended);
    }

    #[test]
    fn a_tty_through_sshd_is_a_remote_session_not_the_console() {
        // launchd → sshd-session (root) → -zsh on ttys003 → sudo → hping3, as eslogger shows an ssh login.
        let tty = || Tty::Some("/dev/ttys003".into());
        let (t, ids) = table(&[
            launchd(),
            info(
                600,
                1,
                "/usr/libexec/sshd-session",
                "sshd-session: admin [priv]",
                0,
                Tty::None,
            ),
            info(601, 600, "/bin/zsh", "-zsh", 501, tty()),
            info(
                602,
                601,
                "/usr/bin/sudo",
                "sudo hping3 --flood 10.0.0.1",
                0,
                tty(),
            ),
            info(
                603,
                602,
                "/opt/homebrew/sbin/hping3",
                "hping3 --flood 10.0.0.1",
                0,
                tty(),
            ),
        ]);
        let mut session = SessionState::default();
        session.apply(&session_event(SessionKind::SshLogin), Ts::from_secs(T));
        let c = classify(&t, &scope(), ids[4], ids[4], &session);
        assert_eq!(c.launched_by, LaunchedBy::Ssh);
        assert_eq!(
            c.remote_session.as_deref(),
            Some("remote session via sshd-session (tty ttys003)")
        );
        assert!(!c.interactive, "not someone at this Mac's keyboard");
        assert!(!c.unattended, "someone typed it");
        // A locked console says nothing about the ssh user: still a remote session, not unattended.
        session.apply(&session_event(SessionKind::Lock), Ts::from_secs(T + 5));
        let c = classify(&t, &scope(), ids[4], ids[4], &session);
        assert!(!c.unattended && c.remote_session.is_some());
        assert!(c.away.is_some(), "the console's state is still reported");
        // `ssh host cmd` without a TTY: no remote session, unattended like any TTY-less process.
        let (t, ids) = table(&[
            launchd(),
            info(610, 1, "/usr/sbin/sshd", "sshd: admin", 0, Tty::None),
            info(611, 610, "/bin/zsh", "zsh -c x", 501, Tty::None),
            info(612, 611, "/sbin/ping", "ping -f 10.0.0.1", 0, Tty::None),
        ]);
        let c = classify(&t, &scope(), ids[3], ids[3], &SessionState::default());
        assert_eq!(c.launched_by, LaunchedBy::Ssh);
        assert_eq!(c.remote_session, None);
        assert!(c.unattended && !c.interactive);
    }

    #[test]
    fn who_launched_it_from_the_top_of_the_lineage() {
        let app = "/Applications/Tool.app/Contents/MacOS/tool";
        for (top, want) in [
            (
                info(500, 1, "/usr/local/bin/agentd", "agentd", 0, Tty::None),
                LaunchedBy::LaunchdDaemon,
            ),
            (
                info(500, 1, "/usr/local/bin/agentd", "agentd", 501, Tty::None),
                LaunchedBy::LaunchdAgent,
            ),
            (info(500, 1, app, app, 501, Tty::None), LaunchedBy::App),
            (
                info(
                    500,
                    1,
                    "/usr/bin/osascript",
                    "osascript -e x",
                    501,
                    Tty::None,
                ),
                LaunchedBy::Osascript,
            ),
            (
                info(500, 1, "/usr/sbin/sshd", "sshd: admin", 0, Tty::None),
                LaunchedBy::Ssh,
            ),
        ] {
            // launchd itself not in the table (as with most telemetry): the top has ppid 1.
            let (t, ids) = table(&[
                top.clone(),
                info(501, 500, "/usr/bin/curl", "curl http://x/", 501, Tty::None),
            ]);
            let c = classify(&t, &scope(), ids[1], ids[1], &SessionState::default());
            assert_eq!(c.launched_by, want, "{:?}", top.path);
            assert!(c.chain.starts_with("launchd → "), "{}", c.chain);
            // No TTY (known): unattended whoever launched it.
            assert!(c.unattended, "{want:?}");
        }
    }

    #[test]
    fn a_process_known_only_from_traffic_has_unknown_tty_and_is_not_called_unattended() {
        let mut t = ProcessTable::new(i64::MAX / 4);
        let id = t.traffic_process(
            7001,
            None,
            Some("/private/tmp/.x/updater"),
            Some(501),
            Ts::from_secs(T),
        );
        let c = classify(&t, &scope(), id, id, &SessionState::default());
        assert_eq!(c.launched_by, LaunchedBy::Unknown);
        assert_eq!((c.tty.as_deref(), c.tty_known), (None, false));
        assert!(!c.unattended, "an unreported TTY is not a missing one");
        assert!(!c.interactive);
        assert_eq!(c.signature, SignatureClass::Unknown);
        assert_eq!(
            c.suspicious_path.as_deref(),
            Some("/private/tmp/.x/updater")
        );
        assert_eq!(c.chain, "/private/tmp/.x/updater");
    }

    #[test]
    fn session_state_follows_events() {
        let mut s = SessionState::default();
        assert_eq!(s.describe(), "unknown (no session events)");
        s.apply(&session_event(SessionKind::SshLogin), Ts::from_secs(T));
        s.apply(
            &session_event(SessionKind::ScreenShareStart),
            Ts::from_secs(T),
        );
        assert_eq!(
            s.describe(),
            "console unlocked, 1 ssh session(s), screen sharing active"
        );
        s.apply(&session_event(SessionKind::Lock), Ts::from_secs(T + 1));
        s.apply(&session_event(SessionKind::Logout), Ts::from_secs(T + 2));
        // Logged out wins over locked.
        assert_eq!(s.away(), Some(("logged out", Ts::from_secs(T + 2))));
        s.apply(&session_event(SessionKind::Login), Ts::from_secs(T + 3));
        assert_eq!(s.away(), Some(("screen locked", Ts::from_secs(T + 1))));
        s.apply(&session_event(SessionKind::SshLogout), Ts::from_secs(T + 4));
        s.apply(&session_event(SessionKind::SshLogout), Ts::from_secs(T + 5));
        assert_eq!(s.ssh_sessions, 0, "never below zero");
    }

    fn session_event(kind: SessionKind) -> Session {
        Session {
            kind,
            user: None,
            uid: None,
            tty: None,
            remote: None,
        }
    }
}
