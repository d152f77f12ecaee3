//! The process table: one entry per process *lifetime*, so pid reuse and exec never mix two processes.
//!
//! A lifetime is (pid, start_time): eslogger keeps `start_time` across exec while `pidversion` changes, and
//! a reused pid gets a new start time. Sources without start times (nettop, unified log) are matched to the
//! lifetime alive at the event's time. Exited processes are kept for `exited_retention` so late traffic
//! summaries can still be attributed, then evicted: memory follows the live process count, not the input.

use crate::declared::DeclaredProto;
use floodwatch_core::event::{ProcInfo, Tty};
use floodwatch_core::time::NANOS_PER_SEC;
use floodwatch_core::Ts;
use foldhash::HashMap;
use std::cell::OnceCell;
use std::sync::Arc;

pub type ProcId = u64;

#[derive(Clone, Debug, bitcode::Encode, bitcode::Decode)]
pub struct Proc {
    pub id: ProcId,
    pub info: ProcInfo,
    pub parent: Option<ProcId>,
    pub first_seen: Ts,
    /// Last event that named this lifetime (for evicting traffic-only entries that never exit).
    pub last_seen: Ts,
    pub exited: Option<Ts>,
    /// Images this lifetime exec'd through, oldest first (e.g. `/bin/sh` then `/usr/bin/curl`).
    pub prior_images: Vec<Arc<str>>,
    /// Only seen through a traffic source (name or path, no exec context).
    pub traffic_only: bool,
    /// Facts worked out from the image on first need, forgotten whenever the image facts change
    /// (and not in snapshots: worked out again after a restore).
    #[bitcode(skip)]
    pub derived: Derived,
}

/// What traffic asks of a process on every sample, worked out once per image.
#[derive(Clone, Debug, Default)]
pub struct Derived {
    /// The protocol its command line declares ([`crate::declared::protocol`]), for traffic
    /// without a reported protocol.
    pub declared_proto: OnceCell<Option<DeclaredProto>>,
    /// Whether the scope lets it be (part of) a flood subject by its own image
    /// ([`crate::scope::Scope::in_scope`]: name patterns and signing).
    pub in_scope: OnceCell<bool>,
}

impl Proc {
    pub fn path_or_name(&self) -> &str {
        self.info.path.as_deref().unwrap_or("?")
    }
}

#[derive(bitcode::Encode, bitcode::Decode)]
pub struct ProcessTable {
    procs: HashMap<ProcId, Proc>,
    /// Lifetimes per pid, oldest first (a short list: pids are reused rarely within the retention).
    by_pid: HashMap<i32, Vec<ProcId>>,
    next_id: ProcId,
    retention_ns: i64,
    /// `windows.traffic_exit_slack`: traffic samples this late after an exit still belong to it.
    exit_slack_ns: i64,
}

fn same_lifetime(p: &Proc, info: &ProcInfo, ts: Ts) -> bool {
    match (p.info.start_time, info.start_time) {
        (Some(a), Some(b)) => a == b,
        // An entry known without a start time (traffic-only) cannot be a process that started after
        // it was first seen (1 s allows for clock rounding between sources).
        (None, Some(b)) if b.0 > p.first_seen.0.saturating_add(NANOS_PER_SEC) => false,
        // Without start times: the entry is the same process unless it exited before this event.
        _ => p.exited.is_none_or(|e| ts <= e),
    }
}

/// Fills the facts an exec keeps (identity of the lifetime, credentials, terminal) from the old image.
fn merge_lineage(dst: &mut ProcInfo, src: &ProcInfo) {
    macro_rules! fill {
        ($($f:ident),*) => { $( if dst.$f.is_none() { dst.$f = src.$f.clone(); } )* };
    }
    fill!(
        ppid,
        original_ppid,
        responsible_pid,
        session_id,
        start_time,
        cwd,
        uid,
        euid,
        auid,
        username
    );
    if dst.tty == Tty::Unknown {
        dst.tty = src.tty.clone();
    }
}

