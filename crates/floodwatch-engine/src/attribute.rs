//! Attribution: which subject an event counts for. Traffic and connections count for their process's
//! *subject* (the outermost script running it); a network tool's exec counts for its *spawn group* (the
//! subject of whatever ran it), so "N curl execs/s from one parent" is one subject's count. Scope decides
//! whether a process can be a subject at all ([`crate::scope`] holds the name lists).

use crate::process::{ProcId, ProcessTable};
use crate::scope::Scope;
use floodwatch_core::event::ProcInfo;

/// The subject `member` counts for. A tool run by a script (or a script run by a script) belongs to the
/// outermost script: a bash loop running curl 40 times a second is one subject, not 2,400. The climb
/// stops below launchd and at an interactive login shell (`-zsh`) above a script: everything a user
/// runs in one terminal is not one subject.
pub fn subject_of(procs: &ProcessTable, scope: &Scope, member: ProcId) -> ProcId {
    let mut cur = member;
    for _ in 0..32 {
        let Some(parent) = parent_runner(procs, scope, cur) else {
            break;
        };
        let login_shell = procs.get(parent).is_some_and(|p| is_login_shell(&p.info));
        if login_shell && is_runner(procs, scope, cur) {
            break;
        }
        cur = parent;
    }
    cur
}

/// The parent of `id` if it is a script runner other than launchd.
pub fn parent_runner(procs: &ProcessTable, scope: &Scope, id: ProcId) -> Option<ProcId> {
    let parent = procs.get(id)?.parent?;
    let pp = procs.get(parent)?;
    if pp.info.pid <= 1 {
        return None;
    }
    Scope::name_of(&pp.info)
        .is_some_and(|n| scope.is_runner(n))
        .then_some(parent)
}

/// Where a tool's spawn is counted: the group of the process that ran it, whatever that is (a
/// script, `xargs -P`, `timeout`, a compiled dropper), so "N curl execs/s from one parent" holds
/// for parents that are not script runners too. Tools started by launchd itself count alone.
pub fn spawn_group(procs: &ProcessTable, scope: &Scope, tool: ProcId) -> ProcId {
    match procs.get(tool).and_then(|p| p.parent) {
        Some(parent) if procs.get(parent).is_some_and(|pp| pp.info.pid > 1) => {
            subject_of(procs, scope, parent)
        }
        _ => subject_of(procs, scope, tool),
    }
}

/// In scope: the process itself (a tool, a runner, a non-platform binary), or any child of a
/// script runner (a platform binary a script drives is still the script's traffic).
pub fn in_scope(procs: &ProcessTable, scope: &Scope, id: ProcId) -> bool {
    procs
        .get(id)
        .is_some_and(|p| *p.derived.in_scope.get_or_init(|| scope.in_scope(&p.info)))
        || parent_runner(procs, scope, id)
            .and_then(|r| procs.get(r))
            .is_some_and(|r| !is_login_shell(&r.info))
}

/// Whether the process is a script runner (by its name).
pub fn is_runner(procs: &ProcessTable, scope: &Scope, id: ProcId) -> bool {
    procs
        .get(id)
        .and_then(|p| Scope::name_of(&p.info))
        .is_some_and(|n| scope.is_runner(n))
}

/// A login shell (`-zsh`, argv[0] starting with a dash): the boundary of an interactive session.
fn is_login_shell(info: &ProcInfo) -> bool {
    info.args
        .as_ref()
        .and_then(|a| a.first())
        .is_some_and(|a0| a0.starts_with('-'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use floodwatch_core::config::Config;
    use floodwatch_core::Ts;

    fn info(pid: i32, ppid: i32, path: &str, argv0: &str) -> ProcInfo {
        ProcInfo {
            pid,
            ppid: Some(ppid),
            start_time: Some(Ts::from_secs(pid as i64)),
            path: Some(path.into()),
            args: Some([argv0.into(), "x".into()].into()),
            ..ProcInfo::default()
        }
    }

    fn table(rows: &[ProcInfo]) -> (ProcessTable, Vec<ProcId>) {
        let mut t = ProcessTable::new(i64::MAX / 4);
        let ids = rows
            .iter()
            .map(|r| t.observe(r, Ts::from_secs(1_000)))
            .collect();
        (t, ids)
    }

    #[test]
    fn a_tool_counts_for_the_outermost_script_and_stops_at_a_login_shell() {
        let scope = Scope::new(&Config::default().scope).unwrap();
        // launchd → -zsh (login) → bash outer.sh → sh inner.sh → curl
        let (t, ids) = table(&[
            info(1, 0, "/sbin/launchd", "/sbin/launchd"),
            info(10, 1, "/bin/zsh", "-zsh"),
            info(11, 10, "/bin/bash", "/bin/bash"),
            info(12, 11, "/bin/sh", "/bin/sh"),
            info(13, 12, "/usr/bin/curl", "/usr/bin/curl"),
        ]);
        let (zsh, outer, inner, curl) = (ids[1], ids[2], ids[3], ids[4]);
        assert_eq!(subject_of(&t, &scope, curl), outer);
        assert_eq!(subject_of(&t, &scope, inner), outer);
        assert_eq!(parent_runner(&t, &scope, outer), Some(zsh));
        assert_eq!(spawn_group(&t, &scope, curl), outer);
        assert!(in_scope(&t, &scope, curl));
        assert!(is_runner(&t, &scope, inner));
        assert!(!is_runner(&t, &scope, curl));
    }

    #[test]
    fn spawns_count_on_any_parent_and_launchd_children_count_alone() {
        let scope = Scope::new(&Config::default().scope).unwrap();
        // launchd → /opt/x/dropper (not a runner) → curl; launchd → curl
        let (t, ids) = table(&[
            info(1, 0, "/sbin/launchd", "/sbin/launchd"),
            info(20, 1, "/opt/x/dropper", "/opt/x/dropper"),
            info(21, 20, "/usr/bin/curl", "/usr/bin/curl"),
            info(22, 1, "/usr/bin/curl", "/usr/bin/curl"),
        ]);
        let (dropper, curl, lone) = (ids[1], ids[2], ids[3]);
        // Traffic of curl counts for curl itself (its parent is no script) ...
        assert_eq!(subject_of(&t, &scope, curl), curl);
        // ... but its exec counts for the process that ran it.
        assert_eq!(spawn_group(&t, &scope, curl), dropper);
        assert_eq!(spawn_group(&t, &scope, lone), lone);
        assert_eq!(parent_runner(&t, &scope, lone), None);
    }

    #[test]
    fn a_platform_daemon_is_out_of_scope_unless_a_script_drives_it() {
        let scope = Scope::new(&Config::default().scope).unwrap();
        let mut daemon = info(31, 30, "/usr/libexec/nsurlsessiond", "nsurlsessiond");
        daemon.signing.platform_binary = Some(true);
        daemon.signing.signing_id = Some("com.apple.nsurlsessiond".into());
        let mut alone = daemon.clone();
        alone.pid = 41;
        alone.ppid = Some(1);
        alone.start_time = Some(Ts::from_secs(41));
        let (t, ids) = table(&[
            info(1, 0, "/sbin/launchd", "/sbin/launchd"),
            info(30, 1, "/bin/bash", "/bin/bash"),
            daemon,
            alone,
        ]);
        assert!(in_scope(&t, &scope, ids[2]), "driven by a script");
        assert!(!in_scope(&t, &scope, ids[3]), "a daemon on its own");
    }
}
