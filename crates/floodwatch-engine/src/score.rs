//! Scoring: 0-100 and the ordered reasons behind it, each with its number; [`crate::severity`] turns
//! the score into a severity.
//!
//! Process alerts ([`score`]): base = how far the strongest measured signal exceeds its threshold (a
//! declared flood with no measured volume gets `declared_base`); then context points from `[scoring]`.
//! Context never makes a window hot: this function only runs for subjects that already crossed a
//! threshold. Network findings ([`network_score`]): their strength alone.

use crate::baseline::{Judgement, Standing};
use crate::context::{Context, LaunchedBy};
use crate::declared::Declared;
use crate::severity;
use crate::window::Trigger;
use floodwatch_core::alert::Reason;
use floodwatch_core::config::Config;
use floodwatch_core::event::{Proto, SignatureClass};
use floodwatch_core::finding::NetworkClass;

/// Episode-wide peaks (per metric, over hot windows).
#[derive(Clone, Debug, Default, bitcode::Encode, bitcode::Decode)]
pub struct Peaks {
    pub spawns_per_s: f64,
    pub packets_per_s: f64,
    pub weighted_packets_per_s: f64,
    pub bytes_per_s: f64,
    pub weighted_bytes_per_s: f64,
    pub connections_per_s: f64,
    /// Max ratio to threshold per measured trigger that fired at least once.
    pub ratios: Vec<(Trigger, f64)>,
}

impl Peaks {
    pub fn note_ratio(&mut self, t: Trigger, r: f64) {
        match self.ratios.iter_mut().find(|(x, _)| *x == t) {
            Some((_, v)) => *v = v.max(r),
            None => self.ratios.push((t, r)),
        }
    }
}

pub struct ScoreInput<'a> {
    pub cfg: &'a Config,
    pub peaks: &'a Peaks,
    pub ctx: &'a Context,
    pub declared: Option<&'a Declared>,
    pub hot_windows: u32,
    pub top_destination: Option<(&'a str, f64)>,
    pub protos: &'a [Proto],
    /// The source reported no protocol and the command line declared it: how it says so.
    pub proto_from_cmdline: Option<&'a str>,
    /// The most-spawned tool and the subject kind ("parent", "process").
    pub top_tool: Option<&'a str>,
    pub estimated_packets: bool,
    /// The baseline's verdict (hunts with baselines only).
    pub baseline: Option<&'a Judgement>,
    /// Some counted event's strings (argv, paths) were not valid UTF-8 and were decoded lossily.
    pub invalid_utf8: bool,
}

/// A rate for people: "27,331", "812", "3.4" (one formatter for alerts and network findings).
pub use floodwatch_core::finding::fmt_count_rate as fmt_rate;

pub use floodwatch_core::alert::fmt_bytes_rate;

fn proto_list(p: &[Proto]) -> String {
    let mut v: Vec<&str> = p
        .iter()
        .filter(|p| **p != Proto::Unknown)
        .map(|p| p.as_str())
        .collect();
    v.sort_unstable();
    if v.is_empty() {
        "protocol not reported".into()
    } else {
        v.join("/").to_uppercase()
    }
}

/// The protocols for a rate's explanation, saying when they come from the command line, with the
/// separator to what follows ("UDP," or "UDP taken from the command line: ...;").
fn proto_text(i: &ScoreInput) -> String {
    match i.proto_from_cmdline {
        Some(how) => format!(
            "{} taken from the command line: {how};",
            proto_list(i.protos)
        ),
        None => format!("{},", proto_list(i.protos)),
    }
}

fn reason(
    code: &str,
    points: i32,
    text: String,
    value: Option<f64>,
    threshold: Option<f64>,
) -> Reason {
    Reason {
        code: code.into(),
        points,
        text,
        value,
        threshold,
    }
}