/// Fills fields the entry lacks from a later observation of the same lifetime: the lineage facts,
/// and the image facts too (same lifetime, same image).
fn merge_missing(dst: &mut ProcInfo, src: &ProcInfo) {
    merge_lineage(dst, src);
    if dst.path.is_none() {
        dst.path.clone_from(&src.path);
    }
    if dst.args.is_none() {
        dst.args.clone_from(&src.args);
    }
    if dst.pidversion.is_none() {
        dst.pidversion = src.pidversion;
    }
    if dst.signing.signing_id.is_none()
        && dst.signing.cs_flags.is_none()
        && dst.signing.platform_binary.is_none()
    {
        dst.signing = src.signing.clone();
    }
}

impl ProcessTable {
    pub fn new(retention_ns: i64) -> Self {
        ProcessTable {
            procs: HashMap::default(),
            by_pid: HashMap::default(),
            next_id: 1,
            retention_ns,
            exit_slack_ns: 5 * NANOS_PER_SEC,
        }
    }

    pub fn with_exit_slack(mut self, ns: i64) -> Self {
        self.exit_slack_ns = ns;
        self
    }

    pub fn get(&self, id: ProcId) -> Option<&Proc> {
        self.procs.get(&id)
    }

    pub fn get_mut(&mut self, id: ProcId) -> Option<&mut Proc> {
        self.procs.get_mut(&id)
    }

    pub fn len(&self) -> usize {
        self.procs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.procs.is_empty()
    }

    /// The lifetime of `pid` alive at `ts`: the newest one that started at or before `ts` and had not
    /// exited before it. `exit_slack_ns` is for sources whose samples land just after the exit (a nettop
    /// frame, a connection summary); there is no slack on the start, or a reused pid would take its
    /// predecessor's last traffic.
    pub fn alive_at(&self, pid: i32, ts: Ts, exit_slack_ns: i64) -> Option<ProcId> {
        let ids = self.by_pid.get(&pid)?;
        ids.iter().rev().copied().find(|id| {
            let p = &self.procs[id];
            let started = p.info.start_time.unwrap_or(p.first_seen);
            started.0 <= ts.0
                && p.exited
                    .is_none_or(|e| ts.0 <= e.0.saturating_add(exit_slack_ns))
        })
    }

    fn insert(&mut self, info: ProcInfo, ts: Ts) -> ProcId {
        let id = self.next_id;
        self.next_id += 1;
        let parent = info.ppid.and_then(|pp| self.alive_at(pp, ts, 0));
        let pid = info.pid;
        self.procs.insert(
            id,
            Proc {
                id,
                info,
                parent,
                first_seen: ts,
                last_seen: ts,
                exited: None,
                prior_images: Vec::new(),
                traffic_only: false,
                derived: Derived::default(),
            },
        );
        self.by_pid.entry(pid).or_default().push(id);
        id
    }

    /// Records that a process was seen (an instigator, a snapshot row); returns its lifetime.
    pub fn observe(&mut self, info: &ProcInfo, ts: Ts) -> ProcId {
        if let Some(id) = self.find_lifetime(info, ts) {
            let p = self.procs.get_mut(&id).expect("id from index");
            p.last_seen = p.last_seen.max(ts);
            merge_missing(&mut p.info, info);
            p.derived = Derived::default();
            if p.parent.is_none() {
                if let Some(pp) = info.ppid {
                    let parent = self.alive_at(pp, ts, 0).filter(|&x| x != id);
                    if let Some(p) = self.procs.get_mut(&id) {
                        p.parent = parent;
                    }
                }
            }
            return id;
        }
        self.insert(info.clone(), ts)
    }

    fn find_lifetime(&self, info: &ProcInfo, ts: Ts) -> Option<ProcId> {
        let ids = self.by_pid.get(&info.pid)?;
        ids.iter()
            .rev()
            .copied()
            .find(|id| same_lifetime(&self.procs[id], info, ts))
    }

