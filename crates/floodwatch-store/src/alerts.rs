//! Alerts and their lifecycle: open → updated → closed (quiet) → reopened, plus analyst marks
//! (acknowledged, false positive) with who and why. A hunt's alerts are written in one transaction;
//! an alert already stored with the same content changes nothing, so re-running a hunt on the same files
//! leaves the store as it was (apart from the run's own row).

use crate::runs::{insert_run, RunRecord};
use crate::{ts_text, Store};
use floodwatch_core::alert::{Alert, AlertStatus};
use floodwatch_core::respond::Campaign;
use floodwatch_core::{Result, Ts};
use rusqlite::{params, OptionalExtension, Transaction};
use serde::Serialize;

/// What a hunt did to the store.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct AlertOutcome {
    pub run_id: i64,
    pub opened: u64,
    pub updated: u64,
    pub closed: u64,
    pub reopened: u64,
    pub unchanged: u64,
    /// Suppressed alerts newly counted against their suppression.
    pub new_suppression_hits: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct AlertRow {
    pub id: String,
    pub host: String,
    pub state: String,
    pub mark: Option<String>,
    pub mark_by: Option<String>,
    pub mark_reason: Option<String>,
    pub score: u8,
    pub severity: String,
    pub first_seen: String,
    pub last_seen: String,
    pub subject: String,
    pub cmd_line: Option<String>,
    pub headline: String,
    pub suppressed_by: Option<String>,
    pub baseline: String,
    /// The same subject's previous (closed) alert, when this one reopened it.
    pub reopens: Option<String>,
}

/// An earlier alert like another one (`alerts similar`), with what it shares and its disposition.
#[derive(Clone, Debug, Serialize)]
pub struct SimilarRow {
    pub id: String,
    pub host: String,
    pub first_seen: String,
    pub state: String,
    pub score: u8,
    pub subject: String,
    pub mark: Option<String>,
    pub mark_by: Option<String>,
    pub mark_reason: Option<String>,
    pub marked_at: Option<String>,
    pub suppressed_by: Option<String>,
    /// `identity`, `script`, `destination`: what it has in common with the alert asked about.
    pub shares: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct HistoryRow {
    pub at: String,
    pub event: String,
    pub run_id: Option<i64>,
    pub actor: Option<String>,
    pub note: Option<String>,
}

#[derive(Clone, Debug, Default)]
pub struct AlertFilter {
    pub host: Option<String>,
    /// `open` or `closed`.
    pub state: Option<String>,
    /// Include alerts a suppression hid (default: only the ones that alert).
    pub suppressed: bool,
    pub limit: Option<u32>,
}

/// The triage queue's filters (`serve`): every one optional.
#[derive(Clone, Debug, Default)]
pub struct QueueFilter {
    pub host: Option<String>,
    /// `open`, `closed`, `acknowledged`, `false_positive` or `suppressed`.
    pub state: Option<String>,
    pub severity: Option<String>,
    /// Free text over subject, command line and headline (case-insensitive for ASCII).
    pub text: Option<String>,
    /// RFC 3339 bounds: alerts seen at or after `from` and first seen at or before `to`.
    pub from: Option<String>,
    pub to: Option<String>,
    pub offset: u64,
    pub limit: u32,
}

/// One page of the queue.
#[derive(Clone, Debug, Serialize)]
pub struct QueuePage {
    pub rows: Vec<AlertRow>,
    /// Alerts the filters keep, over all pages.
    pub total: u64,
    /// (state, alerts) under the host filter.
    pub counts: Vec<(String, u64)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mark {
    Acknowledged,
    FalsePositive,
    /// Clears a mark.
    Unmarked,
}

impl Mark {
    pub fn as_str(self) -> &'static str {
        match self {
            Mark::Acknowledged => "acknowledged",
            Mark::FalsePositive => "false_positive",
            Mark::Unmarked => "unmarked",
        }
    }
}

fn state_of(a: &Alert) -> &'static str {
    match a.status {
        AlertStatus::Open | AlertStatus::Updated => "open",
        AlertStatus::Closed => "closed",
    }
}

fn history(
    tx: &Transaction,
    id: &str,
    run: Option<i64>,
    at: Ts,
    event: &str,
    actor: Option<&str>,
    note: Option<&str>,
) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO alert_history (alert_id, run_id, at, event, actor, note) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![id, run, ts_text(at), event, actor, note],
    )?;
    Ok(())
}

