//! Alert building: an episode in, an [`Alert`] that explains itself out. Score and severity, the subject
//! and its lineage, context, suppression, metrics and sorted evidence are gathered here, once per alert
//! state written, so sinks never reach back into engine state. Also how a process is shown to alerts and
//! network findings (views, identities, located evidence, near misses).

use crate::attribute;
use crate::baseline::Standing;
use crate::context::{classify, Context, SessionState};
use crate::lifecycle::Episode;
use crate::process::{Proc, ProcId, ProcessTable};
use crate::score::{self, ScoreInput};
use crate::severity::severity;
use crate::suppress::{Facts, Rates};
use crate::window::{Trigger, WindowSignals};
use crate::Shared;
use floodwatch_core::alert::{
    Alert, AlertFacts, AlertStatus, BaselineFacts, ContextView, Evidence, Metrics, ProcessView,
    SubjectView,
};
use floodwatch_core::event::basename;
use floodwatch_core::event::{Event, EventKind};
use floodwatch_core::Ts;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// What an alert is built from besides its episode: the host, its process table and session state.
pub struct HostFacts<'a> {
    pub host: &'a str,
    pub procs: &'a ProcessTable,
    /// The host's session state now (an episode keeps the one it opened in, which wins).
    pub session: &'a SessionState,
    /// Subjects that counted an event with invalid UTF-8 in its strings.
    pub garbled: &'a BTreeSet<ProcId>,
    /// A source on the host has reported a process exit.
    pub exits_visible: bool,
    pub last_event: Option<Ts>,
    /// The host's role, when a roles file is in use (baseline learn or judge).
    pub role: Option<&'a str>,
}

/// The alert for an episode in its current state.
pub fn build_alert(h: &HostFacts, sh: &Shared, ep: &Episode, status: AlertStatus) -> Alert {
    let cfg = &sh.cfg;
    let session = ep.session.as_ref().unwrap_or(h.session);
    let ctx = classify(h.procs, &sh.scope, ep.subject, ep.member, session);
    let top_dest = ep.top_destination();
    let (score, reasons) = score::score(&ScoreInput {
        cfg,
        peaks: &ep.peaks,
        ctx: &ctx,
        declared: ep.declared.as_ref(),
        hot_windows: ep.hot_windows,
        top_destination: top_dest,
        protos: &ep.protos,
        proto_from_cmdline: ep.proto_from_cmdline.as_deref(),
        top_tool: ep.top_tool(),
        estimated_packets: ep.estimated_packets,
        baseline: ep.baseline.as_ref(),
        invalid_utf8: h.garbled.contains(&ep.subject) || h.garbled.contains(&ep.member),
    });
    let (hit, notes) = sh.suppressions.judge(
        &suppression_facts(h, ep),
        &Rates {
            spawns_per_s: ep.peaks.spawns_per_s,
            packets_per_s: ep.peaks.packets_per_s,
            bytes_per_s: ep.peaks.bytes_per_s,
            connections_per_s: ep.peaks.connections_per_s,
        },
        ep.last_seen,
    );
    let mut protos = ep.protos.clone();
    protos.sort();
    let mut evidences = ep.evidences.clone();
    evidences.sort_by(|a, b| {
        a.time
            .cmp(&b.time)
            .then(a.file.cmp(&b.file))
            .then(a.line.cmp(&b.line))
    });
    Alert {
        id: ep.id.clone(),
        host: h.host.to_string(),
        status,
        first_seen: ep.first_seen,
        last_seen: ep.last_seen,
        score,
        severity: severity(score),
        reasons,
        metrics: Metrics {
            window_secs: cfg.window_secs(),
            hot_windows: ep.hot_windows,
            peak_packets_per_s: ep.peaks.packets_per_s,
            peak_bytes_per_s: ep.peaks.bytes_per_s,
            peak_connections_per_s: ep.peaks.connections_per_s,
            peak_spawns_per_s: ep.peaks.spawns_per_s,
            total_bytes_out: ep.total_bytes_out.round() as u64,
            total_packets_out: ep.total_packets_out.round() as u64,
            total_spawns: ep.total_spawns,
            total_connections: ep.total_connections,
            top_destination: top_dest.map(|d| d.0.to_string()),
            destination_share: top_dest.map(|d| d.1),
            protocols: protos,
            estimated_packets: ep.estimated_packets,
            evidences_omitted: ep.evidence_dropped,
        },
        subject: subject_view(h.procs, sh, ep),
        context: context_view(&ctx),
        evidences,
        timeline: ep.timeline.clone(),
        baseline: match &ep.baseline {
            Some(j) => score::baseline_text(j, cfg),
            None => "absolute thresholds from the config (no baseline store in use)".into(),
        },
        suppressed_by: hit.map(|s| s.hit()),
        suppression_notes: notes,
        campaign: None,
        playbook: None,
        facts: alert_facts(h, sh, ep),
    }
}