    /// exec: the lifetime keeps its pid and start time and gets a new image.
    pub fn exec(&mut self, instigator: Option<&ProcInfo>, target: &ProcInfo, ts: Ts) -> ProcId {
        let id = match instigator {
            Some(i) => self.observe(i, ts),
            None => match self.find_lifetime(target, ts) {
                Some(id) => id,
                None => return self.insert(target.clone(), ts),
            },
        };
        let p = self.procs.get_mut(&id).expect("id from observe");
        if let Some(old) = p.info.path.take() {
            p.prior_images.push(old);
            if p.prior_images.len() > 8 {
                p.prior_images.remove(0);
            }
        }
        let mut new = target.clone();
        // The image changes; lineage facts that exec keeps come from the old entry when the target lacks
        // them. Image facts (path, argv, signing, pidversion) never do: an unsigned dropper exec'd from
        // a platform shell must not look platform-signed.
        merge_lineage(&mut new, &p.info);
        p.info = new;
        p.traffic_only = false;
        p.derived = Derived::default();
        id
    }

    /// fork: a new lifetime whose parent is the forking one.
    pub fn fork(&mut self, parent: &ProcInfo, child: ProcInfo, ts: Ts) -> ProcId {
        let pid_parent = self.observe(parent, ts);
        let mut info = child;
        if info.ppid.is_none() {
            info.ppid = Some(parent.pid);
        }
        // A fork child runs the parent's image until it execs.
        if info.path.is_none() {
            info.path = parent.path.clone();
        }
        if info.args.is_none() {
            info.args = parent.args.clone();
        }
        // A pid that is forked again is a new lifetime even if an old entry never saw its exit.
        if let Some(old) = self.find_lifetime(&info, ts) {
            if let Some(o) = self.procs.get_mut(&old) {
                if o.info.start_time != info.start_time || info.start_time.is_none() {
                    o.exited.get_or_insert(ts);
                } else {
                    return old;
                }
            }
        }
        let id = self.insert(info, ts);
        if let Some(p) = self.procs.get_mut(&id) {
            p.parent = Some(pid_parent);
        }
        id
    }

    pub fn exit(&mut self, info: &ProcInfo, ts: Ts) -> ProcId {
        let id = self.observe(info, ts);
        if let Some(p) = self.procs.get_mut(&id) {
            p.exited = Some(ts);
        }
        id
    }

    /// A process known only from a traffic source (nettop name, unified-log path).
    pub fn traffic_process(
        &mut self,
        pid: i32,
        name: Option<&str>,
        path: Option<&str>,
        uid: Option<u32>,
        ts: Ts,
    ) -> ProcId {
        if let Some(id) = self.alive_at(pid, ts, self.exit_slack_ns) {
            let p = self.procs.get_mut(&id).expect("id from index");
            p.last_seen = p.last_seen.max(ts);
            // A traffic row under another name than the known image means the pid was reused unseen.
            let known = p.info.path.as_deref().map(basename);
            let seen = path.map(basename).or(name);
            // The name may also be an image the lifetime ran before its last exec (a sample taken
            // just before the exec was logged).
            let mismatch = match (known, seen) {
                (Some(k), Some(s)) => {
                    !names_match(k, s)
                        && !p.prior_images.iter().any(|pi| names_match(basename(pi), s))
                }
                _ => false,
            };
            if !mismatch {
                let knew = (p.info.path.is_some(), p.info.args.is_some());
                if p.info.path.is_none() {
                    p.info.path = path.map(Arc::from).or(p.info.path.take());
                }
                if p.info.path.is_none() && p.info.args.is_none() {
                    if let Some(n) = name {
                        p.info.args = Some(Arc::from([n.to_string()]));
                    }
                }
                if knew != (p.info.path.is_some(), p.info.args.is_some()) {
                    p.derived = Derived::default();
                }
                return id;
            }
            p.exited.get_or_insert(ts);
        }
        let info = ProcInfo {
            pid,
            path: path.map(Arc::from),
            args: if path.is_none() {
                name.map(|n| Arc::from([n.to_string()]))
            } else {
                None
            },
            uid,
            euid: uid,
            ..ProcInfo::default()
        };
        let id = self.insert(info, ts);
        if let Some(p) = self.procs.get_mut(&id) {
            p.traffic_only = true;
        }
        id
    }

