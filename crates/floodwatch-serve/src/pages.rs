//! The HTML pages: the queue and an alert, rendered by askama (contextual auto-escaping) from
//! strings whose control and bidi characters were first made visible (`\x1b`, `\u{202e}`), so a
//! command line can neither inject markup nor reorder or hide what the analyst reads.

use crate::guard::same;
use crate::{with_store, AppState, Failure};
use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use floodwatch_analysis::tune::fmt_signal;
use floodwatch_core::alert::{Alert, Metrics, Reason, WindowPoint};
use floodwatch_core::respond::Playbook;
use floodwatch_core::Ts;
use floodwatch_engine::suppress::{check_entries, entry_toml, refuse_unowned, EntryFields};
use floodwatch_sinks::escape::terminal;
use floodwatch_sinks::report::chart_svg;
use floodwatch_sinks::respond::playbook_html;
use floodwatch_store::alerts::{AlertRow, HistoryRow, Mark, QueueFilter, SimilarRow};
use floodwatch_store::suppressions::{NewSuppression, SuppressionRow};
use serde::Deserialize;
use std::sync::Arc;

/// Attacker-written text, with its control and bidi characters shown as escapes.
fn shown(s: &str) -> String {
    terminal(s).into_owned()
}

/// Alerts per page of the queue.
pub const PAGE: usize = 100;

#[derive(Deserialize, Default)]
pub struct QueueQuery {
    pub host: Option<String>,
    pub state: Option<String>,
    pub severity: Option<String>,
    /// Free text over subject, command line and headline.
    pub q: Option<String>,
    /// RFC 3339 (or a prefix of it: `2025-09-15`) bounds on when the alerts were seen.
    pub from: Option<String>,
    pub to: Option<String>,
    pub page: Option<usize>,
}

/// One queue row, ready to show.
pub struct Row {
    pub id: String,
    pub host: String,
    pub severity: String,
    pub score: u8,
    pub state: String,
    pub mark: String,
    pub first_seen: String,
    pub subject: String,
    pub cmd_line: String,
    pub headline: String,
}

impl Row {
    fn of(a: &AlertRow) -> Row {
        Row {
            id: a.id.clone(),
            host: shown(&a.host),
            severity: a.severity.clone(),
            score: a.score,
            state: if a.suppressed_by.is_some() {
                "suppressed".into()
            } else {
                a.state.clone()
            },
            mark: a.mark.clone().unwrap_or_default(),
            first_seen: a.first_seen.clone(),
            subject: shown(&a.subject),
            cmd_line: shown(a.cmd_line.as_deref().unwrap_or("")),
            headline: shown(&a.headline),
        }
    }
}

#[derive(Template)]
#[template(path = "queue.html")]
pub struct QueuePage {
    /// Fleet-wide campaigns (severity, score, destination, hosts, when, members, id).
    pub campaigns: Vec<[String; 7]>,
    /// Network-level findings (severity, host, local, target, when, headline, joined process).
    pub network: Vec<[String; 7]>,
    pub rows: Vec<Row>,
    pub counts: Vec<(String, usize)>,
    pub total: u64,
    pub host: String,
    pub state: String,
    pub severity: String,
    pub q: String,
    pub from: String,
    pub to: String,
    pub page: usize,
    pub pages: usize,
}

/// The store's filter for a queue request, page `page` (1-based).
pub(crate) fn queue_filter(f: &QueueQuery, page: usize) -> QueueFilter {
    let given = |s: &Option<String>| s.clone().filter(|s| !s.trim().is_empty());
    QueueFilter {
        host: given(&f.host),
        state: given(&f.state),
        severity: given(&f.severity),
        text: given(&f.q),
        from: given(&f.from),
        to: given(&f.to),
        offset: ((page.max(1) - 1) * PAGE) as u64,
        limit: PAGE as u32,
    }
}

