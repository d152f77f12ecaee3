//! `eval`: scores a hunt against ground-truth labels (from `floodwatch simulate`, or written by hand).
//!
//! Labels are JSON lines: `{"host","family","attack","should_alert","subject_pid","subject_path",
//! "start","end","note"}` with RFC 3339 times. An alert *matches* a label on the same host when their
//! times overlap (the label's span widened by one window each side) and, if the label names a pid, the
//! alert's subject, a parent of it or one of its evidences is that pid. Each alert counts for at most one
//! label (the best match); alerts that match no label are false alerts of their own row.

use floodwatch_core::alert::{Alert, HostVerdict};
use floodwatch_core::{Error, Result, Ts};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

/// One labelled activity; the simulator writes and reads the same format.
pub use floodwatch_sim::Label;

/// Reads a labels file; a malformed line is an error naming its line (labels are the yardstick).
pub fn read_labels(path: &Path) -> Result<Vec<Label>> {
    floodwatch_sim::read_labels(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::InvalidData => Error::Input(e.to_string()),
        _ => Error::io(format!("reading labels {}", path.display()), e),
    })
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct FamilyScore {
    pub family: String,
    pub attack: bool,
    /// Labels of this family, and how many of them should raise an alert.
    pub labels: u32,
    pub expected: u32,
    /// Expected labels with a matching alert, and without one.
    pub detected: u32,
    pub missed: u32,
    /// Alerts matched to labels of this family that should not alert.
    pub false_alerts: u32,
    pub precision: Option<f64>,
    pub recall: Option<f64>,
    pub f1: Option<f64>,
    /// Flood start to the end of the first hot window, in event time (seconds).
    pub ttd_median_s: Option<f64>,
    pub ttd_max_s: Option<f64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Miss {
    pub host: String,
    pub family: String,
    pub start: Ts,
    pub subject_pid: Option<i32>,
    pub reason: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct FalseAlert {
    pub host: String,
    pub family: String,
    pub score: u8,
    pub subject: String,
    pub first_reason: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Evaluation {
    pub families: Vec<FamilyScore>,
    pub hosts: usize,
    pub host_days: f64,
    pub alerts: usize,
    pub correct_alerts: usize,
    pub false_alerts: Vec<FalseAlert>,
    /// False alerts per host-day over the hosts that only carry benign labels.
    pub benign_alerts_per_host_day: Option<f64>,
    pub precision: Option<f64>,
    pub recall: Option<f64>,
    pub f1: Option<f64>,
    /// Expected detections that did not happen, worst (earliest and longest) first.
    pub misses: Vec<Miss>,
}

fn ratio(a: u32, b: u32) -> Option<f64> {
    (b > 0).then(|| a as f64 / b as f64)
}

fn f1(p: Option<f64>, r: Option<f64>) -> Option<f64> {
    match (p, r) {
        (Some(p), Some(r)) if p + r > 0.0 => Some(2.0 * p * r / (p + r)),
        (Some(_), Some(_)) => Some(0.0),
        _ => None,
    }
}

fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    Some(v[v.len() / 2])
}

/// How well `alert` fits `label`: None when it does not match at all; higher is better.
fn fit(alert: &Alert, label: &Label, window_ns: i64) -> Option<u8> {
    if alert.host != label.host {
        return None;
    }
    let from = label.start.add_nanos(-window_ns);
    let to = label.end.add_nanos(window_ns);
    if alert.last_seen < from || alert.first_seen > to {
        return None;
    }
    let Some(pid) = label.subject_pid else {
        return Some(1);
    };
    if alert.subject.process.pid == pid {
        return Some(3);
    }
    let related = alert.subject.parents.iter().any(|p| p.pid == pid)
        || alert.evidences.iter().any(|e| e.pid == Some(pid));
    related.then_some(2)
}

/// Scores `alerts` (one per episode, as a hunt gives them) against `labels`.
pub fn evaluate(
    labels: &[Label],
    alerts: &[Alert],
    verdicts: &[HostVerdict],
    window_secs: u64,
) -> Evaluation {
    let window_ns = window_secs as i64 * 1_000_000_000;
    // Each alert goes to its best-fitting label (ties: the earliest-starting label).
    let mut by_label: BTreeMap<usize, Vec<&Alert>> = BTreeMap::new();
    let mut unmatched: Vec<&Alert> = Vec::new();
    for a in alerts {
        let best = labels
            .iter()
            .enumerate()
            .filter_map(|(i, l)| fit(a, l, window_ns).map(|f| (f, std::cmp::Reverse(l.start), i)))
            .max();
        match best {
            Some((_, _, i)) => by_label.entry(i).or_default().push(a),
            None => unmatched.push(a),
        }
    }

    let mut fams: BTreeMap<&str, FamilyScore> = BTreeMap::new();
    let mut ttds: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    let mut misses = Vec::new();
    let mut false_alerts = Vec::new();
    let mut correct = 0usize;
    for (i, l) in labels.iter().enumerate() {
        let f = fams.entry(&l.family).or_insert_with(|| FamilyScore {
            family: l.family.clone(),
            attack: l.attack,
            ..FamilyScore::default()
        });
        f.labels += 1;
        let matched = by_label.get(&i).map(Vec::as_slice).unwrap_or(&[]);
        if l.should_alert {
            f.expected += 1;
            if let Some(first) = matched.iter().map(|a| a.first_seen).min() {
                f.detected += 1;
                correct += matched.len();
                let detect = first.add_nanos(window_ns);
                ttds.entry(&l.family)
                    .or_default()
                    .push(((detect.0 - l.start.0).max(0)) as f64 / 1e9);
            } else {
                f.missed += 1;
                let verdict = verdicts.iter().find(|v| v.host == l.host);
                let reason = match verdict.and_then(|v| v.closest.as_deref()) {
                    Some(c) => {
                        format!("no alert; the host's closest subject below a threshold: {c}")
                    }
                    None => "no alert, and no in-scope activity was judged on the host".into(),
                };
                misses.push(Miss {
                    host: l.host.clone(),
                    family: l.family.clone(),
                    start: l.start,
                    subject_pid: l.subject_pid,
                    reason,
                });
            }
        } else {
            f.false_alerts += matched.len() as u32;
            for a in matched {
                false_alerts.push(false_alert(a, &l.family));
            }
        }
    }
    for a in &unmatched {
        false_alerts.push(false_alert(a, "(no label)"));
    }
    for f in fams.values_mut() {
        let claimed = f.detected + f.false_alerts;
        f.precision = ratio(f.detected, claimed);
        f.recall = ratio(f.detected, f.expected);
        f.f1 = f1(f.precision, f.recall);
        if let Some(v) = ttds.get_mut(f.family.as_str()) {
            f.ttd_max_s = v.iter().copied().reduce(f64::max);
            f.ttd_median_s = median(v);
        }
    }

    // Host-days: each hunted host's event-time span (the labels' span for hosts the hunt did not
    // report, e.g. when scoring without verdicts).
    let mut spans: BTreeMap<&str, (Ts, Ts)> = BTreeMap::new();
    for v in verdicts {
        if let (Some(a), Some(b)) = (v.first_event, v.last_event) {
            spans.insert(&v.host, (a, b));
        }
    }
    if verdicts.is_empty() {
        for l in labels {
            let e = spans.entry(&l.host).or_insert((l.start, l.end));
            e.0 = e.0.min(l.start);
            e.1 = e.1.max(l.end);
        }
    }
    let day = 86_400e9;
    let days = |(a, b): (Ts, Ts)| ((b.0 - a.0).max(0) as f64) / day;
    let host_days: f64 = spans.values().map(|s| days(*s)).sum();
    let benign_hosts: Vec<&str> = spans
        .keys()
        .copied()
        .filter(|h| !labels.iter().any(|l| l.host == *h && l.attack))
        .collect();
    let benign_days: f64 = benign_hosts.iter().map(|h| days(spans[h])).sum();
    let benign_false = false_alerts
        .iter()
        .filter(|f| benign_hosts.contains(&f.host.as_str()))
        .count();
    let expected: u32 = fams.values().map(|f| f.expected).sum();
    let detected: u32 = fams.values().map(|f| f.detected).sum();
    let precision = (!alerts.is_empty()).then(|| correct as f64 / alerts.len() as f64);
    let recall = ratio(detected, expected);
    misses.sort_by(|a, b| a.start.cmp(&b.start).then(a.host.cmp(&b.host)));
    Evaluation {
        families: fams.into_values().collect(),
        hosts: spans.len(),
        host_days,
        alerts: alerts.len(),
        correct_alerts: correct,
        false_alerts,
        benign_alerts_per_host_day: (benign_days > 0.0).then(|| benign_false as f64 / benign_days),
        precision,
        recall,
        f1: f1(precision, recall),
        misses,
    }
}

fn false_alert(a: &Alert, family: &str) -> FalseAlert {
    let p = &a.subject.process;
    FalseAlert {
        host: a.host.clone(),
        family: family.to_string(),
        score: a.score,
        subject: format!(
            "{} (pid {})",
            p.path.as_deref().or(p.cmd_line.as_deref()).unwrap_or("?"),
            p.pid
        ),
        first_reason: a
            .reasons
            .first()
            .map(|r| r.text.clone())
            .unwrap_or_default(),
    }
}

fn pct(v: Option<f64>) -> String {
    v.map_or("–".into(), |v| format!("{:.2}", v))
}

fn secs(v: Option<f64>) -> String {
    v.map_or("–".into(), |v| format!("{v:.0} s"))
}

use floodwatch_sinks::escape::markdown_cell as cell;

impl Evaluation {
    /// The family table and the headline numbers, for the HTML and Markdown reports.
    pub fn to_section(&self) -> floodwatch_sinks::report::Section {
        let headers = [
            "family",
            "kind",
            "labels",
            "expected",
            "detected",
            "missed",
            "false alerts",
            "precision",
            "recall",
            "F1",
            "time to detect (median / max)",
        ];
        let mut fams: Vec<&FamilyScore> = self.families.iter().collect();
        fams.sort_by(|a, b| b.attack.cmp(&a.attack).then(a.family.cmp(&b.family)));
        let rows = fams
            .iter()
            .map(|f| {
                vec![
                    f.family.clone(),
                    if f.attack { "attack" } else { "benign" }.to_string(),
                    f.labels.to_string(),
                    f.expected.to_string(),
                    f.detected.to_string(),
                    f.missed.to_string(),
                    f.false_alerts.to_string(),
                    pct(f.precision),
                    pct(f.recall),
                    pct(f.f1),
                    format!("{} / {}", secs(f.ttd_median_s), secs(f.ttd_max_s)),
                ]
            })
            .collect();
        let mut lines = vec![self.headline()];
        lines.extend(self.misses.iter().take(10).map(|m| {
            format!(
                "Missed: {} on {} at {}: {}",
                m.family, m.host, m.start, m.reason
            )
        }));
        lines.extend(self.false_alerts.iter().take(10).map(|f| {
            format!(
                "False alert: {} on {} (score {}): {} — {}",
                f.family, f.host, f.score, f.subject, f.first_reason
            )
        }));
        floodwatch_sinks::report::Section {
            title: "Evaluation against the labels".into(),
            headers: headers.iter().map(|h| h.to_string()).collect(),
            rows,
            lines,
        }
    }

    fn headline(&self) -> String {
        format!(
            "Overall: {} alerts, {} correct; precision {}, recall {}, F1 {}. {} hosts, {:.2} host-days; \
             false alerts per host-day on benign-only hosts: {}.",
            self.alerts,
            self.correct_alerts,
            pct(self.precision),
            pct(self.recall),
            pct(self.f1),
            self.hosts,
            self.host_days,
            self.benign_alerts_per_host_day
                .map_or("–".into(), |v| format!("{v:.3}"))
        )
    }

    pub fn to_markdown(&self) -> String {
        let mut s = String::new();
        s.push_str("| family | kind | labels | expected | detected | missed | false alerts | precision | recall | F1 | time to detect (median / max) |\n");
        s.push_str("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
        let mut fams: Vec<&FamilyScore> = self.families.iter().collect();
        fams.sort_by(|a, b| b.attack.cmp(&a.attack).then(a.family.cmp(&b.family)));
        for f in fams {
            s.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} / {} |\n",
                cell(&f.family),
                if f.attack { "attack" } else { "benign" },
                f.labels,
                f.expected,
                f.detected,
                f.missed,
                f.false_alerts,
                pct(f.precision),
                pct(f.recall),
                pct(f.f1),
                secs(f.ttd_median_s),
                secs(f.ttd_max_s)
            ));
        }
        s.push_str(&format!("\n**{}**\n", cell(&self.headline())));
        if !self.misses.is_empty() {
            s.push_str("\n**Misses** (expected alerts that did not happen):\n\n");
            for m in self.misses.iter().take(10) {
                s.push_str(&format!(
                    "- {} on {} at {}{}: {}\n",
                    cell(&m.family),
                    cell(&m.host),
                    m.start,
                    m.subject_pid
                        .map_or(String::new(), |p| format!(" (pid {p})")),
                    cell(&m.reason)
                ));
            }
        }
        if !self.false_alerts.is_empty() {
            s.push_str("\n**False alerts**:\n\n");
            for f in self.false_alerts.iter().take(10) {
                s.push_str(&format!(
                    "- {} on {} (score {}): {} — {}\n",
                    cell(&f.family),
                    cell(&f.host),
                    f.score,
                    cell(&f.subject),
                    cell(&f.first_reason)
                ));
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use floodwatch_core::alert::{ProcessView, SubjectView};

    fn t(s: i64) -> Ts {
        Ts::from_secs(1_757_980_800 + s)
    }

    fn label(host: &str, family: &str, attack: bool, pid: i32, start: i64) -> Label {
        Label {
            host: host.into(),
            family: family.into(),
            attack,
            should_alert: attack,
            subject_pid: Some(pid),
            subject_path: None,
            start: t(start),
            end: t(start + 60),
            note: String::new(),
        }
    }

    fn alert(host: &str, pid: i32, first: i64) -> Alert {
        Alert {
            id: format!("{host}-{pid}-{first}"),
            host: host.into(),
            status: floodwatch_core::alert::AlertStatus::Closed,
            first_seen: t(first),
            last_seen: t(first + 30),
            score: 70,
            severity: floodwatch_core::alert::Severity::High,
            reasons: vec![],
            metrics: Default::default(),
            subject: SubjectView {
                kind: "process".into(),
                process: ProcessView {
                    path: Some("/x".into()),
                    ..ProcessView::unknown(pid)
                },
                parents: vec![],
                children: vec![],
            },
            context: Default::default(),
            evidences: vec![],
            timeline: vec![],
            baseline: String::new(),
            suppressed_by: None,
            suppression_notes: vec![],
            campaign: None,
            playbook: None,
            facts: Default::default(),
        }
    }

    #[test]
    fn scores_detections_misses_and_false_alerts_per_family() {
        let labels = vec![
            label("h1", "curl-loop", true, 100, 0),
            label("h2", "curl-loop", true, 200, 0),
            label("h3", "admin-ping", false, 300, 0),
        ];
        // h1 detected 10 s in; h2 missed (alert on another pid, far away in time); h3 falsely alerted.
        let alerts = vec![
            alert("h1", 100, 0),
            alert("h2", 999, 5_000),
            alert("h3", 300, 10),
        ];
        // The hunt read a whole day of each host.
        let verdicts: Vec<HostVerdict> = ["h1", "h2", "h3"]
            .iter()
            .map(|h| HostVerdict {
                host: h.to_string(),
                first_event: Some(t(0)),
                last_event: Some(t(86_400)),
                ..HostVerdict::default()
            })
            .collect();
        let e = evaluate(&labels, &alerts, &verdicts, 30);
        let curl = e.families.iter().find(|f| f.family == "curl-loop").unwrap();
        assert_eq!((curl.expected, curl.detected, curl.missed), (2, 1, 1));
        assert_eq!(curl.recall, Some(0.5));
        assert_eq!(curl.ttd_median_s, Some(30.0));
        let ping = e
            .families
            .iter()
            .find(|f| f.family == "admin-ping")
            .unwrap();
        assert_eq!(ping.false_alerts, 1);
        assert_eq!(
            e.false_alerts.len(),
            2,
            "h3's alert and h2's unlabelled one"
        );
        assert_eq!(e.misses.len(), 1);
        assert_eq!(e.misses[0].host, "h2");
        assert_eq!(e.precision, Some(1.0 / 3.0));
        // h3 carries only benign labels: one false alert on one host-day.
        assert_eq!(e.benign_alerts_per_host_day, Some(1.0));
        assert_eq!(e.host_days, 3.0);
        let md = e.to_markdown();
        assert!(
            md.contains(
                "| curl-loop | attack | 2 | 2 | 1 | 1 | 0 | 1.00 | 0.50 | 0.67 | 30 s / 30 s |"
            ),
            "{md}"
        );
    }

    #[test]
    fn labels_file_round_trip_and_bad_lines_are_located() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("labels.jsonl");
        std::fs::write(
            &p,
            "{\"host\":\"h1\",\"family\":\"x\",\"attack\":true,\"should_alert\":true,\"subject_pid\":5,\
             \"start\":\"2025-09-16T03:12:00.250000000Z\",\"end\":\"2025-09-16T03:13:00Z\"}\n",
        )
        .unwrap();
        let l = read_labels(&p).unwrap();
        assert_eq!(l[0].subject_pid, Some(5));
        assert_eq!(l[0].start.to_rfc3339_millis(), "2025-09-16T03:12:00.250Z");
        std::fs::write(&p, "{\"host\":\"h1\"}\n").unwrap();
        let err = read_labels(&p).unwrap_err().to_string();
        assert!(
            err.contains("labels.jsonl:1: missing") && err.contains("family"),
            "{err}"
        );
    }
}