/// One process lifetime on one host: a new episode of the same subject after a quiet close reopens it.
fn subject_key(a: &Alert) -> String {
    let p = &a.subject.process;
    format!(
        "{}|{}|{}|{}",
        a.host,
        p.pid,
        p.start_time.map_or(0, |t| t.0),
        p.path.as_deref().unwrap_or("?")
    )
}

/// The engine's identity when it wrote one, else the subject's path (an alert read back from JSON).
fn identity_of(a: &Alert) -> String {
    if a.facts.identity.is_empty() {
        a.subject
            .process
            .path
            .clone()
            .unwrap_or_else(|| format!("pid {}", a.subject.process.pid))
    } else {
        a.facts.identity.clone()
    }
}

/// Where the alert's traffic went, as its playbook names it (the measured top destination, else the
/// address its command lines name), without a port: what `alerts similar` matches on.
fn destination_of(a: &Alert) -> Option<String> {
    a.playbook
        .as_ref()
        .and_then(|p| p.impact.first())
        .map(|i| i.destination.as_str())
        .or(a.metrics.top_destination.as_deref())
        .map(|d| floodwatch_core::event::split_endpoint(d).0.to_string())
}

fn upsert(tx: &Transaction, a: &Alert, run: i64, insert: bool) -> rusqlite::Result<()> {
    let json = serde_json::to_string(a).unwrap_or_default();
    let subject = a
        .subject
        .process
        .path
        .clone()
        .unwrap_or_else(|| format!("pid {}", a.subject.process.pid));
    let headline = a
        .reasons
        .first()
        .map(|r| r.text.clone())
        .unwrap_or_default();
    let suppressed = a.suppressed_by.as_ref().map(|s| s.id.clone());
    if insert {
        tx.execute(
            "INSERT INTO alerts (id, host, state, score, severity, first_seen, last_seen, last_seen_ns, subject,
                 cmd_line, headline, suppressed_by, baseline, alert_json, first_run, last_run, subject_key,
                 identity, script, destination)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?15, ?16, ?17, ?18, ?19)",
            params![
                a.id,
                a.host,
                state_of(a),
                a.score,
                a.severity.as_str(),
                ts_text(a.first_seen),
                ts_text(a.last_seen),
                a.last_seen.0,
                subject,
                a.subject.process.cmd_line,
                headline,
                suppressed,
                a.baseline,
                json,
                run,
                subject_key(a),
                identity_of(a),
                a.facts.script,
                destination_of(a)
            ],
        )?;
    } else {
        tx.execute(
            "UPDATE alerts SET state = ?2, score = ?3, severity = ?4, last_seen = ?5, last_seen_ns = ?6,
                 headline = ?7, suppressed_by = ?8, baseline = ?9, alert_json = ?10, last_run = ?11
             WHERE id = ?1",
            params![
                a.id,
                state_of(a),
                a.score,
                a.severity.as_str(),
                ts_text(a.last_seen),
                a.last_seen.0,
                headline,
                suppressed,
                a.baseline,
                json,
                run
            ],
        )?;
    }
    Ok(())
}

impl Store {
    /// Records a hunt: its run row, its inputs, every alert's lifecycle step, and suppression hits, in one
    /// transaction. On any error nothing of this run is written and what was stored before stays.
    pub fn record_hunt(
        &mut self,
        run: &RunRecord,
        alerts: &[Alert],
        now: Ts,
    ) -> Result<AlertOutcome> {
        let r = self.record_hunt_tx(run, alerts, now);
        r.map_err(|e| self.sql(e))
    }

    fn record_hunt_tx(
        &mut self,
        run: &RunRecord,
        alerts: &[Alert],
        now: Ts,
    ) -> rusqlite::Result<AlertOutcome> {
        let tx = self.conn.transaction()?;
        let run_id = insert_run(&tx, run, alerts.len() as u64, 0)?;
        let out = apply(&tx, run_id, alerts, now)?;
        tx.commit()?;
        Ok(out)
    }

    /// Starts a long run (`watch --db`): its row now, its alerts as they happen ([`Store::record_alerts`]).
    pub fn begin_run(&mut self, run: &RunRecord) -> Result<i64> {
        let r = (|| {
            let tx = self.conn.transaction()?;
            let id = insert_run(&tx, run, 0, 0)?;
            tx.commit()?;
            Ok(id)
        })();
        r.map_err(|e| self.sql(e))
    }