pub async fn queue(
    State(state): State<Arc<AppState>>,
    Query(f): Query<QueueQuery>,
) -> Result<Response, Failure> {
    let page = f.page.unwrap_or(1).max(1);
    let filter = queue_filter(&f, page);
    let host = filter.host.clone();
    let (q, campaigns, network) = with_store(&state, move |st| {
        let q = st.queue(&filter)?;
        let campaigns = st.list_campaigns(host.as_deref())?;
        let network = st.list_network(host.as_deref())?;
        Ok((q, campaigns, network))
    })
    .await?;
    let pages = (q.total as usize).div_ceil(PAGE).max(1);
    let mut counts: Vec<(String, usize)> = [
        "open",
        "closed",
        "acknowledged",
        "false_positive",
        "suppressed",
    ]
    .iter()
    .map(|s| (s.to_string(), 0))
    .collect();
    for (k, n) in &q.counts {
        if let Some(c) = counts.iter_mut().find(|(name, _)| name == k) {
            c.1 = *n as usize;
        }
    }
    let page_html = QueuePage {
        campaigns: campaigns
            .iter()
            .map(|c| {
                [
                    c.severity.clone(),
                    c.score.to_string(),
                    shown(&c.destination),
                    format!("{} host(s): {}", c.hosts, shown(&c.host_list)),
                    format!("{} to {}", c.first_seen, c.last_seen),
                    format!("{} member(s)", c.members),
                    c.id.clone(),
                ]
            })
            .collect(),
        network: network
            .iter()
            .map(|n| {
                [
                    n.severity.clone(),
                    shown(&n.host),
                    shown(&n.local),
                    shown(n.target.as_deref().unwrap_or("")),
                    format!("{} to {}", n.first_seen, n.last_seen),
                    shown(&n.headline),
                    shown(&n.joined),
                ]
            })
            .collect(),
        rows: q.rows.iter().map(Row::of).collect(),
        counts,
        total: q.total,
        host: f.host.unwrap_or_default(),
        state: f.state.unwrap_or_default(),
        severity: f.severity.unwrap_or_default(),
        q: f.q.unwrap_or_default(),
        from: f.from.unwrap_or_default(),
        to: f.to.unwrap_or_default(),
        page,
        pages,
    }
    .render()
    .map_err(|e| Failure::BadRequest(format!("rendering the queue: {e}")))?;
    Ok(Html(page_html).into_response())
}

#[derive(Template)]
#[template(path = "alert.html")]
pub struct AlertPage {
    pub row: Row,
    /// Prefilled match of a suppression made from this alert (raw values: the template escapes).
    pub suppress_path: String,
    pub suppress_host: String,
    pub reasons: Vec<(i64, String)>,
    pub evidence: Vec<EvidenceRow>,
    /// The playbook, rendered by the report's own escaping renderer (`floodwatch-sinks`).
    pub playbook_html: String,
    /// The rate per window against the threshold: the report's SVG chart (escaping, no script).
    pub chart_svg: String,
    pub similar: Vec<SimilarShown>,
    pub history: Vec<(String, String, String, String)>,
    pub mark_by: String,
    pub mark_reason: String,
    pub csrf: String,
}

/// One item of evidence, located (file:line).
pub struct EvidenceRow {
    pub time: String,
    pub kind: String,
    pub pid: String,
    pub what: String,
    pub remote: String,
    pub bytes: String,
    pub at: String,
}

/// An earlier alert like this one, and what analysts decided about it.
pub struct SimilarShown {
    pub id: String,
    pub host: String,
    pub first_seen: String,
    pub subject: String,
    pub shares: String,
    pub disposition: String,
}