/// The score of a process alert and its reasons: the measured signals first (strongest first, only
/// the strongest carrying the base points), then context, most points first.
pub fn score(i: &ScoreInput) -> (u8, Vec<Reason>) {
    let s = &i.cfg.scoring;
    // Hot windows overlap by half: n of them span one window plus n-1 half-windows.
    let w = i.cfg.window_secs();
    let secs = w + (i.hot_windows.max(1) as u64 - 1) * w / 2;
    let mut ratios = i.peaks.ratios.clone();
    ratios.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let strongest = ratios.first().map(|r| r.1);
    let base = match strongest {
        Some(r) => {
            let b = s.base_at_threshold as f64 + s.base_per_doubling as f64 * r.max(1.0).log2();
            (b.round() as i32).clamp(s.base_at_threshold, s.base_max)
        }
        None => s.declared_base,
    };
    let mut primary = signal_reasons(i, &ratios, base, secs);
    let mut context = Vec::new();
    if let Some(d) = i.declared {
        let pts = if strongest.is_none() {
            base
        } else {
            s.declared_flood
        };
        context.push(reason(
            "declared_flood",
            pts,
            format!("command line declares a flood: {}", d.what),
            d.est_pps,
            None,
        ));
    }
    context_reasons(i, &mut context);
    traffic_reasons(i, secs, &mut context);
    if i.ctx.interactive {
        context.push(interactive_reason(i));
    }
    if let Some(r) = &i.ctx.remote_session {
        context.push(reason(
            "remote_session",
            s.remote_session,
            format!("{r}: typed in a remote login, not at this Mac's keyboard (no interactive discount)"),
            None,
            None,
        ));
    }
    if let Some(j) = i.baseline {
        context.extend(baseline_reasons(j, i.cfg));
    }
    context.sort_by_key(|r| std::cmp::Reverse(r.points));
    let mut total: i32 = primary.iter().chain(context.iter()).map(|r| r.points).sum();
    // The severity policy's floor for declared floods, as a reason of its own so the points add up.
    let floor = severity::band_floor(severity::DECLARED_FLOOD_MIN) as i32;
    if i.declared.is_some() && total < floor {
        context.push(reason(
            "declared_floor",
            floor - total,
            format!(
                "raised to {floor} ({}): a command line that declares a flood is at least {} however it was started",
                severity::DECLARED_FLOOD_MIN.as_str(),
                severity::DECLARED_FLOOD_MIN.as_str()
            ),
            None,
            Some(floor as f64),
        ));
        total = floor;
    }
    let score = total.clamp(1, 100) as u8;
    primary.extend(context);
    (score, primary)
}

/// One reason per measured trigger that fired, strongest first; the first carries `base`.
fn signal_reasons(i: &ScoreInput, ratios: &[(Trigger, f64)], base: i32, secs: u64) -> Vec<Reason> {
    let t = &i.cfg.thresholds;
    let p = i.peaks;
    let mut out = Vec::new();
    for (k, (trig, _ratio)) in ratios.iter().enumerate() {
        let pts = if k == 0 { base } else { 0 };
        out.push(match trig {
            Trigger::Spawns => reason(
                "spawn_rate",
                pts,
                format!(
                    "{} {} execs/s from one {} for {secs} s (threshold {}/s)",
                    fmt_rate(p.spawns_per_s),
                    i.top_tool.unwrap_or("network-tool"),
                    if i.ctx.launched_by == LaunchedBy::Unknown {
                        "subject"
                    } else {
                        "parent"
                    },
                    t.tool_spawns_per_s
                ),
                Some(p.spawns_per_s),
                Some(t.tool_spawns_per_s),
            ),
            Trigger::Packets => reason(
                "packet_rate",
                pts,
                format!(
                    "{} outbound packets/s{} ({} weighted {}; threshold {}/s)",
                    fmt_rate(p.packets_per_s),
                    if i.estimated_packets {
                        " (estimated from the command line)"
                    } else {
                        ""
                    },
                    proto_text(i),
                    fmt_rate(p.weighted_packets_per_s),
                    fmt_rate(t.packets_per_s)
                ),
                Some(p.weighted_packets_per_s),
                Some(t.packets_per_s),
            ),
            Trigger::Bytes => reason(
                "byte_rate",
                pts,
                format!(
                    "{} outbound ({} weighted {}; threshold {})",
                    fmt_bytes_rate(p.bytes_per_s),
                    proto_text(i),
                    fmt_bytes_rate(p.weighted_bytes_per_s),
                    fmt_bytes_rate(t.bytes_per_s)
                ),
                Some(p.weighted_bytes_per_s),
                Some(t.bytes_per_s),
            ),
            Trigger::Connections => reason(
                "connection_rate",
                pts,
                format!(
                    "{} new outbound connections/s for {secs} s (threshold {}/s)",
                    fmt_rate(p.connections_per_s),
                    t.connections_per_s
                ),
                Some(p.connections_per_s),
                Some(t.connections_per_s),
            ),
            Trigger::Declared => continue,
        });
    }
    out
}

