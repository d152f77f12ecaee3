//! Baselines in the store. A learn run merges its profiles into the stored ones (decaying the older
//! weight) and moves each host's `learned_until` mark, so learning the same files twice adds nothing and a
//! later capture adds only its new windows.

use crate::runs::{insert_run, RunRecord};
use crate::{ts_text, Store};
use floodwatch_core::{Result, Ts};
use floodwatch_engine::baseline::{Accepted, BaselineKey, Learner, Profile, SignalStats, SIGNALS};
use foldhash::HashMap;
use rusqlite::{params, OptionalExtension};
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Clone, Debug, Default, Serialize)]
pub struct LearnOutcome {
    pub run_id: i64,
    pub new_baselines: u64,
    pub updated_baselines: u64,
    pub windows: u64,
    /// Windows skipped because an earlier learn already covered their time on that host.
    pub skipped_windows: u64,
    /// Windows held for review by this run (new ones: a window held before is not counted twice).
    pub held: u64,
    /// The keys this run learned windows for, with how many.
    pub learned: Vec<(BaselineKey, u64)>,
}

/// A window held for review, as stored.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct HeldRow {
    pub id: i64,
    pub key: BaselineKey,
    pub host: String,
    pub start: String,
    pub start_ns: i64,
    /// In [`SIGNALS`] order.
    pub values: [f64; 4],
    pub why: String,
    /// The acceptance that let it be learned; None: pending review.
    pub accepted_by: Option<i64>,
}

/// What accepting held windows did.
#[derive(Clone, Debug, Serialize)]
pub struct AcceptOutcome {
    pub acceptance_id: i64,
    pub key: BaselineKey,
    pub host: String,
    /// Held windows learned now.
    pub windows: u64,
}

/// A baseline as people read it.
#[derive(Clone, Debug, Serialize)]
pub struct BaselineRow {
    pub key: BaselineKey,
    pub windows: u64,
    pub days: f64,
    pub first_seen: String,
    pub last_seen: String,
    pub hosts: Vec<String>,
    /// In [`SIGNALS`] order.
    pub signals: Vec<(String, SignalStats)>,
}

