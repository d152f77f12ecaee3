//! Suppressions in the store. Each is kept as its `[[suppression]]` TOML entry, the same text a
//! suppressions file holds, so one parser ([`floodwatch_engine::suppress`]) validates and applies both.
//! Hits are counted once per suppressed alert (`suppression_hits`); expiring one reports what it hid.

use crate::{ts_text, Store};
use floodwatch_core::{Error, Result, Ts};
use rusqlite::{params, OptionalExtension};
use serde::Serialize;

#[derive(Clone, Debug)]
pub struct NewSuppression {
    pub id: String,
    pub owner: String,
    pub reason: String,
    pub expires: String,
    /// The validated `[[suppression]]` entry.
    pub entry: String,
    pub created_by: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct SuppressionRow {
    pub id: String,
    /// `store`, or `file` for ids only seen as hits (they live in a suppressions file).
    pub source: String,
    pub owner: Option<String>,
    pub reason: Option<String>,
    pub expires: Option<String>,
    pub created_at: Option<String>,
    pub created_by: Option<String>,
    pub expired_at: Option<String>,
    pub expired_by: Option<String>,
    /// Set by `suppress remove`: the suppression no longer applies and is no longer reported.
    pub removed_at: Option<String>,
    pub removed_by: Option<String>,
    /// Every change, oldest first (added, expired, renewed, removed); filled by
    /// [`Store::suppression_history`] where it is shown, empty from `list_suppressions`.
    pub history: Vec<SuppressionChange>,
    pub hits: u64,
    pub last_hit: Option<String>,
    pub entry: Option<String>,
}

/// One change to a stored suppression: added, expired, renewed or removed, with who and why.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct SuppressionChange {
    pub at: String,
    pub event: String,
    pub actor: String,
    pub note: Option<String>,
}

/// What an expired suppression was hiding: reported when it expires, never dropped silently.
#[derive(Clone, Debug, Serialize)]
pub struct ExpiryReport {
    pub id: String,
    pub owner: String,
    pub reason: String,
    pub expires: String,
    /// When and by whom it was ended early (`suppress expire`).
    pub ended: Option<(String, String)>,
    pub hits: u64,
    pub last_hit: Option<String>,
    /// Alerts it suppressed (most recent first): (id, host, last seen, headline).
    pub suppressed: Vec<(String, String, String, String)>,
}

impl Store {
    /// Adds a suppression. An id in use is refused (renew or remove it instead), unless that
    /// suppression was removed: then the new entry takes its place, and its history goes on.
    pub fn add_suppression(&mut self, s: &NewSuppression, now: Ts) -> Result<()> {
        let existing: Option<Option<String>> = self
            .conn
            .query_row(
                "SELECT removed_at FROM suppressions WHERE id = ?1",
                [&s.id],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.sql(e))?;
        if let Some(None) = existing {
            return Err(Error::Usage(format!(
                "suppression {} already exists in {} (renew it with `floodwatch suppress renew`, or remove it first)",
                s.id,
                self.path.display()
            )));
        }
        let at = ts_text(now);
        self.in_transaction(|tx| {
            tx.execute("DELETE FROM suppressions WHERE id = ?1", [&s.id])?;
            tx.execute(
                "INSERT INTO suppressions (id, owner, reason, expires, entry, created_at, created_by)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![s.id, s.owner, s.reason, s.expires, s.entry, at, s.created_by],
            )?;
            history(tx, &s.id, &at, "added", &s.created_by, Some(&s.reason))
        })
    }

    /// Gives a suppression a new expiry (and its entry the matching text) and lifts an early end:
    /// it applies again. False when there is no such suppression (or it was removed).
    pub fn renew_suppression(
        &mut self,
        id: &str,
        entry: &str,
        expires: &str,
        by: &str,
        now: Ts,
    ) -> Result<bool> {
        let at = ts_text(now);
        self.in_transaction(|tx| {
            let n = tx.execute(
                "UPDATE suppressions SET entry = ?2, expires = ?3, expired_at = NULL, expired_by = NULL
                 WHERE id = ?1 AND removed_at IS NULL",
                params![id, entry, expires],
            )?;
            if n > 0 {
                history(tx, id, &at, "renewed", by, Some(&format!("expires {expires}")))?;
            }
            Ok(n > 0)
        })
    }

    /// Removes a suppression: it no longer applies and is no longer reported as expired; its row,
    /// hits and history stay. False when there is no such suppression (or it was removed already).
    pub fn remove_suppression(
        &mut self,
        id: &str,
        by: &str,
        reason: &str,
        now: Ts,
    ) -> Result<bool> {
        let at = ts_text(now);
        self.in_transaction(|tx| {
            let n = tx.execute(
                "UPDATE suppressions SET removed_at = ?2, removed_by = ?3 WHERE id = ?1 AND removed_at IS NULL",
                params![id, at, by],
            )?;
            if n > 0 {
                history(tx, id, &at, "removed", by, Some(reason))?;
            }
            Ok(n > 0)
        })
    }

    /// Every change to one suppression, oldest first.
    pub fn suppression_history(&self, id: &str) -> Result<Vec<SuppressionChange>> {
        let q = || -> rusqlite::Result<Vec<SuppressionChange>> {
            let mut st = self.conn.prepare(
                "SELECT at, event, actor, note FROM suppression_history WHERE suppression_id = ?1 ORDER BY seq",
            )?;
            let rows = st.query_map([id], |r| {
                Ok(SuppressionChange {
                    at: r.get(0)?,
                    event: r.get(1)?,
                    actor: r.get(2)?,
                    note: r.get(3)?,
                })
            })?;
            rows.collect()
        };
        q().map_err(|e| self.sql(e))
    }