/// Who ran it and how: unattended, nobody at the console, root, signature, where it runs from.
fn context_reasons(i: &ScoreInput, out: &mut Vec<Reason>) {
    let s = &i.cfg.scoring;
    let c = i.ctx;
    if c.unattended {
        let why = match (&c.tty, c.tty_known) {
            (None, true) => "no TTY",
            (None, false) => "TTY not reported",
            (Some(_), _) => "TTY present",
        };
        out.push(reason(
            "unattended",
            s.unattended,
            format!(
                "unattended: {why}; launched by {}: {}",
                c.launched_by.as_str().replace('_', " "),
                c.chain
            ),
            None,
            None,
        ));
    }
    if let Some(away) = &c.away {
        out.push(reason(
            "session_away",
            s.session_locked,
            format!("nobody at the console: {away}"),
            None,
            None,
        ));
    }
    if c.root {
        out.push(reason(
            "root",
            s.root,
            "runs as root (euid 0)".into(),
            Some(0.0),
            None,
        ));
    }
    match c.signature {
        SignatureClass::AdHoc => out.push(reason(
            "unsigned_or_adhoc",
            s.unsigned_or_adhoc,
            "ad hoc code signature (no signing identity)".into(),
            None,
            None,
        )),
        SignatureClass::Unsigned => out.push(reason(
            "unsigned_or_adhoc",
            s.unsigned_or_adhoc,
            "unsigned executable".into(),
            None,
            None,
        )),
        _ => {}
    }
    if i.invalid_utf8 {
        // Real tools do not put raw non-UTF-8 bytes in their command lines; an attacker hiding a
        // flood from a strict parser would.
        out.push(reason(
            "invalid_utf8",
            s.invalid_utf8,
            "its command line or path holds bytes that are not UTF-8 (shown as \u{fffd})".into(),
            None,
            None,
        ));
    }
    if let Some(p) = &c.suspicious_path {
        out.push(reason(
            "suspicious_path",
            s.suspicious_path,
            format!("runs from a hidden or user-writable path: {p}"),
            None,
            None,
        ));
    }
}

/// What the traffic looks like: stateless protocols, one destination, how long it lasted.
fn traffic_reasons(i: &ScoreInput, secs: u64, out: &mut Vec<Reason>) {
    let s = &i.cfg.scoring;
    let t = &i.cfg.thresholds;
    let w = i.cfg.window_secs();
    if i.protos
        .iter()
        .any(|p| matches!(p, Proto::Udp | Proto::Icmp))
    {
        out.push(reason(
            "stateless_protocol",
            s.stateless_protocol,
            format!(
                "stateless protocol ({}{})",
                proto_list(i.protos),
                if i.proto_from_cmdline.is_some() {
                    ", from the command line"
                } else {
                    ""
                }
            ),
            None,
            None,
        ));
    }
    if let Some((dest, share)) = i
        .top_destination
        .filter(|(_, sh)| *sh >= t.destination_share)
    {
        out.push(reason(
            "concentrated_destination",
            s.concentrated_destination,
            format!(
                "{:.0}% of the traffic went to one destination: {dest}",
                share * 100.0
            ),
            Some(share),
            Some(t.destination_share),
        ));
    }
    // Sustained: points per whole extra window of hot time (overlapping windows are not counted twice).
    let extra_windows = (secs / w.max(1)).saturating_sub(1) as i32;
    if extra_windows > 0 {
        let pts = (s.sustained_per_window * extra_windows).min(s.sustained_max);
        out.push(reason(
            "sustained",
            pts,
            format!(
                "sustained for {secs} s ({} hot windows of {w} s, overlapping by half)",
                i.hot_windows
            ),
            Some(secs as f64),
            None,
        ));
    }
}

/// Someone at this Mac's keyboard (a TTY via a local terminal): ranked lower, still a flood. The
/// discount is for ambiguous volume (a load test, a speed test): a command line that declares a flood
/// gets none.
fn interactive_reason(i: &ScoreInput) -> Reason {
    let c = i.ctx;
    let who = c
        .responsible
        .as_deref()
        .map(crate::process::basename)
        .unwrap_or(c.launched_by.as_str());
    let (points, note) = if i.declared.is_some() {
        (0, "no discount: its command line declares a flood")
    } else {
        (i.cfg.scoring.interactive, "ranked lower, still a flood")
    };
    reason(
        "interactive",
        points,
        format!(
            "interactive: TTY {} via {who} ({note})",
            c.tty.as_deref().unwrap_or("?")
        ),
        None,
        None,
    )
}

/// A network finding's score. A network sensor sees no process, parent, TTY or user, so there is no
/// context to add: the score is the finding's strength alone. A scan scores nothing (it is never a
/// flood). A flood scores 50 at its threshold and 10 more per whole doubling past it (`peak_ratio`:
/// its peak window's strongest rate over that rate's threshold), counting up to two doublings: without
/// process context a network finding stops at high, never critical.
pub fn network_score(class: NetworkClass, peak_ratio: f64) -> u8 {
    match class {
        NetworkClass::Scan | NetworkClass::Inbound => 0,
        NetworkClass::Flood => {
            let doublings = if peak_ratio >= 4.0 {
                2
            } else if peak_ratio >= 2.0 {
                1
            } else {
                0
            };
            50 + 10 * doublings
        }
    }
}