/// The facts a playbook is decided from that the alert does not otherwise carry.
fn alert_facts(h: &HostFacts, sh: &Shared, ep: &Episode) -> AlertFacts {
    let subject = h.procs.get(ep.subject);
    let runner = attribute::is_runner(h.procs, &sh.scope, ep.subject);
    let script = subject
        .filter(|_| runner)
        .and_then(|p| p.info.script_arg())
        .map(str::to_string);
    let tool = ep
        .top_tool()
        .or_else(|| subject.map(|p| p.path_or_name()))
        .map(|t| basename(t).to_string());
    AlertFacts {
        exited: subject.and_then(|p| p.exited),
        exits_visible: h.exits_visible,
        host_last_event: h.last_event,
        role: h.role.map(str::to_string),
        baseline: ep.baseline.as_ref().map(|j| BaselineFacts {
            standing: match j.standing {
                Standing::Missing => "missing",
                Standing::Immature => "immature",
                Standing::Mature => "mature",
            }
            .into(),
            identity: j.key.identity.clone(),
            windows: j.windows,
            days: j.days,
            signal: j.deviation.as_ref().map(|d| d.signal.to_string()),
            ratio: j.deviation.as_ref().map(|d| d.ratio),
            absorbed: j.absorbed,
        }),
        bytes_in: ep.total_bytes_in.round() as u64,
        traffic_samples: ep.traffic_samples,
        script,
        uid: subject.and_then(|p| p.info.euid.or(p.info.uid)),
        tool,
        identity: subject.map_or_else(
            || "unknown".to_string(),
            |p| crate::baseline::identity_of(&p.info, runner),
        ),
    }
}

/// The subject, its parent chain and the tools it ran; a `lineage_group` when the work was done by
/// another member, or a script ran tools.
fn subject_view(procs: &ProcessTable, sh: &Shared, ep: &Episode) -> SubjectView {
    let process = view_of(procs, ep.subject).unwrap_or_else(|| ProcessView::unknown(0));
    let parents: Vec<ProcessView> = procs
        .ancestors(ep.subject)
        .into_iter()
        .filter_map(|a| view_of(procs, a))
        .collect();
    let mut children: Vec<(String, u64)> =
        ep.spawned.iter().map(|(k, v)| (k.clone(), *v)).collect();
    children.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let kind = if ep.member != ep.subject
        || !children.is_empty() && attribute::is_runner(procs, &sh.scope, ep.subject)
    {
        "lineage_group"
    } else {
        "process"
    };
    SubjectView {
        kind: kind.into(),
        process,
        parents,
        children,
    }
}

fn context_view(ctx: &Context) -> ContextView {
    ContextView {
        unattended: ctx.unattended,
        launched_by: ctx.launched_by.as_str().into(),
        launch_chain: ctx.chain.clone(),
        tty: ctx.tty.clone(),
        tty_known: ctx.tty_known,
        interactive: ctx.interactive,
        remote_session: ctx.remote_session.clone(),
        responsible: ctx.responsible.clone(),
        session_state: ctx.session.clone(),
        root: ctx.root,
        signature: Some(ctx.signature),
        suspicious_path: ctx.suspicious_path.clone(),
    }
}

/// What suppressions match on. Identity facts are the subject's own (the script, the agent, the
/// binary), never a tool it ran: suppressing /usr/bin/curl must not hide a loop that runs curl.
fn suppression_facts<'a>(h: &HostFacts<'a>, ep: &'a Episode) -> Facts<'a> {
    let procs = h.procs;
    let mut facts = Facts {
        host: h.host,
        ..Facts::default()
    };
    let subject = procs.get(ep.subject);
    if let Some(p) = subject {
        facts.paths.extend(p.info.path.as_deref());
        facts.cmdlines.extend(p.info.cmdline());
        facts
            .signing_ids
            .extend(p.info.signing.signing_id.as_deref());
        facts.team_ids.extend(p.info.signing.team_id.as_deref());
        if let Some(u) = &p.info.username {
            facts.users.push(u.clone());
        }
        if let Some(uid) = p.info.euid.or(p.info.uid) {
            facts.users.push(uid.to_string());
            if uid == 0 {
                facts.users.push("root".into());
            }
        }
    }
    facts.parents.extend(
        procs
            .ancestors(ep.subject)
            .iter()
            .filter_map(|a| procs.get(*a))
            .filter_map(|p| p.info.path.as_deref()),
    );
    if subject.is_some_and(|p| p.info.ppid == Some(1)) {
        facts.parents.push("/sbin/launchd");
    }
    facts
        .destinations
        .extend(ep.destinations.keys().map(String::as_str));
    facts
}