impl Store {
    /// Per host, the event time up to which windows were already learned.
    pub fn learned_until(&self) -> Result<HashMap<String, Ts>> {
        let q = || -> rusqlite::Result<HashMap<String, Ts>> {
            let mut st = self
                .conn
                .prepare("SELECT host, until_ns FROM learned_until")?;
            let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, Ts(r.get(1)?))))?;
            rows.collect()
        };
        q().map_err(|e| self.sql(e))
    }

    /// Every stored profile, for judging a hunt.
    pub fn load_profiles(&self) -> Result<HashMap<BaselineKey, Profile>> {
        self.load_profiles_q().map_err(|e| self.sql(e))
    }

    fn load_profiles_q(&self) -> rusqlite::Result<HashMap<BaselineKey, Profile>> {
        let mut hosts: HashMap<i64, Vec<String>> = HashMap::default();
        {
            let mut st = self.conn.prepare(
                "SELECT baseline_id, host FROM baseline_hosts ORDER BY baseline_id, host",
            )?;
            let rows = st.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?;
            for r in rows {
                let (id, h) = r?;
                hosts.entry(id).or_default().push(h);
            }
        }
        let mut st = self
            .conn
            .prepare("SELECT id, identity, parent_class, role, profile FROM baselines")?;
        let rows = st.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                BaselineKey {
                    identity: r.get(1)?,
                    parent_class: r.get(2)?,
                    role: r.get(3)?,
                },
                r.get::<_, String>(4)?,
            ))
        })?;
        let mut out = HashMap::default();
        for r in rows {
            let (id, key, json) = r?;
            let mut p: Profile = serde_json::from_str(&json).map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(
                    4,
                    rusqlite::types::Type::Text,
                    Box::new(e),
                )
            })?;
            p.hosts = hosts.remove(&id).unwrap_or_default().into_iter().collect();
            out.insert(key, p);
        }
        Ok(out)
    }

    /// Merges a learn run into the store, in one transaction.
    pub fn record_learn(
        &mut self,
        run: &RunRecord,
        learned: Learner,
        hosts_until: &BTreeMap<String, Ts>,
        half_life_ns: i64,
    ) -> Result<LearnOutcome> {
        let r = self.record_learn_tx(run, learned, hosts_until, half_life_ns);
        r.map_err(|e| self.sql(e))
    }

    fn record_learn_tx(
        &mut self,
        run: &RunRecord,
        learned: Learner,
        hosts_until: &BTreeMap<String, Ts>,
        half_life_ns: i64,
    ) -> rusqlite::Result<LearnOutcome> {
        let tx = self.conn.transaction()?;
        let run_id = insert_run(&tx, run, 0, learned.windows)?;
        let mut out = LearnOutcome {
            run_id,
            windows: learned.windows,
            skipped_windows: learned.skipped_windows,
            ..LearnOutcome::default()
        };
        // Sorted, so ids are assigned in the same order on every machine.
        let mut profiles: Vec<(BaselineKey, Profile)> = learned.profiles.into_iter().collect();
        profiles.sort_by(|a, b| a.0.cmp(&b.0));
        for (key, p) in profiles {
            out.learned.push((key.clone(), p.windows));
            if merge_profile(&tx, &key, p, half_life_ns, run_id)? {
                out.new_baselines += 1;
            } else {
                out.updated_baselines += 1;
            }
        }
        let mut held = learned.held;
        held.sort_by(|a, b| (a.start, &a.host, &a.key).cmp(&(b.start, &b.host, &b.key)));
        {
            let mut st = tx.prepare(
                "INSERT OR IGNORE INTO baseline_held (run_id, identity, parent_class, role, host,
                     window_start, window_start_ns, spawns_per_s, packets_per_s, bytes_per_s,
                     connections_per_s, why)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            )?;
            for h in &held {
                out.held += st.execute(params![
                    run_id,
                    h.key.identity,
                    h.key.parent_class,
                    h.key.role,
                    h.host,
                    ts_text(h.start),
                    h.start.0,
                    h.values[0],
                    h.values[1],
                    h.values[2],
                    h.values[3],
                    h.why
                ])? as u64;
            }
        }
        for (host, until) in hosts_until {
            tx.execute(
                "INSERT INTO learned_until (host, until, until_ns, run_id) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(host) DO UPDATE SET until = excluded.until, until_ns = excluded.until_ns,
                     run_id = excluded.run_id
                 WHERE excluded.until_ns > learned_until.until_ns",
                params![host, ts_text(*until), until.0, run_id],
            )?;
        }
        tx.commit()?;
        Ok(out)
    }

    /// Windows held for review, oldest first; `pending` only those no reviewer accepted yet.
    pub fn held_windows(&self, pending: bool) -> Result<Vec<HeldRow>> {
        let q = || -> rusqlite::Result<Vec<HeldRow>> {
            let mut st = self.conn.prepare(
                "SELECT id, identity, parent_class, role, host, window_start, window_start_ns,
                     spawns_per_s, packets_per_s, bytes_per_s, connections_per_s, why, accepted_by
                 FROM baseline_held WHERE (?1 = 0 OR accepted_by IS NULL)
                 ORDER BY window_start_ns, host, identity, parent_class, role",
            )?;
            let rows = st.query_map([i64::from(pending)], held_row)?;
            rows.collect()
        };
        q().map_err(|e| self.sql(e))
    }

    /// The keys reviewers accepted, per host: `baseline learn` learns their hot windows.
    pub fn accepted_keys(&self) -> Result<Accepted> {
        let q = || -> rusqlite::Result<Accepted> {
            let mut st = self
                .conn
                .prepare("SELECT identity, parent_class, role, host FROM baseline_acceptances")?;
            let rows = st.query_map([], |r| {
                Ok((
                    BaselineKey {
                        identity: r.get(0)?,
                        parent_class: r.get(1)?,
                        role: r.get(2)?,
                    },
                    r.get::<_, String>(3)?,
                ))
            })?;
            rows.collect()
        };
        q().map_err(|e| self.sql(e))
    }

    /// Accepts the key (identity × parent class × role) of held window `id` on its host: records who
    /// and why, learns every window of that key held on that host, and lets later learns take its hot
    /// windows as normal. Judging still caps what the baseline absorbs (`baseline.max_raise`). None
    /// when there is no held window `id`.
    pub fn accept_held(
        &mut self,
        id: i64,
        owner: &str,
        reason: &str,
        by: &str,
        now: Ts,
        half_life_ns: i64,
    ) -> Result<Option<AcceptOutcome>> {
        let state: Option<Option<i64>> = self
            .conn
            .query_row(
                "SELECT accepted_by FROM baseline_held WHERE id = ?1",
                [id],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.sql(e))?;
        match state {
            None => return Ok(None),
            Some(Some(by)) => {
                return Err(floodwatch_core::Error::Usage(format!(
                    "held window {id} was accepted already (acceptance {by})"
                )))
            }
            Some(None) => {}
        }
        let r = (|| {
            let tx = self.conn.transaction()?;
            let Some(first) = tx
                .query_row(
                    "SELECT id, identity, parent_class, role, host, window_start, window_start_ns,
                         spawns_per_s, packets_per_s, bytes_per_s, connections_per_s, why, accepted_by
                     FROM baseline_held WHERE id = ?1",
                    [id],
                    held_row,
                )
                .optional()?
            else {
                return Ok(None);
            };
            let (key, host) = (first.key, first.host);
            let (rows, run_id) = {
                let mut st = tx.prepare(
                    "SELECT id, identity, parent_class, role, host, window_start, window_start_ns,
                         spawns_per_s, packets_per_s, bytes_per_s, connections_per_s, why, accepted_by
                     FROM baseline_held
                     WHERE identity = ?1 AND parent_class = ?2 AND role = ?3 AND host = ?4
                         AND accepted_by IS NULL
                     ORDER BY window_start_ns",
                )?;
                let rows: Vec<HeldRow> = st
                    .query_map(
                        params![key.identity, key.parent_class, key.role, host],
                        held_row,
                    )?
                    .collect::<rusqlite::Result<_>>()?;
                let run_id: i64 = tx.query_row(
                    "SELECT max(run_id) FROM baseline_held
                     WHERE identity = ?1 AND parent_class = ?2 AND role = ?3 AND host = ?4",
                    params![key.identity, key.parent_class, key.role, host],
                    |r| r.get(0),
                )?;
                (rows, run_id)
            };
            tx.execute(
                "INSERT INTO baseline_acceptances (identity, parent_class, role, host, owner, reason,
                     created_at, created_by, windows) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    key.identity,
                    key.parent_class,
                    key.role,
                    host,
                    owner,
                    reason,
                    ts_text(now),
                    by,
                    rows.len() as i64
                ],
            )?;
            let acceptance_id = tx.last_insert_rowid();
            // Learned in time order, as `baseline learn` would have learned them.
            if let Some(first) = rows.first() {
                let mut p = Profile::new(Ts(first.start_ns));
                for r in &rows {
                    p.add(r.values, Ts(r.start_ns), &host, half_life_ns);
                }
                merge_profile(&tx, &key, p, half_life_ns, run_id)?;
            }
            tx.execute(
                "UPDATE baseline_held SET accepted_by = ?5
                 WHERE identity = ?1 AND parent_class = ?2 AND role = ?3 AND host = ?4
                     AND accepted_by IS NULL",
                params![
                    key.identity,
                    key.parent_class,
                    key.role,
                    host,
                    acceptance_id
                ],
            )?;
            tx.commit()?;
            Ok(Some(AcceptOutcome {
                acceptance_id,
                key,
                host,
                windows: rows.len() as u64,
            }))
        })();
        r.map_err(|e| self.sql(e))
    }

    /// Stored baselines, most windows first; `identity` filters by substring.
    pub fn list_baselines(&self, identity: Option<&str>) -> Result<Vec<BaselineRow>> {
        let profiles = self.load_profiles()?;
        let mut rows: Vec<BaselineRow> = profiles
            .into_iter()
            .filter(|(k, _)| identity.is_none_or(|f| k.identity.contains(f)))
            .map(|(key, p)| BaselineRow {
                windows: p.windows,
                days: p.days(),
                first_seen: ts_text(p.first_seen),
                last_seen: ts_text(p.last_seen),
                hosts: p.hosts.iter().cloned().collect(),
                signals: SIGNALS
                    .iter()
                    .enumerate()
                    .map(|(i, n)| (n.to_string(), p.stats(i)))
                    .collect(),
                key,
            })
            .collect();
        rows.sort_by(|a, b| b.windows.cmp(&a.windows).then(a.key.cmp(&b.key)));
        Ok(rows)
    }
}