    /// Records alert states of a run already begun (one transaction), e.g. each Create / Update / Close
    /// of `watch`.
    pub fn record_alerts(
        &mut self,
        run_id: i64,
        alerts: &[Alert],
        now: Ts,
    ) -> Result<AlertOutcome> {
        let r = (|| {
            let tx = self.conn.transaction()?;
            let out = apply(&tx, run_id, alerts, now)?;
            tx.execute(
                "UPDATE runs SET alerts = alerts + ?2, finished_at = ?3 WHERE id = ?1",
                params![run_id, out.opened + out.reopened, ts_text(now)],
            )?;
            tx.commit()?;
            Ok(out)
        })();
        r.map_err(|e| self.sql(e))
    }
}

/// Every alert's lifecycle step and suppression hit, inside the caller's transaction.
fn apply(
    tx: &Transaction,
    run_id: i64,
    alerts: &[Alert],
    now: Ts,
) -> rusqlite::Result<AlertOutcome> {
    let mut out = AlertOutcome {
        run_id,
        ..AlertOutcome::default()
    };
    for a in alerts {
        let stored: Option<(String, i64, i64)> = tx
            .query_row(
                "SELECT state, last_seen_ns, score FROM alerts WHERE id = ?1",
                [&a.id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let state = state_of(a);
        match stored {
            None => {
                upsert(tx, a, run_id, true)?;
                // The same process flaring again after a quiet close: the alert is reopened, as a
                // new episode (its own id) linked to the previous one.
                let previous: Option<(String, Option<String>, Option<String>)> = tx
                    .query_row(
                        "SELECT id, mark, mark_by FROM alerts WHERE subject_key = ?1 AND id != ?2
                             AND state = 'closed' AND last_seen_ns <= ?3
                         ORDER BY last_seen_ns DESC LIMIT 1",
                        params![subject_key(a), a.id, a.first_seen.0],
                        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                    )
                    .optional()?;
                match previous {
                    Some((prev, mark, by)) => {
                        tx.execute(
                            "UPDATE alerts SET reopens = ?2 WHERE id = ?1",
                            params![a.id, prev],
                        )?;
                        let mut note =
                            format!("the same process flared again after alert {prev} closed");
                        if let Some(m) = mark {
                            note.push_str(&format!(
                                " (that alert was marked {m} by {})",
                                by.unwrap_or_default()
                            ));
                        }
                        history(tx, &a.id, Some(run_id), now, "reopened", None, Some(&note))?;
                        history(
                            tx,
                            &prev,
                            Some(run_id),
                            now,
                            "reopened",
                            None,
                            Some(&format!("continued as alert {}", a.id)),
                        )?;
                        out.reopened += 1;
                    }
                    None => {
                        history(tx, &a.id, Some(run_id), now, "opened", None, None)?;
                        out.opened += 1;
                    }
                }
                if state == "closed" {
                    history(tx, &a.id, Some(run_id), now, "closed", None, None)?;
                    out.closed += 1;
                }
            }
            Some((old_state, old_last, old_score)) => {
                let later = a.last_seen.0 > old_last;
                let newly_closed = state == "closed" && old_state == "open";
                if later {
                    upsert(tx, a, run_id, false)?;
                    let step = if old_state == "closed" {
                        out.reopened += 1;
                        "reopened"
                    } else {
                        out.updated += 1;
                        "updated"
                    };
                    let note = format!(
                        "last seen {}, score {old_score} → {}",
                        ts_text(a.last_seen),
                        a.score
                    );
                    history(tx, &a.id, Some(run_id), now, step, None, Some(&note))?;
                    if state == "closed" {
                        history(tx, &a.id, Some(run_id), now, "closed", None, None)?;
                        out.closed += 1;
                    }
                } else if newly_closed && a.last_seen.0 == old_last {
                    upsert(tx, a, run_id, false)?;
                    history(tx, &a.id, Some(run_id), now, "closed", None, None)?;
                    out.closed += 1;
                } else {
                    // The same episode again (or an older view of it): nothing changes.
                    out.unchanged += 1;
                }
            }
        }
        if let Some(s) = &a.suppressed_by {
            out.new_suppression_hits += tx.execute(
                "INSERT OR IGNORE INTO suppression_hits (suppression_id, alert_id, run_id, at) VALUES (?1, ?2, ?3, ?4)",
                params![s.id, a.id, run_id, ts_text(a.last_seen)],
            )? as u64;
        }
    }
    Ok(out)
}

impl Store {
    /// Brings alerts already stored up to date with what the response stage added since (a
    /// campaign joined as other hosts' findings arrived, its score bonus, the playbook): only
    /// where the store holds the same view of the episode (same last sight, same state) and its
    /// JSON differs. Not a lifecycle step: no history row. Returns how many changed.
    pub fn refresh_alerts(&mut self, alerts: &[Alert]) -> Result<u64> {
        let r = (|| -> rusqlite::Result<u64> {
            let tx = self.conn.transaction()?;
            let mut n = 0;
            for a in alerts {
                let json = serde_json::to_string(a).unwrap_or_default();
                let headline = a
                    .reasons
                    .first()
                    .map(|r| r.text.clone())
                    .unwrap_or_default();
                n += tx.execute(
                    "UPDATE alerts SET score = ?2, severity = ?3, headline = ?4, alert_json = ?5,
                         destination = ?6
                     WHERE id = ?1 AND last_seen_ns = ?7 AND state = ?8 AND alert_json != ?5",
                    params![
                        a.id,
                        a.score,
                        a.severity.as_str(),
                        headline,
                        json,
                        destination_of(a),
                        a.last_seen.0,
                        state_of(a)
                    ],
                )? as u64;
            }
            tx.commit()?;
            Ok(n)
        })();
        r.map_err(|e| self.sql(e))
    }

    /// [`Store::refresh_alerts`] for network flood findings (a campaign raises their severity).
    pub fn refresh_network(
        &mut self,
        findings: &[floodwatch_core::finding::NetworkFinding],
    ) -> Result<u64> {
        let r = (|| -> rusqlite::Result<u64> {
            let tx = self.conn.transaction()?;
            let mut n = 0;
            for f in findings {
                let json = serde_json::to_string(f).unwrap_or_default();
                n += tx.execute(
                    "UPDATE network_findings SET severity = ?2, headline = ?3, finding_json = ?4
                     WHERE id = ?1 AND last_seen_ns = ?5 AND finding_json != ?4",
                    params![
                        f.id,
                        f.severity.as_str(),
                        f.reasons.first().cloned().unwrap_or_default(),
                        json,
                        f.last_seen.0
                    ],
                )? as u64;
            }
            tx.commit()?;
            Ok(n)
        })();
        r.map_err(|e| self.sql(e))
    }

    /// True when the store already holds this view of the alert or a later one (a stream replayed
    /// into `watch --db`): recording it would change nothing, and printing it would repeat history.
    pub fn alert_is_known(&self, a: &Alert) -> Result<bool> {
        let stored: Option<(String, i64)> = self
            .conn
            .query_row(
                "SELECT state, last_seen_ns FROM alerts WHERE id = ?1",
                [&a.id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(|e| self.sql(e))?;
        Ok(stored.is_some_and(|(state, last)| {
            last > a.last_seen.0
                || (last == a.last_seen.0 && (state == state_of(a) || state == "closed"))
        }))
    }

    pub fn list_alerts(&self, f: &AlertFilter) -> Result<Vec<AlertRow>> {
        self.list_alerts_q(f).map_err(|e| self.sql(e))
    }

    fn list_alerts_q(&self, f: &AlertFilter) -> rusqlite::Result<Vec<AlertRow>> {
        let mut st = self.conn.prepare(
            "SELECT id, host, state, mark, mark_by, mark_reason, score, severity, first_seen, last_seen, subject,
                    cmd_line, headline, suppressed_by, baseline, reopens
             FROM alerts
             WHERE (?1 IS NULL OR host = ?1) AND (?2 IS NULL OR state = ?2) AND (?3 OR suppressed_by IS NULL)
             ORDER BY first_seen, host, id
             LIMIT ?4",
        )?;
        let rows = st.query_map(
            params![f.host, f.state, f.suppressed, f.limit.map_or(-1, i64::from)],
            row,
        )?;
        rows.collect()
    }

    /// A page of the triage queue, highest score first (then newest), with the number of alerts the
    /// filters keep and the count per state (under the host filter only). Filtering, counting and
    /// paging happen in SQLite, so a store of 100k alerts answers without loading them.
    pub fn queue(&self, f: &QueueFilter) -> Result<QueuePage> {
        self.queue_q(f).map_err(|e| self.sql(e))
    }

    fn queue_q(&self, f: &QueueFilter) -> rusqlite::Result<QueuePage> {
        use rusqlite::types::Value;
        const STATE: &str =
            "CASE WHEN suppressed_by IS NOT NULL THEN 'suppressed' ELSE COALESCE(mark, state) END";
        // Only the filters given appear in the SQL: then counting and paging read nothing but the
        // `alerts_queue` index (the free-text filter alone has to read rows).
        let mut host_only: Vec<String> = Vec::new();
        let mut args: Vec<Value> = Vec::new();
        if let Some(h) = &f.host {
            args.push(Value::Text(h.clone()));
            host_only.push(format!("host = ?{}", args.len()));
        }
        let mut conds = host_only.clone();
        if let Some(st) = &f.state {
            args.push(Value::Text(st.clone()));
            let n = args.len();
            conds.push(match st.as_str() {
                "open" | "closed" => {
                    format!("state = ?{n} AND suppressed_by IS NULL AND mark IS NULL")
                }
                _ => format!("{STATE} = ?{n}"),
            });
        }
        if let Some(sev) = &f.severity {
            args.push(Value::Text(sev.clone()));
            conds.push(format!("severity = ?{}", args.len()));
        }
        if let Some(t) = f.text.as_deref().filter(|t| !t.is_empty()) {
            args.push(Value::Text(format!("%{}%", like_escape(t))));
            let n = args.len();
            conds.push(format!(
                "(subject LIKE ?{n} ESCAPE '\\' OR cmd_line LIKE ?{n} ESCAPE '\\' OR headline LIKE ?{n} ESCAPE '\\')"
            ));
        }
        if let Some(from) = &f.from {
            args.push(Value::Text(from.clone()));
            conds.push(format!("last_seen >= ?{}", args.len()));
        }
        if let Some(to) = &f.to {
            args.push(Value::Text(to.clone()));
            conds.push(format!("first_seen <= ?{}", args.len()));
        }
        let clause = |c: &[String]| {
            if c.is_empty() {
                String::new()
            } else {
                format!("WHERE {}", c.join(" AND "))
            }
        };
        let filters = clause(&conds);
        let total: i64 = self.conn.query_row(
            &format!("SELECT count(*) FROM alerts INDEXED BY alerts_queue {filters}"),
            rusqlite::params_from_iter(args.iter()),
            |r| r.get(0),
        )?;
        // Ids of the page from the index, then their rows.
        let mut page_args = args.clone();
        page_args.push(Value::Integer(i64::from(f.limit)));
        page_args.push(Value::Integer(f.offset as i64));
        let (nl, no) = (page_args.len() - 1, page_args.len());
        let mut st = self.conn.prepare(&format!(
            "SELECT id, host, state, mark, mark_by, mark_reason, score, severity, first_seen, last_seen, subject,
                    cmd_line, headline, suppressed_by, baseline, reopens
             FROM alerts WHERE rowid IN (
                 SELECT rowid FROM alerts INDEXED BY alerts_queue {filters}
                 ORDER BY score DESC, first_seen DESC, id LIMIT ?{nl} OFFSET ?{no})
             ORDER BY score DESC, first_seen DESC, id"
        ))?;
        let rows = st
            .query_map(rusqlite::params_from_iter(page_args.iter()), row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let host_args: Vec<Value> = args.into_iter().take(host_only.len()).collect();
        let mut st = self.conn.prepare(&format!(
            "SELECT {STATE} AS k, count(*) FROM alerts INDEXED BY alerts_queue {} GROUP BY k ORDER BY k",
            clause(&host_only)
        ))?;
        let counts = st
            .query_map(rusqlite::params_from_iter(host_args.iter()), |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(QueuePage {
            rows,
            total: total as u64,
            counts,
        })
    }

    /// One alert by id or unique id prefix, with its stored JSON and history.
    pub fn alert(&self, id: &str) -> Result<Option<(AlertRow, String, Vec<HistoryRow>)>> {
        self.alert_q(id).map_err(|e| self.sql(e))
    }

    /// The full id in `table` (`alerts` or `campaigns`) that `id` names: itself when it is one, else
    /// the one id it is a prefix of; None when none or several match.
    fn resolve_id(&self, table: &'static str, id: &str) -> rusqlite::Result<Option<String>> {
        let mut st = self.conn.prepare(&format!(
            "SELECT id FROM {table} WHERE id = ?1 OR id LIKE ?2 ESCAPE '\\' ORDER BY id LIMIT 3"
        ))?;
        let ids: Vec<String> = st
            .query_map(params![id, like_prefix(id)], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(match ids.iter().find(|i| *i == id) {
            Some(f) => Some(f.clone()),
            None if ids.len() == 1 => Some(ids[0].clone()),
            None => None,
        })
    }

    fn alert_q(&self, id: &str) -> rusqlite::Result<Option<(AlertRow, String, Vec<HistoryRow>)>> {
        let Some(full) = self.resolve_id("alerts", id)? else {
            return Ok(None);
        };
        let (r, json) = self.conn.query_row(
            "SELECT id, host, state, mark, mark_by, mark_reason, score, severity, first_seen, last_seen, subject,
                    cmd_line, headline, suppressed_by, baseline, reopens, alert_json
             FROM alerts WHERE id = ?1",
            [&full],
            |r| Ok((row(r)?, r.get::<_, String>(16)?)),
        )?;
        let mut st = self.conn.prepare(
            "SELECT at, event, run_id, actor, note FROM alert_history WHERE alert_id = ?1 ORDER BY seq",
        )?;
        let hist = st
            .query_map([&full], |r| {
                Ok(HistoryRow {
                    at: r.get(0)?,
                    event: r.get(1)?,
                    run_id: r.get(2)?,
                    actor: r.get(3)?,
                    note: r.get(4)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(Some((r, json, hist)))
    }

    /// Earlier alerts like `id`: the same identity, script path or destination, newest first, each
    /// with what it shares and its disposition (mark with who and why, suppression). None when no
    /// single alert matches `id`.
    pub fn similar_alerts(
        &self,
        id: &str,
        limit: u32,
    ) -> Result<Option<(String, Vec<SimilarRow>)>> {
        self.similar_q(id, limit).map_err(|e| self.sql(e))
    }

    fn similar_q(
        &self,
        id: &str,
        limit: u32,
    ) -> rusqlite::Result<Option<(String, Vec<SimilarRow>)>> {
        let Some(full) = self.resolve_id("alerts", id)? else {
            return Ok(None);
        };
        let (identity, script, destination, first_seen): (
            Option<String>,
            Option<String>,
            Option<String>,
            String,
        ) = self.conn.query_row(
            "SELECT identity, script, destination, first_seen FROM alerts WHERE id = ?1",
            [&full],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )?;
        let mut st = self.conn.prepare(
            "SELECT id, host, first_seen, state, score, subject, mark, mark_by, mark_reason, marked_at,
                    suppressed_by,
                    identity IS NOT NULL AND identity = ?2,
                    script IS NOT NULL AND script = ?3,
                    destination IS NOT NULL AND destination = ?4
             FROM alerts
             WHERE id != ?1 AND first_seen <= ?5
               AND ((identity IS NOT NULL AND identity = ?2) OR (script IS NOT NULL AND script = ?3)
                    OR (destination IS NOT NULL AND destination = ?4))
             ORDER BY first_seen DESC, id LIMIT ?6",
        )?;
        let rows = st
            .query_map(
                params![full, identity, script, destination, first_seen, limit],
                |r| {
                    let mut shares = Vec::new();
                    if r.get::<_, bool>(11)? {
                        shares.push("identity");
                    }
                    if r.get::<_, bool>(12)? {
                        shares.push("script");
                    }
                    if r.get::<_, bool>(13)? {
                        shares.push("destination");
                    }
                    Ok(SimilarRow {
                        id: r.get(0)?,
                        host: r.get(1)?,
                        first_seen: r.get(2)?,
                        state: r.get(3)?,
                        score: r.get(4)?,
                        subject: r.get(5)?,
                        mark: r.get(6)?,
                        mark_by: r.get(7)?,
                        mark_reason: r.get(8)?,
                        marked_at: r.get(9)?,
                        suppressed_by: r.get(10)?,
                        shares: shares.into_iter().map(String::from).collect(),
                    })
                },
            )?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(Some((full, rows)))
    }

    /// Marks every member alert of a campaign (id or unique id prefix) with who and why, each with a
    /// history entry naming the campaign. Returns the campaign's full id and the member alert ids, or
    /// None when no single campaign matches.
    pub fn mark_campaign(
        &mut self,
        id: &str,
        mark: Mark,
        by: &str,
        why: &str,
        now: Ts,
    ) -> Result<Option<(String, Vec<String>)>> {
        let r = (|| -> rusqlite::Result<Option<(String, Vec<String>)>> {
            let Some(full) = self.resolve_id("campaigns", id)? else {
                return Ok(None);
            };
            let tx = self.conn.transaction()?;
            let members: Vec<String> = {
                let mut st = tx.prepare(
                    "SELECT m.member_id FROM campaign_members m JOIN alerts a ON a.id = m.member_id
                     WHERE m.campaign_id = ?1 ORDER BY m.member_id",
                )?;
                let rows = st.query_map([&full], |r| r.get(0))?;
                rows.collect::<rusqlite::Result<_>>()?
            };
            let (m, b, w) = match mark {
                Mark::Unmarked => (None, None, None),
                _ => (Some(mark.as_str()), Some(by), Some(why)),
            };
            let note = format!("{why} (campaign {full})");
            for a in &members {
                tx.execute(
                    "UPDATE alerts SET mark = ?2, mark_by = ?3, mark_reason = ?4, marked_at = ?5 WHERE id = ?1",
                    params![a, m, b, w, ts_text(now)],
                )?;
                history(&tx, a, None, now, mark.as_str(), Some(by), Some(&note))?;
            }
            tx.commit()?;
            Ok(Some((full, members)))
        })();
        r.map_err(|e| self.sql(e))
    }

    /// Marks an alert (acknowledged / false positive / unmarked) with who and why. Returns the full id,
    /// or None when no single alert matches.
    pub fn mark_alert(
        &mut self,
        id: &str,
        mark: Mark,
        by: &str,
        why: &str,
        now: Ts,
    ) -> Result<Option<String>> {
        let r = (|| -> rusqlite::Result<Option<String>> {
            let Some(full) = self.resolve_id("alerts", id)? else {
                return Ok(None);
            };
            let tx = self.conn.transaction()?;
            let (m, b, w) = match mark {
                Mark::Unmarked => (None, None, None),
                _ => (Some(mark.as_str()), Some(by), Some(why)),
            };
            tx.execute(
                "UPDATE alerts SET mark = ?2, mark_by = ?3, mark_reason = ?4, marked_at = ?5 WHERE id = ?1",
                params![full, m, b, w, ts_text(now)],
            )?;
            history(&tx, &full, None, now, mark.as_str(), Some(by), Some(why))?;
            tx.commit()?;
            Ok(Some(full))
        })();
        r.map_err(|e| self.sql(e))
    }
}

/// `id` as a `LIKE … ESCAPE '\\'` prefix pattern: its own `%`, `_` and `\\` match only themselves.
fn like_prefix(id: &str) -> String {
    format!("{}%", like_escape(id))
}

/// Text for a `LIKE … ESCAPE '\\'` pattern: its own `%`, `_` and `\\` match only themselves.
fn like_escape(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

fn row(r: &rusqlite::Row) -> rusqlite::Result<AlertRow> {
    Ok(AlertRow {
        id: r.get(0)?,
        host: r.get(1)?,
        state: r.get(2)?,
        mark: r.get(3)?,
        mark_by: r.get(4)?,
        mark_reason: r.get(5)?,
        score: r.get(6)?,
        severity: r.get(7)?,
        first_seen: r.get(8)?,
        last_seen: r.get(9)?,
        subject: r.get(10)?,
        cmd_line: r.get(11)?,
        headline: r.get(12)?,
        suppressed_by: r.get(13)?,
        baseline: r.get(14)?,
        reopens: r.get(15)?,
    })
}

/// A stored campaign.
#[derive(Clone, Debug, Serialize)]
pub struct CampaignRow {
    pub id: String,
    pub destination: String,
    pub hosts: i64,
    pub host_list: String,
    pub severity: String,
    pub score: u8,
    pub first_seen: String,
    pub last_seen: String,
    pub members: i64,
}

/// A stored network-level flood finding.
#[derive(Clone, Debug, Serialize)]
pub struct NetworkRow {
    pub id: String,
    pub host: String,
    pub local: String,
    pub target: Option<String>,
    pub severity: String,
    pub first_seen: String,
    pub last_seen: String,
    pub headline: String,
    pub joined: String,
}

impl Store {
    /// Records a run's network flood findings (scans are not findings). Same id, same row: a re-run
    /// adds nothing; a later view of the same episode updates it. Returns how many were new.
    pub fn record_network(
        &mut self,
        run_id: i64,
        findings: &[floodwatch_core::finding::NetworkFinding],
    ) -> Result<u64> {
        use floodwatch_core::finding::NetworkClass;
        let r = (|| -> rusqlite::Result<u64> {
            let tx = self.conn.transaction()?;
            let mut new = 0;
            for f in findings.iter().filter(|f| f.class == NetworkClass::Flood) {
                let existed: bool = tx
                    .query_row(
                        "SELECT 1 FROM network_findings WHERE id = ?1",
                        [&f.id],
                        |_| Ok(()),
                    )
                    .optional()?
                    .is_some();
                tx.execute(
                    "INSERT INTO network_findings (id, host, local, target, severity, first_seen, last_seen,
                         last_seen_ns, headline, joined, finding_json, first_run, last_run)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12)
                     ON CONFLICT (id) DO UPDATE SET severity = excluded.severity,
                         last_seen = excluded.last_seen, last_seen_ns = excluded.last_seen_ns,
                         headline = excluded.headline, joined = excluded.joined,
                         finding_json = excluded.finding_json, last_run = excluded.last_run
                     WHERE excluded.last_seen_ns > network_findings.last_seen_ns",
                    params![
                        f.id,
                        f.host,
                        f.local,
                        f.target,
                        f.severity.as_str(),
                        ts_text(f.first_seen),
                        ts_text(f.last_seen),
                        f.last_seen.0,
                        f.reasons.first().cloned().unwrap_or_default(),
                        f.process.text,
                        serde_json::to_string(f).unwrap_or_default(),
                        run_id
                    ],
                )?;
                new += u64::from(!existed);
            }
            tx.commit()?;
            Ok(new)
        })();
        r.map_err(|e| self.sql(e))
    }

    /// Records a run's campaigns (new ones inserted, known ones brought up to date with their
    /// members). Returns how many were new.
    pub fn record_campaigns(&mut self, run_id: i64, campaigns: &[Campaign]) -> Result<u64> {
        let r = (|| -> rusqlite::Result<u64> {
            let tx = self.conn.transaction()?;
            let mut new = 0;
            for c in campaigns {
                let existed = tx
                    .query_row("SELECT 1 FROM campaigns WHERE id = ?1", [&c.id], |_| Ok(()))
                    .optional()?
                    .is_some();
                tx.execute(
                    "INSERT INTO campaigns (id, destination, hosts, host_list, severity, score, first_seen,
                         last_seen, campaign_json, first_run, last_run)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)
                     ON CONFLICT (id) DO UPDATE SET severity = excluded.severity, score = excluded.score,
                         last_seen = excluded.last_seen, campaign_json = excluded.campaign_json,
                         last_run = excluded.last_run",
                    params![
                        c.id,
                        c.destination,
                        c.hosts.len() as i64,
                        c.hosts.join(","),
                        c.severity.as_str(),
                        c.score,
                        ts_text(c.first_seen),
                        ts_text(c.last_seen),
                        serde_json::to_string(c).unwrap_or_default(),
                        run_id
                    ],
                )?;
                for m in &c.members {
                    tx.execute(
                        "INSERT OR IGNORE INTO campaign_members (campaign_id, member_id, kind, host)
                         VALUES (?1, ?2, ?3, ?4)",
                        params![c.id, m.id, m.kind, m.host],
                    )?;
                }
                new += u64::from(!existed);
            }
            tx.commit()?;
            Ok(new)
        })();
        r.map_err(|e| self.sql(e))
    }

    /// Stored campaigns, newest first (with a host: only those it is part of).
    pub fn list_campaigns(&self, host: Option<&str>) -> Result<Vec<CampaignRow>> {
        let r = (|| -> rusqlite::Result<Vec<CampaignRow>> {
            let mut st = self.conn.prepare(
                "SELECT id, destination, hosts, host_list, severity, score, first_seen, last_seen,
                        (SELECT count(*) FROM campaign_members m WHERE m.campaign_id = c.id)
                 FROM campaigns c
                 WHERE ?1 IS NULL OR EXISTS (SELECT 1 FROM campaign_members m
                                             WHERE m.campaign_id = c.id AND m.host = ?1)
                 ORDER BY first_seen DESC, id",
            )?;
            let rows = st.query_map([host], |r| {
                Ok(CampaignRow {
                    id: r.get(0)?,
                    destination: r.get(1)?,
                    hosts: r.get(2)?,
                    host_list: r.get(3)?,
                    severity: r.get(4)?,
                    score: r.get(5)?,
                    first_seen: r.get(6)?,
                    last_seen: r.get(7)?,
                    members: r.get(8)?,
                })
            })?;
            rows.collect()
        })();
        r.map_err(|e| self.sql(e))
    }

    pub fn list_network(&self, host: Option<&str>) -> Result<Vec<NetworkRow>> {
        let r = (|| -> rusqlite::Result<Vec<NetworkRow>> {
            let mut st = self.conn.prepare(
                "SELECT id, host, local, target, severity, first_seen, last_seen, headline, joined
                 FROM network_findings WHERE (?1 IS NULL OR host = ?1) ORDER BY first_seen, host, id",
            )?;
            let rows = st.query_map([host], |r| {
                Ok(NetworkRow {
                    id: r.get(0)?,
                    host: r.get(1)?,
                    local: r.get(2)?,
                    target: r.get(3)?,
                    severity: r.get(4)?,
                    first_seen: r.get(5)?,
                    last_seen: r.get(6)?,
                    headline: r.get(7)?,
                    joined: r.get(8)?,
                })
            })?;
            rows.collect()
        })();
        r.map_err(|e| self.sql(e))
    }
}