/// A process as alerts and findings show it.
pub fn view_of(procs: &ProcessTable, id: ProcId) -> Option<ProcessView> {
    let p = procs.get(id)?;
    Some(ProcessView {
        pid: p.info.pid,
        start_time: p.info.start_time,
        path: p.info.path.as_deref().map(str::to_string),
        cmd_line: p.info.cmdline(),
        uid: p.info.uid,
        euid: p.info.euid,
        user: p.info.username.clone().or_else(|| {
            (p.info.euid == Some(0) || p.info.uid == Some(0)).then(|| "root".to_string())
        }),
        tty: p.info.tty.clone(),
        signing_id: p.info.signing.signing_id.as_deref().map(str::to_string),
        team_id: p.info.signing.team_id.as_deref().map(str::to_string),
        signature: p.info.signing.class(),
    })
}

/// The subject's identity in an alert id: pid, start time and image.
pub fn identity(procs: &ProcessTable, subject: ProcId) -> String {
    match procs.get(subject) {
        Some(p) => format!(
            "{}|{}|{}",
            p.info.pid,
            p.info.start_time.unwrap_or(p.first_seen).0,
            p.info
                .path
                .as_deref()
                .or(p
                    .info
                    .args
                    .as_ref()
                    .and_then(|a| a.first())
                    .map(String::as_str))
                .unwrap_or("?")
        ),
        None => format!("subject-{subject}"),
    }
}

/// What kind of event an item of evidence is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, bitcode::Encode, bitcode::Decode)]
pub enum EvidenceKind {
    Exec,
    Traffic,
    Connect,
    Declared,
}

impl EvidenceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EvidenceKind::Exec => "exec",
            EvidenceKind::Traffic => "traffic",
            EvidenceKind::Connect => "connect",
            EvidenceKind::Declared => "declared",
        }
    }
}

/// One located item of evidence as it is gathered: the event, the process behind it and where it
/// was read, held in the shared strings they already are (a connection's remote, a `String` in
/// its event, is the one copied). It becomes an [`Evidence`] (strings of
/// its own) only when its window joins an alert ([`EvidenceSeed::grow`]): most windows never do,
/// and building every counted event's evidence (five new strings each) was a tenth of the
/// engine's instructions.
#[derive(Clone, Debug, bitcode::Encode, bitcode::Decode)]
pub struct EvidenceSeed {
    kind: EvidenceKind,
    time: Ts,
    pid: Option<i32>,
    process_start: Option<Ts>,
    path: Option<Arc<str>>,
    args: Option<Arc<[String]>>,
    proto: Option<floodwatch_core::event::Proto>,
    remote: Option<Arc<str>>,
    bytes_out: Option<u64>,
    packets_out: Option<u64>,
    file: Arc<str>,
    line: u64,
    format: Option<Arc<str>>,
}

/// The seed of one located item of evidence: the event (`kind`: exec, traffic, connect,
/// declared), the process behind it, and where it was read (the file, the event's line, the
/// file's format).
pub fn evidence(kind: EvidenceKind, ev: &Event, p: Option<&Proc>, sh: &Shared) -> EvidenceSeed {
    let (proto, remote, bytes, packets) = match &ev.kind {
        EventKind::Traffic(t) => (
            Some(t.proto),
            t.remote.clone(),
            Some(t.bytes_out),
            t.packets_out,
        ),
        EventKind::Connect(c) => (
            Some(c.proto),
            c.remote.as_deref().map(Arc::from),
            None,
            None,
        ),
        _ => (None, None, None, None),
    };
    EvidenceSeed {
        kind,
        time: ev.ts,
        pid: p.map(|p| p.info.pid),
        process_start: p.and_then(|p| p.info.start_time),
        path: p.and_then(|p| p.info.path.clone()),
        args: p.and_then(|p| p.info.args.clone()),
        proto,
        remote,
        bytes_out: bytes,
        packets_out: packets,
        file: sh.shared_file(ev.origin.file),
        line: ev.origin.line,
        format: sh.format(ev.origin.file),
    }
}