    /// Parent chain, nearest first, stopping at launchd or an unknown parent (bounded against cycles).
    pub fn ancestors(&self, id: ProcId) -> Vec<ProcId> {
        let mut out = Vec::new();
        let mut cur = self.procs.get(&id).and_then(|p| p.parent);
        while let Some(c) = cur {
            if out.len() >= 32 || out.contains(&c) || c == id {
                break;
            }
            out.push(c);
            cur = self.procs.get(&c).and_then(|p| p.parent);
        }
        out
    }

    /// Removes lifetimes that exited longer than the retention ago, and traffic-only ones (nettop or
    /// unified-log pids, which never report an exit) unseen that long: a week-long capture must not keep
    /// every pid it ever saw. `keep` protects entries still referenced.
    pub fn evict(&mut self, now: Ts, keep: impl Fn(ProcId) -> bool) {
        let cutoff = now.0.saturating_sub(self.retention_ns);
        let dead: Vec<ProcId> = self
            .procs
            .values()
            .filter(|p| {
                let gone = p.exited.is_some_and(|e| e.0 < cutoff)
                    || (p.traffic_only && p.exited.is_none() && p.last_seen.0 < cutoff);
                gone && !keep(p.id)
            })
            .map(|p| p.id)
            .collect();
        for id in dead {
            if let Some(p) = self.procs.remove(&id) {
                if let Some(v) = self.by_pid.get_mut(&p.info.pid) {
                    v.retain(|x| *x != id);
                    if v.is_empty() {
                        self.by_pid.remove(&p.info.pid);
                    }
                }
            }
        }
        // Children of evicted parents keep a dangling parent id; lookups treat it as unknown.
    }
}

pub use floodwatch_core::event::basename;