fn held_row(r: &rusqlite::Row) -> rusqlite::Result<HeldRow> {
    Ok(HeldRow {
        id: r.get(0)?,
        key: BaselineKey {
            identity: r.get(1)?,
            parent_class: r.get(2)?,
            role: r.get(3)?,
        },
        host: r.get(4)?,
        start: r.get(5)?,
        start_ns: r.get(6)?,
        values: [r.get(7)?, r.get(8)?, r.get(9)?, r.get(10)?],
        why: r.get(11)?,
        accepted_by: r.get(12)?,
    })
}

/// Merges a learned profile into the stored one of its key (or stores it): the row, its per-signal
/// statistics and its hosts. True when the key is new.
fn merge_profile(
    tx: &rusqlite::Transaction,
    key: &BaselineKey,
    p: Profile,
    half_life_ns: i64,
    run_id: i64,
) -> rusqlite::Result<bool> {
    let stored: Option<(i64, String)> = tx
        .query_row(
            "SELECT id, profile FROM baselines WHERE identity = ?1 AND parent_class = ?2 AND role = ?3",
            params![key.identity, key.parent_class, key.role],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let is_new = stored.is_none();
    let merged = match stored {
        Some((id, json)) => {
            let mut old: Profile = serde_json::from_str(&json).map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(
                    1,
                    rusqlite::types::Type::Text,
                    Box::new(e),
                )
            })?;
            let mut st = tx.prepare("SELECT host FROM baseline_hosts WHERE baseline_id = ?1")?;
            let hs = st.query_map([id], |r| r.get::<_, String>(0))?;
            for h in hs {
                old.hosts.insert(h?);
            }
            old.merge(p, half_life_ns);
            old
        }
        None => p,
    };
    let json = serde_json::to_string(&merged).unwrap_or_default();
    // One upsert for new and merged keys (the row keeps its id).
    let id: i64 = tx.query_row(
        "INSERT INTO baselines (identity, parent_class, role, windows, first_seen, last_seen, days,
             hosts, profile, updated_run) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
         ON CONFLICT (identity, parent_class, role) DO UPDATE SET windows = excluded.windows,
             first_seen = excluded.first_seen, last_seen = excluded.last_seen, days = excluded.days,
             hosts = excluded.hosts, profile = excluded.profile, updated_run = excluded.updated_run
         RETURNING id",
        params![
            key.identity,
            key.parent_class,
            key.role,
            merged.windows as i64,
            ts_text(merged.first_seen),
            ts_text(merged.last_seen),
            merged.days(),
            merged.hosts.len() as i64,
            json,
            run_id
        ],
        |r| r.get(0),
    )?;
    let mut st = tx.prepare(
        "INSERT OR REPLACE INTO baseline_signals (baseline_id, signal, median, mad, p95, p99, max)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    for (i, name) in SIGNALS.iter().enumerate() {
        let s = merged.stats(i);
        st.execute(params![id, name, s.median, s.mad, s.p95, s.p99, s.max])?;
    }
    let mut st =
        tx.prepare("INSERT OR IGNORE INTO baseline_hosts (baseline_id, host) VALUES (?1, ?2)")?;
    for h in &merged.hosts {
        st.execute(params![id, h])?;
    }
    Ok(is_new)
}
