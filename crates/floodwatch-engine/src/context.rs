//! Context: how a subject was launched and whether anyone is at the keyboard.
//! AN0971 singles out floods "with no UI context or user interaction": a process with no TTY, started by
//! launchd, cron or osascript, or running while the screen is locked. Context ranks; it never alerts alone.

use crate::process::{basename, ProcId, ProcessTable};
use crate::scope::Scope;
use floodwatch_core::event::{Session, SessionKind, SignatureClass, Tty};
use floodwatch_core::Ts;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
#[derive(Clone, Debug, Default)]
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

#[derive(Clone, Debug)]
pub struct Context {
    pub launched_by: LaunchedBy,
    /// launchd → ... → subject, as display text.
    pub chain: String,
    pub tty: Option<String>,
    /// Whether the source could tell the TTY at all (eslogger can, nettop cannot).
    pub tty_known: bool,
    pub responsible: Option<String>,
    pub interactive: bool,
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
    let mut lineage: Vec<ProcId> = vec![member];
    if member != subject {
        for a in table.ancestors(member) {
            lineage.push(a);
            if a == subject {
                break;
            }
        }
    }
    let ancestors = table.ancestors(subject);
    lineage.extend(ancestors.iter().copied());
    let names: Vec<&str> = lineage
        .iter()
        .filter_map(|id| table.get(*id))
        .filter_map(|p| Scope::name_of(&p.info))
        .collect();

    // TTY: the member's, else the subject's (fork children inherit it).
    let tty_of = |id: ProcId| {
        table
            .get(id)
            .map(|p| p.info.tty.clone())
            .unwrap_or_default()
    };
    let (tty, tty_known) = match (tty_of(member), tty_of(subject)) {
        (Tty::Some(t), _) | (_, Tty::Some(t)) => (Some(t), true),
        (Tty::None, _) | (_, Tty::None) => (None, true),
        _ => (None, false),
    };
    let responsible = mem
        .and_then(|p| p.info.responsible_pid)
        .filter(|&rp| Some(rp) != mem.map(|p| p.info.pid))
        .and_then(|rp| {
            let t = mem.map(|p| p.first_seen).unwrap_or_default();
            table.alive_at(rp, t, i64::MAX / 4)
        })
        .and_then(|id| table.get(id))
        .and_then(|p| p.info.path.clone());

    let top = lineage.last().and_then(|id| table.get(*id));
    let top_ppid_is_launchd = top.is_some_and(|p| p.info.ppid == Some(1) || p.info.pid == 1);
    let any = |f: &dyn Fn(&str) -> bool| names.iter().any(|n| f(n));
    let launched_by = if any(&|n| n == "cron" || n == "crond" || n == "atrun") {
        LaunchedBy::Cron
    } else if any(&|n| n.starts_with("sshd")) {
        LaunchedBy::Ssh
    } else if responsible
        .as_deref()
        .is_some_and(|p| scope.is_terminal_app(basename(p)))
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
    } else if let Some(t) = top.filter(|_| top_ppid_is_launchd) {
        let path = t.info.path.as_deref().unwrap_or("");
        if path.contains(".app/Contents/MacOS/") {
            LaunchedBy::App
        } else if t.info.euid == Some(0) || t.info.uid == Some(0) {
            LaunchedBy::LaunchdDaemon
        } else {
            LaunchedBy::LaunchdAgent
        }
    } else if responsible
        .as_deref()
        .is_some_and(|r| r.contains(".app/Contents/MacOS/"))
    {
        LaunchedBy::App
    } else {
        LaunchedBy::Unknown
    };

    let interactive = tty.is_some()
        && matches!(
            launched_by,
            LaunchedBy::Terminal | LaunchedBy::Ssh | LaunchedBy::Unknown
        );
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
    let unattended =
        (!interactive && (scheduled || (tty_known && tty.is_none()))) || away.is_some();

    let chain = display_chain(table, &lineage, top_ppid_is_launchd);
    let info = mem.map(|p| &p.info);
    let root_user =
        info.is_some_and(|i| i.euid == Some(0)) || root.is_some_and(|p| p.info.euid == Some(0));
    let signature = info
        .map(|i| i.signing.class())
        .unwrap_or(SignatureClass::Unknown);
    let suspicious_path = lineage
        .iter()
        .filter_map(|id| table.get(*id))
        .filter_map(|p| p.info.path.as_deref())
        .chain(
            // A script's own path is its first argument (`/bin/bash /Library/Scripts/.sync.sh`).
            lineage
                .iter()
                .filter_map(|id| table.get(*id))
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
        .map(str::to_string);
    Context {
        launched_by,
        chain,
        tty,
        tty_known,
        responsible,
        interactive,
        unattended,
        away,
        root: root_user,
        signature,
        suspicious_path,
        session: session.describe(),
    }
}

fn short_cmd(table: &ProcessTable, id: ProcId) -> String {
    let Some(p) = table.get(id) else {
        return "?".into();
    };
    let mut s = match (&p.info.args, &p.info.path) {
        (Some(a), Some(path)) if !a.is_empty() => {
            let mut v = vec![path.clone()];
            v.extend(a.iter().skip(1).cloned());
            v.join(" ")
        }
        (Some(a), None) if !a.is_empty() => a.join(" "),
        (_, Some(path)) => path.clone(),
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