/// Whether a traffic source's name for a process can be the known image. nettop truncates names to
/// 15 characters (`Microsoft Outlo`) and shows bundle names (`Python` for `python3.12`), so this
/// compares case-insensitively and accepts one name being a prefix of the other (4+ characters).
pub fn names_match(full: &str, seen: &str) -> bool {
    if full == seen {
        return true;
    }
    let (f, s) = (full.to_lowercase(), seen.to_lowercase());
    let shorter = f.chars().count().min(s.chars().count());
    f == s || (shorter >= 4 && (f.starts_with(&s) || s.starts_with(&f)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(pid: i32, start: i64, path: &str, ppid: i32) -> ProcInfo {
        ProcInfo {
            pid,
            ppid: Some(ppid),
            start_time: Some(Ts::from_secs(start)),
            path: Some(path.into()),
            ..ProcInfo::default()
        }
    }

    #[test]
    fn exec_keeps_lifetime_and_pid_reuse_makes_a_new_one() {
        let mut t = ProcessTable::new(600 * 1_000_000_000);
        let bash = t.observe(&info(100, 10, "/bin/bash", 1), Ts::from_secs(10));
        let child = t.fork(
            &info(100, 10, "/bin/bash", 1),
            info(200, 11, "/bin/bash", 100),
            Ts::from_secs(11),
        );
        let after = t.exec(
            Some(&info(200, 11, "/bin/bash", 100)),
            &info(200, 11, "/usr/bin/curl", 100),
            Ts::from_secs(11),
        );
        assert_eq!(child, after);
        assert_eq!(t.get(after).unwrap().parent, Some(bash));
        assert_eq!(
            t.get(after).unwrap().info.path.as_deref(),
            Some("/usr/bin/curl")
        );
        assert_eq!(
            t.get(after).unwrap().prior_images,
            vec![Arc::<str>::from("/bin/bash")]
        );
        t.exit(&info(200, 11, "/usr/bin/curl", 100), Ts::from_secs(12));
        // pid 200 reused by another lifetime
        let reused = t.observe(
            &info(200, 50, "/usr/libexec/mdworker_shared", 1),
            Ts::from_secs(50),
        );
        assert_ne!(reused, after);
        assert_eq!(t.alive_at(200, Ts::from_secs(11), 0), Some(after));
        assert_eq!(t.alive_at(200, Ts::from_secs(60), 0), Some(reused));
        assert_eq!(t.ancestors(after), vec![bash]);
    }

    #[test]
    fn eviction_after_retention() {
        let mut t = ProcessTable::new(10 * 1_000_000_000);
        let a = t.observe(&info(5, 1, "/bin/x", 1), Ts::from_secs(1));
        t.exit(&info(5, 1, "/bin/x", 1), Ts::from_secs(2));
        t.evict(Ts::from_secs(5), |_| false);
        assert!(t.get(a).is_some());
        t.evict(Ts::from_secs(20), |_| false);
        assert!(t.get(a).is_none());
        assert!(t.alive_at(5, Ts::from_secs(1), 0).is_none());
        // A pid known only from traffic rows never exits: evicted once unseen for the retention.
        let n = t.traffic_process(6, Some("nc"), None, None, Ts::from_secs(30));
        t.traffic_process(6, Some("nc"), None, None, Ts::from_secs(35));
        t.evict(Ts::from_secs(44), |_| false);
        assert!(t.get(n).is_some());
        t.evict(Ts::from_secs(46), |_| false);
        assert!(t.get(n).is_none());
    }

    #[test]
    fn traffic_under_a_new_name_is_a_reused_pid() {
        let mut t = ProcessTable::new(600 * 1_000_000_000);
        let md = t.observe(
            &info(7001, 0, "/usr/libexec/mdworker_shared", 1),
            Ts::from_secs(0),
        );
        let upd = t.traffic_process(7001, Some("updater"), None, None, Ts::from_secs(30));
        assert_ne!(md, upd);
        let again = t.traffic_process(7001, Some("updater"), None, None, Ts::from_secs(31));
        assert_eq!(upd, again);
        assert!(names_match("Microsoft Outlook", "Microsoft Outlo"));
        assert!(names_match("python3.12", "Python"));
        assert!(!names_match("mdworker_shared", "updater"));
        assert!(!names_match("sh", "ssh"));
    }

    #[test]
    fn exec_does_not_lend_the_old_images_signature() {
        let mut t = ProcessTable::new(600 * 1_000_000_000);
        let mut bash = info(300, 10, "/bin/bash", 1);
        bash.signing.platform_binary = Some(true);
        bash.signing.signing_id = Some("com.apple.bash".into());
        bash.pidversion = Some(7);
        let id = t.observe(&bash, Ts::from_secs(10));
        let dropper = info(300, 10, "/private/tmp/.x/flood", 1);
        assert_eq!(t.exec(Some(&bash), &dropper, Ts::from_secs(11)), id);
        let p = t.get(id).unwrap();
        assert_eq!(p.info.signing.signing_id, None);
        assert_eq!(p.info.signing.platform_binary, None);
        assert_eq!(p.info.pidversion, None);
        assert_eq!(p.info.start_time, Some(Ts::from_secs(10)));
    }

    #[test]
    fn a_reused_pid_does_not_take_its_predecessors_last_traffic() {
        let mut t = ProcessTable::new(600 * 1_000_000_000);
        let old = t.observe(&info(42, 0, "/usr/bin/curl", 1), Ts::from_secs(0));
        t.exit(&info(42, 0, "/usr/bin/curl", 1), Ts::from_secs(100));
        let new = t.observe(&info(42, 102, "/usr/bin/curl", 1), Ts::from_secs(102));
        // A nettop sample at 101 s still belongs to the old lifetime (exited 1 s before).
        assert_eq!(
            t.alive_at(42, Ts::from_secs(101), 5 * NANOS_PER_SEC),
            Some(old)
        );
        assert_eq!(
            t.alive_at(42, Ts::from_secs(103), 5 * NANOS_PER_SEC),
            Some(new)
        );
        // A traffic-only entry is not merged with a process that started after it was first seen.
        let seen = t.traffic_process(43, Some("nc"), None, None, Ts::from_secs(200));
        let started_later = t.observe(&info(43, 260, "/usr/bin/nc", 1), Ts::from_secs(260));
        assert_ne!(seen, started_later);
    }
}