pub async fn alert(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Response, Failure> {
    let key = id.clone();
    let found = with_store(&state, move |st| {
        let Some(found) = st.alert(&key)? else {
            return Ok(None);
        };
        let similar = st.similar_alerts(&found.0.id, 20)?.map(|(_, rows)| rows);
        Ok(Some((found, similar.unwrap_or_default())))
    })
    .await?;
    let Some(((row, json, history), similar)) = found else {
        return Err(Failure::NotFound(format!("no alert {}", shown(&id))));
    };
    let detail: serde_json::Value = serde_json::from_str(&json).unwrap_or_default();
    let page = AlertPage {
        // Prefilled only when nothing in it would be invisible in an input box.
        suppress_path: Some(row.subject.clone())
            .filter(|p| shown(p) == *p)
            .unwrap_or_default(),
        suppress_host: Some(row.host.clone())
            .filter(|h| shown(h) == *h)
            .unwrap_or_default(),
        reasons: reasons_of(&json),
        evidence: evidence_of(&detail),
        chart_svg: chart_of(&detail),
        playbook_html: detail
            .get("playbook")
            .cloned()
            .and_then(|p| serde_json::from_value::<Playbook>(p).ok())
            .map(|p| playbook_html(&p))
            .unwrap_or_default(),
        similar: similar.iter().map(similar_shown).collect(),
        history: history.iter().map(history_row).collect(),
        mark_by: shown(row.mark_by.as_deref().unwrap_or("")),
        mark_reason: shown(row.mark_reason.as_deref().unwrap_or("")),
        row: Row::of(&row),
        csrf: state.csrf.clone(),
    }
    .render()
    .map_err(|e| Failure::BadRequest(format!("rendering the alert: {e}")))?;
    Ok(Html(page).into_response())
}

/// (points, sentence) of every reason in the stored alert.
pub(crate) fn reasons_of(json: &str) -> Vec<(i64, String)> {
    let v: serde_json::Value = serde_json::from_str(json).unwrap_or_default();
    v.get("reasons")
        .and_then(|r| r.as_array())
        .map(|rs| {
            rs.iter()
                .map(|r| {
                    (
                        r.get("points").and_then(|p| p.as_i64()).unwrap_or(0),
                        shown(r.get("text").and_then(|t| t.as_str()).unwrap_or("")),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The stored alert's windows drawn as the incident report draws them: the reasons (the first one
/// picks the signal and its threshold), the timeline and the window length are read back from its JSON.
fn chart_of(detail: &serde_json::Value) -> String {
    let f = |v: &serde_json::Value, k: &str| v.get(k).and_then(|x| x.as_f64());
    let reasons: Vec<Reason> = detail
        .get("reasons")
        .and_then(|r| r.as_array())
        .map(|rs| {
            rs.iter()
                .map(|r| Reason {
                    code: r.get("code").and_then(|c| c.as_str()).unwrap_or("").into(),
                    points: r.get("points").and_then(|p| p.as_i64()).unwrap_or(0) as i32,
                    text: String::new(),
                    value: f(r, "value"),
                    threshold: f(r, "threshold"),
                })
                .collect()
        })
        .unwrap_or_default();
    let timeline: Vec<WindowPoint> = detail
        .get("timeline")
        .and_then(|t| t.as_array())
        .map(|ps| {
            ps.iter()
                .map(|p| WindowPoint {
                    start: Ts(p.get("start").and_then(|s| s.as_i64()).unwrap_or(0)),
                    packets_per_s: f(p, "packets_per_s").unwrap_or(0.0),
                    bytes_per_s: f(p, "bytes_per_s").unwrap_or(0.0),
                    connections_per_s: f(p, "connections_per_s").unwrap_or(0.0),
                    spawns_per_s: f(p, "spawns_per_s").unwrap_or(0.0),
                    hot: p.get("hot").and_then(|h| h.as_bool()).unwrap_or(false),
                })
                .collect()
        })
        .unwrap_or_default();
    if timeline.is_empty() {
        return String::new();
    }
    let window_secs = detail
        .pointer("/metrics/window_secs")
        .and_then(|w| w.as_u64())
        .unwrap_or(0);
    chart_svg(&Alert {
        reasons,
        timeline,
        metrics: Metrics {
            window_secs,
            ..Metrics::default()
        },
        ..Alert::default()
    })
}

/// The alert's located evidence, as stored.
fn evidence_of(detail: &serde_json::Value) -> Vec<EvidenceRow> {
    let text = |e: &serde_json::Value, k: &str| -> String {
        match e.get(k) {
            Some(serde_json::Value::String(s)) => shown(s),
            Some(serde_json::Value::Number(n)) => n.to_string(),
            _ => String::new(),
        }
    };
    detail
        .get("evidences")
        .and_then(|e| e.as_array())
        .map(|items| {
            items
                .iter()
                .map(|e| EvidenceRow {
                    time: e
                        .get("time")
                        .and_then(|t| t.as_i64())
                        .map(|t| Ts(t).to_rfc3339_millis())
                        .unwrap_or_default(),
                    kind: text(e, "kind"),
                    pid: text(e, "pid"),
                    what: match text(e, "cmd_line") {
                        c if c.is_empty() => text(e, "process"),
                        c => c,
                    },
                    remote: text(e, "remote"),
                    bytes: text(e, "bytes_out"),
                    at: format!("{}:{}", text(e, "file"), text(e, "line")),
                })
                .collect()
        })
        .unwrap_or_default()
}

fn similar_shown(r: &SimilarRow) -> SimilarShown {
    let disposition = match (&r.mark, &r.suppressed_by) {
        (Some(m), _) => format!(
            "{m} by {}: {}",
            shown(r.mark_by.as_deref().unwrap_or("?")),
            shown(r.mark_reason.as_deref().unwrap_or(""))
        ),
        (None, Some(s)) => format!("suppressed by {}", shown(s)),
        (None, None) => r.state.clone(),
    };
    SimilarShown {
        id: r.id.clone(),
        host: shown(&r.host),
        first_seen: r.first_seen.clone(),
        subject: shown(&r.subject),
        shares: r.shares.join(", "),
        disposition,
    }
}

fn history_row(h: &HistoryRow) -> (String, String, String, String) {
    (
        h.at.clone(),
        h.event.clone(),
        shown(h.actor.as_deref().unwrap_or("")),
        shown(h.note.as_deref().unwrap_or("")),
    )
}

#[derive(Deserialize)]
pub struct MarkForm {
    pub csrf: Option<String>,
    pub action: String,
    pub by: String,
    pub reason: String,
}

/// What an action name does, or None.
pub(crate) fn mark_of(action: &str) -> Option<Mark> {
    match action {
        "ack" => Some(Mark::Acknowledged),
        "fp" => Some(Mark::FalsePositive),
        "unmark" => Some(Mark::Unmarked),
        _ => None,
    }
}

pub async fn mark(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    Form(f): Form<MarkForm>,
) -> Result<Response, Failure> {
    if !f.csrf.as_deref().is_some_and(|t| same(t, &state.csrf)) {
        return Ok((StatusCode::FORBIDDEN, "missing or wrong CSRF token").into_response());
    }
    let Some(m) = mark_of(&f.action) else {
        return Err(Failure::BadRequest(format!(
            "unknown action {}",
            shown(&f.action)
        )));
    };
    if f.by.trim().is_empty() || f.reason.trim().is_empty() {
        return Err(Failure::BadRequest("who and why are required".into()));
    }
    let key = id.clone();
    let done = with_store(&state, move |st| {
        st.mark_alert(&key, m, f.by.trim(), f.reason.trim(), Ts::now())
    })
    .await?;
    match done {
        Some(full) => Ok(Redirect::to(&format!("/alerts/{full}")).into_response()),
        None => Err(Failure::NotFound(format!("no alert {}", shown(&id)))),
    }
}

#[derive(Deserialize)]
pub struct SuppressForm {
    pub csrf: Option<String>,
    pub by: String,
    pub id: String,
    pub owner: String,
    pub reason: String,
    pub expires: String,
    #[serde(default)]
    pub path: String,
    #[serde(default)]
    pub argv: String,
    #[serde(default)]
    pub parent: String,
    #[serde(default)]
    pub host: String,
    #[serde(default)]
    pub max_spawns_per_s: String,
    #[serde(default)]
    pub max_bytes_per_s: String,
}

/// A suppression from an alert's page: owner, reason and expiry required, a rate ceiling offered.
/// Validated as `suppress add` validates it, stored with who added it; the next hunt applies it.
pub async fn suppress(
    State(state): State<Arc<AppState>>,
    Path(alert_id): Path<String>,
    Form(f): Form<SuppressForm>,
) -> Result<Response, Failure> {
    if !f.csrf.as_deref().is_some_and(|t| same(t, &state.csrf)) {
        return Ok((StatusCode::FORBIDDEN, "missing or wrong CSRF token").into_response());
    }
    let given = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
    let mut ceilings = Vec::new();
    for (key, text) in [
        ("spawns_per_s", &f.max_spawns_per_s),
        ("bytes_per_s", &f.max_bytes_per_s),
    ] {
        if let Some(t) = given(text) {
            let v: f64 = t
                .parse()
                .map_err(|_| Failure::BadRequest(format!("{key} {} is not a number", shown(&t))))?;
            ceilings.push((key, v));
        }
    }
    let fields = EntryFields {
        id: given(&f.id),
        owner: given(&f.owner),
        reason: given(&f.reason),
        expires: given(&f.expires),
        matches: [
            ("path", &f.path),
            ("argv", &f.argv),
            ("parent", &f.parent),
            ("host", &f.host),
        ]
        .into_iter()
        .filter_map(|(k, v)| given(v).map(|v| (k, v)))
        .collect(),
        ceilings,
    };
    add_suppression(&state, &fields, &f.by, "the form").await?;
    let _ = alert_id;
    Ok(Redirect::to("/suppressions").into_response())
}

/// Validates a suppression as `suppress add` does (the same code), refuses an unowned or expired
/// one, and stores it with who added it. For the page's form and the API alike.
pub(crate) async fn add_suppression(
    state: &Arc<AppState>,
    fields: &EntryFields,
    by: &str,
    origin: &str,
) -> Result<(), Failure> {
    let by = by.trim().to_string();
    if by.is_empty() {
        return Err(Failure::BadRequest("who adds it is required".into()));
    }
    let text = entry_toml(fields).map_err(Failure::BadRequest)?;
    let entries = check_entries(&text, std::path::Path::new(origin))
        .map_err(|e| Failure::BadRequest(shown(&e.to_string())))?;
    let now = Ts::now();
    refuse_unowned(&entries, now).map_err(|e| Failure::BadRequest(shown(&e)))?;
    with_store(state, move |st| {
        for e in &entries {
            st.add_suppression(
                &NewSuppression {
                    id: e.id.clone(),
                    owner: e.owner.clone(),
                    reason: e.reason.clone(),
                    expires: e.expires.clone(),
                    entry: e.entry.clone(),
                    created_by: by.clone(),
                },
                now,
            )?;
        }
        Ok(())
    })
    .await
}

#[derive(Template)]
#[template(path = "suppressions.html")]
pub struct SuppressionsPage {
    pub rows: Vec<SuppressionShown>,
}

pub struct SuppressionShown {
    pub id: String,
    pub state: String,
    pub owner: String,
    pub reason: String,
    pub expires: String,
    pub created: String,
    pub hits: u64,
    pub last_hit: String,
    pub entry: String,
}

/// Active, expiring within a week, expired, or removed: what each has hidden stays counted.
pub(crate) fn suppression_state(r: &SuppressionRow, now: &str, week: &str) -> &'static str {
    if r.removed_at.is_some() {
        "removed"
    } else if r.expired_at.is_some() || r.expires.as_deref().is_some_and(|e| e < now) {
        "expired"
    } else if r.expires.as_deref().is_some_and(|e| e < week) {
        "expiring soon"
    } else {
        "active"
    }
}

pub async fn suppressions(State(state): State<Arc<AppState>>) -> Result<Response, Failure> {
    let rows = with_store(&state, |st| st.list_suppressions()).await?;
    let now = Ts::now();
    let (now_s, week_s) = (
        now.to_rfc3339_millis(),
        now.add_secs(7 * 86_400).to_rfc3339_millis(),
    );
    let page = SuppressionsPage {
        rows: rows
            .iter()
            .map(|r| SuppressionShown {
                id: shown(&r.id),
                state: suppression_state(r, &now_s, &week_s).into(),
                owner: shown(r.owner.as_deref().unwrap_or("")),
                reason: shown(r.reason.as_deref().unwrap_or("")),
                expires: r.expires.clone().unwrap_or_default(),
                created: format!(
                    "{} by {}",
                    r.created_at.as_deref().unwrap_or(""),
                    shown(r.created_by.as_deref().unwrap_or(""))
                ),
                hits: r.hits,
                last_hit: r.last_hit.clone().unwrap_or_default(),
                entry: shown(r.entry.as_deref().unwrap_or("")),
            })
            .collect(),
    }
    .render()
    .map_err(|e| Failure::BadRequest(format!("rendering suppressions: {e}")))?;
    Ok(Html(page).into_response())
}

#[derive(Template)]
#[template(path = "baselines.html")]
pub struct BaselinesPage {
    pub rows: Vec<[String; 8]>,
    pub min_windows: u64,
    pub min_days: f64,
}

/// Per identity × parent class × role: windows, days, hosts, maturity, median / p99 per signal.
pub async fn baselines(State(state): State<Arc<AppState>>) -> Result<Response, Failure> {
    let rows = with_store(&state, |st| st.list_baselines(None)).await?;
    let (w, d) = (state.baseline_min_windows, state.baseline_min_days);
    let page = BaselinesPage {
        rows: rows
            .iter()
            .map(|r| {
                let signals: Vec<String> = r
                    .signals
                    .iter()
                    .filter(|(_, s)| s.max > 0.0)
                    .map(|(n, s)| {
                        format!(
                            "{} {} / {}",
                            n.trim_end_matches("_per_s"),
                            fmt_signal(n, s.median),
                            fmt_signal(n, s.p99)
                        )
                    })
                    .collect();
                [
                    shown(&r.key.identity),
                    shown(&r.key.parent_class),
                    shown(&r.key.role),
                    r.windows.to_string(),
                    format!("{:.1}", r.days),
                    r.hosts.len().to_string(),
                    if r.windows >= w && r.days >= d {
                        "mature"
                    } else {
                        "immature"
                    }
                    .into(),
                    signals.join(", "),
                ]
            })
            .collect(),
        min_windows: w,
        min_days: d,
    }
    .render()
    .map_err(|e| Failure::BadRequest(format!("rendering baselines: {e}")))?;
    Ok(Html(page).into_response())
}

#[derive(Template)]
#[template(path = "coverage.html")]
pub struct CoveragePage {
    /// (recorded at, paths read) of the report shown.
    pub recorded: Option<(String, String)>,
    /// Per attack path: title, hosts detectable, degraded, blind.
    pub fleet: Vec<[String; 4]>,
    /// Per host and attack path: host, path, verdict, why, fix.
    pub hosts: Vec<[String; 5]>,
}

/// What the telemetry lets AN0971 see, per host and attack path: the newest `coverage --db` report.
pub async fn coverage(State(state): State<Arc<AppState>>) -> Result<Response, Failure> {
    let latest = with_store(&state, |st| st.latest_coverage()).await?;
    let mut page = CoveragePage {
        recorded: None,
        fleet: Vec::new(),
        hosts: Vec::new(),
    };
    if let Some((at, paths, json)) = latest {
        let v: serde_json::Value = serde_json::from_str(&json).unwrap_or_default();
        let text = |x: &serde_json::Value, k: &str| match x.get(k) {
            Some(serde_json::Value::String(s)) => shown(s),
            Some(serde_json::Value::Number(n)) => n.to_string(),
            _ => String::new(),
        };
        let list = |x: &serde_json::Value| x.as_array().cloned().unwrap_or_default();
        page.recorded = Some((at, shown(&paths)));
        page.fleet = list(&v["fleet"]["verdicts"])
            .iter()
            .map(|p| {
                [
                    text(p, "title"),
                    text(p, "detectable"),
                    text(p, "degraded"),
                    text(p, "blind"),
                ]
            })
            .collect();
        for h in list(&v["hosts"]) {
            for p in list(&h["verdicts"]) {
                page.hosts.push([
                    text(&h, "host"),
                    text(&p, "title"),
                    text(&p, "verdict"),
                    text(&p, "reason"),
                    text(&p, "fix"),
                ]);
            }
        }
    }
    let html = page
        .render()
        .map_err(|e| Failure::BadRequest(format!("rendering coverage: {e}")))?;
    Ok(Html(html).into_response())
}

/// The agent's health (seconds since it was written, the JSON), when a state file is known and holds
/// some.
pub(crate) fn agent_health(state: &AppState) -> Result<Option<(f64, serde_json::Value)>, Failure> {
    let Some(p) = &state.agent_state else {
        return Ok(None);
    };
    let got = floodwatch_store::agent_health(p).map_err(|e| Failure::BadRequest(e.to_string()))?;
    Ok(got.map(|(at, _, json)| {
        let age = (floodwatch_core::Ts::now().0 - at) as f64 / 1e9;
        (age, serde_json::from_str(&json).unwrap_or_default())
    }))
}

#[derive(Template)]
#[template(path = "health.html")]
pub struct HealthPage {
    /// (host, seconds since written) of the picture shown.
    pub written: Option<(String, String)>,
    /// Per source: source, events, events/s, lag s, restarts, silent s, state.
    pub sources: Vec<[String; 7]>,
    /// Health findings: what, message.
    pub findings: Vec<[String; 2]>,
    pub counts: String,
}

pub async fn health(State(state): State<Arc<AppState>>) -> Result<Response, Failure> {
    let got = agent_health(&state)?;
    let mut page = HealthPage {
        written: None,
        sources: Vec::new(),
        findings: Vec::new(),
        counts: String::new(),
    };
    if let Some((age, v)) = got {
        let text = |x: &serde_json::Value| match x {
            serde_json::Value::String(s) => shown(s),
            serde_json::Value::Null => "-".into(),
            other => other.to_string(),
        };
        page.written = Some((text(&v["host"]), format!("{age:.0}")));
        for s in v["sources"].as_array().cloned().unwrap_or_default() {
            let st = if s["ended"] == true { "ended" } else { "live" };
            page.sources.push([
                text(&s["source"]),
                text(&s["events"]),
                text(&s["events_per_s"]),
                text(&s["lag_s"]),
                text(&s["restarts"]),
                text(&s["silent_s"]),
                st.into(),
            ]);
        }
        for f in v["health_findings"].as_array().cloned().unwrap_or_default() {
            page.findings.push([
                text(&f["unmapped"]["floodwatch"]["health"]),
                text(&f["message"]),
            ]);
        }
        page.counts = format!(
            "spool overflowed: {}, engine evicted: {}",
            text(&v["spool_overflowed"]),
            text(&v["engine_evicted"])
        );
    }
    let html = page
        .render()
        .map_err(|e| Failure::BadRequest(format!("rendering health: {e}")))?;
    Ok(Html(html).into_response())
}

pub async fn style() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("../static/style.css"),
    )
}