/// 40312 as "40,312".
fn fmt_count(n: u64) -> String {
    if n >= 1000 {
        fmt_rate(n as f64)
    } else {
        n.to_string()
    }
}

fn signal_label(signal: &str) -> &'static str {
    match signal {
        "spawns_per_s" => "network-tool execs/s",
        "packets_per_s" => "outbound packets/s",
        "bytes_per_s" => "outbound",
        _ => "new connections/s",
    }
}

fn signal_value(signal: &str, v: f64) -> String {
    if signal == "bytes_per_s" {
        fmt_bytes_rate(v)
    } else {
        fmt_rate(v)
    }
}

/// Which baseline judged an alert, in one line (the alert's `baseline` field).
pub fn baseline_text(j: &Judgement, cfg: &Config) -> String {
    let k = &j.key;
    let what = format!("{} under {} on role {}", k.identity, k.parent_class, k.role);
    match j.standing {
        Standing::Missing if !j.role_learned => format!(
            "no baseline learned for role {} yet: absolute thresholds from the config",
            k.role
        ),
        Standing::Missing => format!(
            "no baseline for {what}: absolute thresholds from the config"
        ),
        Standing::Immature => format!(
            "baseline for {what} is immature ({} windows over {:.1} days; mature at {} windows and {} days): absolute thresholds from the config",
            j.windows, j.days, cfg.baseline.min_windows, cfg.baseline.min_days
        ),
        Standing::Mature => format!(
            "mature baseline for {what}: {} windows over {:.0} days on {} host(s)",
            j.windows, j.days, j.hosts
        ),
    }
}

fn baseline_reasons(j: &Judgement, cfg: &Config) -> Vec<Reason> {
    let s = &cfg.scoring;
    let k = &j.key;
    let mut out = Vec::new();
    if j.over_ceiling && j.standing == Standing::Mature {
        out.push(reason(
            "baseline_ceiling",
            0,
            format!(
                "above the ceiling a baseline can raise the bar to ({}× the absolute threshold, baseline.max_raise): not absorbed by the baseline of {}",
                fmt_rate(cfg.baseline.max_raise),
                k.identity
            ),
            None,
            Some(cfg.baseline.max_raise),
        ));
    }
    match (j.standing, &j.deviation) {
        (Standing::Mature, Some(d)) => {
            let times = if d.ratio.is_finite() {
                format!("{}×", fmt_rate(d.ratio))
            } else {
                "far above (never seen before)".to_string()
            };
            out.push(reason(
                "baseline_deviation",
                if d.ratio >= 2.0 { s.baseline_deviation } else { 0 },
                format!(
                    "{times} the p99 of {} under {} on role {} ({} {} vs p99 {}; baseline of {:.0} days, {} windows, {} host(s))",
                    k.identity,
                    k.parent_class.replace('_', " "),
                    k.role,
                    signal_value(&d.signal, d.value),
                    signal_label(&d.signal),
                    signal_value(&d.signal, d.p99),
                    j.days,
                    fmt_count(j.windows),
                    j.hosts
                ),
                Some(d.value),
                Some(d.p99),
            ));
        }
        (Standing::Mature, None) => {}
        (Standing::Immature, _) => out.push(reason(
            "baseline_immature",
            0,
            format!(
                "baseline immature for {} under {} on role {} ({} windows over {:.1} days; needs {} windows and {} days): judged by absolute thresholds",
                k.identity,
                k.parent_class.replace('_', " "),
                k.role,
                j.windows,
                j.days,
                cfg.baseline.min_windows,
                cfg.baseline.min_days
            ),
            Some(j.windows as f64),
            Some(cfg.baseline.min_windows as f64),
        )),
        (Standing::Missing, _) => {}
    }
    // Only where something was learned for the role: with no baselines at all, everything is "new".
    if !j.seen_on_host && j.role_learned {
        out.push(reason(
            "first_seen",
            s.first_seen,
            if j.standing == Standing::Missing {
                format!(
                    "first-seen network activity: {} under {} was never learned on role {}",
                    k.identity,
                    k.parent_class.replace('_', " "),
                    k.role
                )
            } else {
                format!(
                    "first-seen network activity on this host: {} under {} was learned on {} other host(s) of role {}, not this one",
                    k.identity,
                    k.parent_class.replace('_', " "),
                    j.hosts,
                    k.role
                )
            },
            None,
            None,
        ));
    }
    out
}
