//! What each run read and wrote: one `runs` row and its `inputs`, written in the same transaction as the
//! run's results.

use crate::ts_text;
use floodwatch_core::Ts;
use rusqlite::{params, Transaction};
use serde::Serialize;

#[derive(Clone, Debug, Serialize)]
pub struct InputRecord {
    pub path: String,
    pub host: String,
    pub format: String,
    pub bytes: u64,
    pub events: u64,
    pub rejected: u64,
}

#[derive(Clone, Debug)]
pub struct RunRecord {
    /// `hunt` or `learn`.
    pub kind: &'static str,
    pub started: Ts,
    pub finished: Ts,
    pub args: String,
    pub inputs: Vec<InputRecord>,
}

pub(crate) fn insert_run(
    tx: &Transaction,
    r: &RunRecord,
    alerts: u64,
    windows: u64,
) -> rusqlite::Result<i64> {
    let events: u64 = r.inputs.iter().map(|i| i.events).sum();
    tx.execute(
        "INSERT INTO runs (kind, started_at, finished_at, version, args, files, events, alerts, windows)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            r.kind,
            ts_text(r.started),
            ts_text(r.finished),
            env!("CARGO_PKG_VERSION"),
            r.args,
            r.inputs.len() as i64,
            events as i64,
            alerts as i64,
            windows as i64
        ],
    )?;
    let run = tx.last_insert_rowid();
    let mut st = tx.prepare(
        "INSERT OR REPLACE INTO inputs (run_id, path, host, format, bytes, events, rejected)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    for i in &r.inputs {
        st.execute(params![
            run,
            i.path,
            i.host,
            i.format,
            i.bytes as i64,
            i.events as i64,
            i.rejected as i64
        ])?;
    }
    Ok(run)
}

impl crate::Store {
    /// Keeps a coverage report (`coverage --db`): the newest is what `serve` shows.
    pub fn record_coverage(
        &mut self,
        paths: &str,
        report_json: &str,
        now: Ts,
    ) -> floodwatch_core::Result<()> {
        self.conn
            .execute(
                "INSERT INTO coverage_runs (recorded_at, paths, report_json) VALUES (?1, ?2, ?3)",
                rusqlite::params![now.to_rfc3339_millis(), paths, report_json],
            )
            .map(|_| ())
            .map_err(|e| self.sql(e))
    }

    /// The newest coverage report: (recorded at, paths read, report JSON).
    pub fn latest_coverage(&self) -> floodwatch_core::Result<Option<(String, String, String)>> {
        use rusqlite::OptionalExtension;
        self.conn
            .query_row(
                "SELECT recorded_at, paths, report_json FROM coverage_runs ORDER BY id DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
            .map_err(|e| self.sql(e))
    }
}