impl EvidenceSeed {
    /// The evidence as an alert shows it.
    pub fn grow(self) -> Evidence {
        Evidence {
            kind: self.kind.as_str().to_string(),
            time: self.time,
            pid: self.pid,
            process_start: self.process_start,
            process: self
                .path
                .as_deref()
                .map(str::to_string)
                .or_else(|| self.args.as_ref().and_then(|a| a.first().cloned())),
            cmd_line: self.args.as_deref().map(floodwatch_core::event::cmdline_of),
            proto: self.proto,
            remote: self.remote.as_deref().map(str::to_string),
            bytes_out: self.bytes_out,
            packets_out: self.packets_out,
            file: self.file.to_string(),
            line: self.line,
            format: self.format,
        }
    }

    #[cfg(test)]
    pub(crate) fn at_line(line: u64) -> EvidenceSeed {
        EvidenceSeed {
            kind: EvidenceKind::Exec,
            time: Ts(line as i64),
            pid: Some(9),
            process_start: None,
            path: None,
            args: None,
            proto: None,
            remote: None,
            bytes_out: None,
            packets_out: None,
            file: "e.jsonl".into(),
            line,
            format: None,
        }
    }
}

/// Nearest misses kept per host (each subject at its nearest window).
const NEAR_MISSES_KEPT: usize = 16;

/// The cool windows that came nearest a threshold, a few subjects' worth, and the subjects that
/// alerted: a quiet host's verdict names its closest subject that never alerted.
#[derive(Default, bitcode::Encode, bitcode::Decode)]
pub struct NearMisses {
    by_subject: BTreeMap<ProcId, (f64, String)>,
    alerted: BTreeSet<ProcId>,
}

impl NearMisses {
    /// Keeps the window if it is the subject's nearest miss yet, and among the nearest subjects.
    pub fn note(&mut self, procs: &ProcessTable, subject: ProcId, sig: &WindowSignals) {
        let Some(closest) = sig.closest else {
            return;
        };
        let ratio = closest.1 / closest.2;
        if self
            .by_subject
            .get(&subject)
            .is_some_and(|(r, _)| *r >= ratio)
        {
            return;
        }
        if self.by_subject.len() >= NEAR_MISSES_KEPT && !self.by_subject.contains_key(&subject) {
            let lowest = self
                .by_subject
                .iter()
                .min_by(|a, b| a.1 .0.total_cmp(&b.1 .0))
                .map(|(s, (r, _))| (*s, *r));
            match lowest {
                Some((s, r)) if r < ratio => {
                    self.by_subject.remove(&s);
                }
                _ => return,
            }
        }
        let text = near_miss_text(procs, subject, sig, closest);
        self.by_subject.insert(subject, (ratio, text));
    }

    /// The subject alerted: it is nobody's near miss.
    pub fn alerted(&mut self, subject: ProcId) {
        self.alerted.insert(subject);
    }

    /// The nearest miss of a subject that never alerted: its ratio to the threshold, in words.
    pub fn closest(&self) -> Option<(f64, &str)> {
        self.by_subject
            .iter()
            .filter(|(s, _)| !self.alerted.contains(s))
            .max_by(|a, b| a.1 .0.total_cmp(&b.1 .0).then(b.0.cmp(a.0)))
            .map(|(_, (ratio, text))| (*ratio, text.as_str()))
    }
}

/// A cool window's nearest miss in words, for a quiet host's verdict: "ping (pid 812): 0.03
/// network-tool execs/s (threshold 5/s), 1% of it, in the window starting ...".
fn near_miss_text(
    procs: &ProcessTable,
    subject: ProcId,
    sig: &WindowSignals,
    (trig, v, thr): (Trigger, f64, f64),
) -> String {
    let who = match procs.get(subject) {
        Some(p) => format!("{} (pid {})", p.path_or_name(), p.info.pid),
        None => "a process no longer in the table".to_string(),
    };
    // Small rates keep two significant decimals: "0.03 execs/s", not "0.0".
    let r = |x: f64| {
        if x < 1.0 {
            format!("{x:.2}")
        } else {
            score::fmt_rate(x)
        }
    };
    let what = match trig {
        Trigger::Spawns => {
            format!("{} network-tool execs/s (threshold {}/s)", r(v), r(thr))
        }
        Trigger::Packets => {
            format!("{} weighted packets/s (threshold {}/s)", r(v), r(thr))
        }
        Trigger::Bytes => format!(
            "{} weighted (threshold {})",
            score::fmt_bytes_rate(v),
            score::fmt_bytes_rate(thr)
        ),
        Trigger::Connections | Trigger::Declared => {
            format!("{} new connections/s (threshold {}/s)", r(v), r(thr))
        }
    };
    format!(
        "{who}: {what}, {:.0}% of it, in the window starting {}",
        v / thr * 100.0,
        sig.start
    )
}