    /// Every stored entry as one suppressions-file text (expired ones too: the engine then notes that
    /// an expired suppression matched, instead of forgetting it).
    pub fn suppressions_toml(&self) -> Result<String> {
        let q = || -> rusqlite::Result<String> {
            let mut st = self
                .conn
                .prepare("SELECT entry FROM suppressions WHERE removed_at IS NULL ORDER BY id")?;
            let rows = st.query_map([], |r| r.get::<_, String>(0))?;
            let mut out = String::new();
            for r in rows {
                out.push_str(&r?);
                out.push('\n');
            }
            Ok(out)
        };
        q().map_err(|e| self.sql(e))
    }

    pub fn list_suppressions(&self) -> Result<Vec<SuppressionRow>> {
        let q = || -> rusqlite::Result<Vec<SuppressionRow>> {
            let mut st = self.conn.prepare(
                "SELECT s.id, s.owner, s.reason, s.expires, s.created_at, s.created_by, s.expired_at, s.expired_by,
                        (SELECT count(*) FROM suppression_hits h WHERE h.suppression_id = s.id),
                        (SELECT max(at) FROM suppression_hits h WHERE h.suppression_id = s.id), s.entry,
                        s.removed_at, s.removed_by
                 FROM suppressions s
                 UNION ALL
                 SELECT h.suppression_id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, count(*), max(h.at), NULL, NULL, NULL
                 FROM suppression_hits h WHERE h.suppression_id NOT IN (SELECT id FROM suppressions)
                 GROUP BY h.suppression_id
                 ORDER BY 1",
            )?;
            let rows = st.query_map([], |r| {
                let owner: Option<String> = r.get(1)?;
                Ok(SuppressionRow {
                    id: r.get(0)?,
                    source: if owner.is_some() { "store" } else { "file" }.into(),
                    owner,
                    reason: r.get(2)?,
                    expires: r.get(3)?,
                    created_at: r.get(4)?,
                    created_by: r.get(5)?,
                    expired_at: r.get(6)?,
                    expired_by: r.get(7)?,
                    hits: r.get::<_, i64>(8)? as u64,
                    last_hit: r.get(9)?,
                    entry: r.get(10)?,
                    removed_at: r.get(11)?,
                    removed_by: r.get(12)?,
                    history: Vec::new(),
                })
            })?;
            rows.collect()
        };
        q().map_err(|e| self.sql(e))
    }

    /// What a suppression hid, for the expiry report.
    pub fn expiry_report(&self, id: &str) -> Result<Option<ExpiryReport>> {
        let q = || -> rusqlite::Result<Option<ExpiryReport>> {
            let Some((owner, reason, expires, ended_at, ended_by)) = self
                .conn
                .query_row(
                    "SELECT owner, reason, expires, expired_at, expired_by FROM suppressions WHERE id = ?1",
                    [id],
                    |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, String>(2)?,
                            r.get::<_, Option<String>>(3)?,
                            r.get::<_, Option<String>>(4)?,
                        ))
                    },
                )
                .optional()?
            else {
                return Ok(None);
            };
            let (hits, last_hit): (i64, Option<String>) = self.conn.query_row(
                "SELECT count(*), max(at) FROM suppression_hits WHERE suppression_id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            let mut st = self.conn.prepare(
                "SELECT a.id, a.host, a.last_seen, a.headline FROM suppression_hits h JOIN alerts a ON a.id = h.alert_id
                 WHERE h.suppression_id = ?1 ORDER BY a.last_seen_ns DESC, a.id LIMIT 20",
            )?;
            let suppressed = st
                .query_map([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(Some(ExpiryReport {
                id: id.to_string(),
                owner,
                reason,
                expires,
                ended: ended_at.map(|a| (a, ended_by.unwrap_or_default())),
                hits: hits as u64,
                last_hit,
                suppressed,
            }))
        };
        q().map_err(|e| self.sql(e))
    }

    /// Ends a suppression now (the caller marks the entry revoked) and keeps who ended it. Returns
    /// what it had been hiding.
    pub fn expire_suppression(
        &mut self,
        id: &str,
        entry: &str,
        by: &str,
        now: Ts,
    ) -> Result<Option<ExpiryReport>> {
        let at = ts_text(now);
        let done = self.in_transaction(|tx| {
            let n = tx.execute(
                "UPDATE suppressions SET entry = ?2, expired_at = ?3, expired_by = ?4
                 WHERE id = ?1 AND removed_at IS NULL",
                params![id, entry, at, by],
            )?;
            if n > 0 {
                history(tx, id, &at, "expired", by, None)?;
            }
            Ok(n > 0)
        })?;
        if !done {
            return Ok(None);
        }
        self.expiry_report(id)
    }

    /// The stored entry of one suppression.
    pub fn suppression_entry(&self, id: &str) -> Result<Option<String>> {
        self.conn
            .query_row("SELECT entry FROM suppressions WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| self.sql(e))
    }
}

fn history(
    tx: &rusqlite::Transaction,
    id: &str,
    at: &str,
    event: &str,
    actor: &str,
    note: Option<&str>,
) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO suppression_history (suppression_id, at, event, actor, note) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![id, at, event, actor, note],
    )?;
    Ok(())
}
