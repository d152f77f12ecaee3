//! The schema, versioned with `PRAGMA user_version` and migrated forward one step at a time, each step in
//! its own transaction. `PRAGMA application_id` marks the file as floodwatch's, so a store is never
//! migrated into someone else's database.

use rusqlite::{Connection, TransactionBehavior};
use std::time::{Duration, Instant};

/// 'FLDW'.
pub const APPLICATION_ID: i64 = 0x464C_4457;

/// Migrations in order; migration k (0-based) takes the schema from version k to k+1.
const MIGRATIONS: &[&str] = &[
    // v1
    r#"
CREATE TABLE runs (
    id          INTEGER PRIMARY KEY,
    kind        TEXT NOT NULL,            -- hunt | learn
    started_at  TEXT NOT NULL,            -- wall clock, RFC 3339
    finished_at TEXT,
    version     TEXT NOT NULL,            -- floodwatch version
    args        TEXT NOT NULL,            -- the paths read, as given
    files       INTEGER NOT NULL DEFAULT 0,
    events      INTEGER NOT NULL DEFAULT 0,
    alerts      INTEGER NOT NULL DEFAULT 0,
    windows     INTEGER NOT NULL DEFAULT 0 -- learn: windows learned
);
CREATE TABLE inputs (
    run_id      INTEGER NOT NULL REFERENCES runs(id),
    path        TEXT NOT NULL,
    host        TEXT NOT NULL,
    format      TEXT NOT NULL,
    bytes       INTEGER NOT NULL,
    events      INTEGER NOT NULL,
    rejected    INTEGER NOT NULL,
    PRIMARY KEY (run_id, path)
);
-- Per host, the end of the event time already learned: a second learn of the same files adds nothing.
CREATE TABLE learned_until (
    host        TEXT PRIMARY KEY,
    until       TEXT NOT NULL,
    until_ns    INTEGER NOT NULL,
    run_id      INTEGER NOT NULL REFERENCES runs(id)
);
CREATE TABLE baselines (
    id           INTEGER PRIMARY KEY,
    identity     TEXT NOT NULL,           -- signing id (+ team), else path; scripts add their script
    parent_class TEXT NOT NULL,           -- launchd_daemon, launchd_agent, cron, terminal, ssh, app, ...
    role         TEXT NOT NULL,           -- host role
    windows      INTEGER NOT NULL,        -- active windows learned (not decayed)
    first_seen   TEXT NOT NULL,
    last_seen    TEXT NOT NULL,
    days         REAL NOT NULL,           -- span of first..last learned window
    hosts        INTEGER NOT NULL,
    profile      TEXT NOT NULL,           -- JSON: decayed log-scale histograms per signal
    updated_run  INTEGER NOT NULL REFERENCES runs(id),
    UNIQUE (identity, parent_class, role)
);
-- Robust statistics per signal, refreshed on every learn (for people and SQL; judging uses `profile`).
CREATE TABLE baseline_signals (
    baseline_id INTEGER NOT NULL REFERENCES baselines(id) ON DELETE CASCADE,
    signal      TEXT NOT NULL,            -- spawns_per_s | packets_per_s | bytes_per_s | connections_per_s
    median      REAL NOT NULL,
    mad         REAL NOT NULL,
    p95         REAL NOT NULL,
    p99         REAL NOT NULL,
    max         REAL NOT NULL,
    PRIMARY KEY (baseline_id, signal)
);
CREATE TABLE baseline_hosts (
    baseline_id INTEGER NOT NULL REFERENCES baselines(id) ON DELETE CASCADE,
    host        TEXT NOT NULL,
    PRIMARY KEY (baseline_id, host)
);
CREATE TABLE alerts (
    id            TEXT PRIMARY KEY,       -- the alert's deterministic id (same input, same id)
    host          TEXT NOT NULL,
    state         TEXT NOT NULL,          -- open | closed
    mark          TEXT,                   -- acknowledged | false_positive
    mark_by       TEXT,
    mark_reason   TEXT,
    marked_at     TEXT,
    score         INTEGER NOT NULL,
    severity      TEXT NOT NULL,
    first_seen    TEXT NOT NULL,
    last_seen     TEXT NOT NULL,
    last_seen_ns  INTEGER NOT NULL,
    subject       TEXT NOT NULL,          -- executable path (or pid)
    subject_key   TEXT NOT NULL,          -- host|pid|process start|path: one process lifetime
    reopens       TEXT REFERENCES alerts(id), -- the same subject's previous, closed episode
    cmd_line      TEXT,
    headline      TEXT NOT NULL,          -- the strongest reason
    suppressed_by TEXT,
    baseline      TEXT NOT NULL,
    alert_json    TEXT NOT NULL,          -- the whole alert, as the engine wrote it
    first_run     INTEGER NOT NULL REFERENCES runs(id),
    last_run      INTEGER NOT NULL REFERENCES runs(id)
);
CREATE INDEX alerts_by_time ON alerts (first_seen, host);
CREATE INDEX alerts_by_subject ON alerts (subject_key, last_seen_ns);
CREATE TABLE alert_history (
    seq      INTEGER PRIMARY KEY,
    alert_id TEXT NOT NULL REFERENCES alerts(id),
    run_id   INTEGER REFERENCES runs(id),
    at       TEXT NOT NULL,               -- wall clock of the change
    event    TEXT NOT NULL,               -- opened | updated | closed | reopened | acknowledged | false_positive | unmarked
    actor    TEXT,
    note     TEXT
);
CREATE INDEX alert_history_by_alert ON alert_history (alert_id, seq);
CREATE TABLE suppressions (
    id          TEXT PRIMARY KEY,
    owner       TEXT NOT NULL,
    reason      TEXT NOT NULL,
    expires     TEXT NOT NULL,
    entry       TEXT NOT NULL,            -- the [[suppression]] entry in suppressions-file TOML
    created_at  TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    expired_at  TEXT,                     -- set by `suppress expire`
    expired_by  TEXT
);
-- Every suppressed alert, once per (suppression, alert): re-running a hunt does not count twice.
-- Suppressions from a file are counted here too (their id has no row in `suppressions`).
CREATE TABLE suppression_hits (
    suppression_id TEXT NOT NULL,
    alert_id       TEXT NOT NULL,
    run_id         INTEGER NOT NULL REFERENCES runs(id),
    at             TEXT NOT NULL,         -- event time of the suppressed episode's end
    PRIMARY KEY (suppression_id, alert_id)
);
"#,
    // v2: network-level flood findings (no process), recorded like alerts; scans stay in run summaries.
    r#"
CREATE TABLE network_findings (
    id          TEXT PRIMARY KEY,         -- the finding's deterministic id
    host        TEXT NOT NULL,
    local       TEXT NOT NULL,            -- the sending address
    target      TEXT,
    severity    TEXT NOT NULL,
    first_seen  TEXT NOT NULL,
    last_seen   TEXT NOT NULL,
    last_seen_ns INTEGER NOT NULL,
    headline    TEXT NOT NULL,            -- the strongest reason
    joined      TEXT NOT NULL,            -- the process it was joined to, or what is missing
    finding_json TEXT NOT NULL,
    first_run   INTEGER NOT NULL REFERENCES runs(id),
    last_run    INTEGER NOT NULL REFERENCES runs(id)
);
CREATE INDEX network_findings_by_time ON network_findings (first_seen, host);
"#,
    // v3: suppressions can be renewed and removed; every change is kept with who and why.
    r#"
ALTER TABLE suppressions ADD COLUMN removed_at TEXT;   -- set by `suppress remove`: no longer applied or reported
ALTER TABLE suppressions ADD COLUMN removed_by TEXT;
CREATE TABLE suppression_history (
    seq            INTEGER PRIMARY KEY,
    suppression_id TEXT NOT NULL,
    at             TEXT NOT NULL,         -- wall-clock time of the change
    event          TEXT NOT NULL,         -- added | expired | renewed | removed
    actor          TEXT NOT NULL,
    note           TEXT                   -- the reason, or the new expiry
);
CREATE INDEX suppression_history_by_id ON suppression_history (suppression_id, seq);
INSERT INTO suppression_history (suppression_id, at, event, actor, note)
    SELECT id, created_at, 'added', created_by, reason FROM suppressions ORDER BY created_at, id;
INSERT INTO suppression_history (suppression_id, at, event, actor, note)
    SELECT id, expired_at, 'expired', coalesce(expired_by, ''), NULL FROM suppressions
    WHERE expired_at IS NOT NULL ORDER BY expired_at, id;
"#,
    // v4: `baseline learn` keeps hot windows (absolute thresholds, declared floods) out of the baselines
    // and holds them here for review; a reviewer's acceptance (who and why) lets them be learned.
    r#"
CREATE TABLE baseline_acceptances (
    id           INTEGER PRIMARY KEY,
    identity     TEXT NOT NULL,
    parent_class TEXT NOT NULL,
    role         TEXT NOT NULL,
    host         TEXT NOT NULL,           -- accepted on this host (what the reviewer saw)
    owner        TEXT NOT NULL,
    reason       TEXT NOT NULL,
    created_at   TEXT NOT NULL,           -- wall clock
    created_by   TEXT NOT NULL,
    windows      INTEGER NOT NULL         -- held windows learned when it was accepted
);
CREATE INDEX baseline_acceptances_by_key ON baseline_acceptances (identity, parent_class, role, host);
CREATE TABLE baseline_held (
    id            INTEGER PRIMARY KEY,
    run_id        INTEGER NOT NULL REFERENCES runs(id),
    identity      TEXT NOT NULL,
    parent_class  TEXT NOT NULL,
    role          TEXT NOT NULL,
    host          TEXT NOT NULL,
    window_start  TEXT NOT NULL,
    window_start_ns INTEGER NOT NULL,
    spawns_per_s  REAL NOT NULL,
    packets_per_s REAL NOT NULL,
    bytes_per_s   REAL NOT NULL,
    connections_per_s REAL NOT NULL,
    why           TEXT NOT NULL,          -- the triggers, with their multiple of the threshold
    accepted_by   INTEGER REFERENCES baseline_acceptances(id), -- NULL: pending review
    UNIQUE (host, identity, parent_class, role, window_start_ns)
);
CREATE INDEX baseline_held_pending ON baseline_held (accepted_by, identity, parent_class, role, host);
"#,
    // v5: what `alerts similar` matches on: the subject's identity (signing id or path, plus its script),
    // the script, the top destination. Older rows get their destination from their JSON; their
    // identity falls back to the subject path.
    r#"
ALTER TABLE alerts ADD COLUMN identity TEXT;
ALTER TABLE alerts ADD COLUMN script TEXT;
ALTER TABLE alerts ADD COLUMN destination TEXT;
UPDATE alerts SET destination = json_extract(alert_json, '$.metrics.top_destination'), identity = subject;
CREATE INDEX alerts_by_identity ON alerts (identity);
CREATE INDEX alerts_by_script ON alerts (script);
CREATE INDEX alerts_by_destination ON alerts (destination);
-- Fleet-wide campaigns: several hosts flooding one destination at the same time; members are alert or
-- network finding ids.
CREATE TABLE campaigns (
    id            TEXT PRIMARY KEY,       -- deterministic: the destination group and its member ids
    destination   TEXT NOT NULL,          -- the address, or the prefix (203.0.113.0/24)
    hosts         INTEGER NOT NULL,
    host_list     TEXT NOT NULL,          -- comma-separated
    severity      TEXT NOT NULL,
    score         INTEGER NOT NULL,
    first_seen    TEXT NOT NULL,
    last_seen     TEXT NOT NULL,
    campaign_json TEXT NOT NULL,          -- the whole campaign, playbook included
    first_run     INTEGER NOT NULL REFERENCES runs(id),
    last_run      INTEGER NOT NULL REFERENCES runs(id)
);
CREATE INDEX campaigns_by_time ON campaigns (first_seen);
CREATE TABLE campaign_members (
    campaign_id TEXT NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
    member_id   TEXT NOT NULL,            -- an alert's or a network finding's id
    kind        TEXT NOT NULL,            -- alert | network
    host        TEXT NOT NULL,
    PRIMARY KEY (campaign_id, member_id)
);
CREATE INDEX campaign_members_by_member ON campaign_members (member_id);
"#,
    // v6: the triage queue (`serve`) pages by score and counts per state without reading the rows,
    // whose alert_json makes every row a page of its own: an index holding what those need.
    r#"
CREATE INDEX alerts_queue ON alerts (score DESC, first_seen DESC, id, host, state, mark, severity, suppressed_by, last_seen);
"#,
    // v7: `coverage --db` keeps its report, so `serve` can show what the telemetry lets AN0971 see.
    r#"
CREATE TABLE coverage_runs (
    id          INTEGER PRIMARY KEY,
    recorded_at TEXT NOT NULL,
    paths       TEXT NOT NULL,            -- what was read, as given
    report_json TEXT NOT NULL             -- the report, as `coverage --format json` writes it
);
"#,
];

pub const VERSION: i64 = MIGRATIONS.len() as i64;

pub enum MigrateError {
    Sql(rusqlite::Error),
    Foreign(String),
}

impl From<rusqlite::Error> for MigrateError {
    fn from(e: rusqlite::Error) -> Self {
        MigrateError::Sql(e)
    }
}

/// Brings the store to [`VERSION`]. Another run creating or migrating the same store at the same
/// moment can make SQLite answer "busy" at once, without its busy handler (changing the journal
/// mode, or two readers upgrading to writers): those steps are retried until `patience` runs out.
pub fn migrate(conn: &mut Connection, patience: Duration) -> Result<(), MigrateError> {
    let deadline = Instant::now() + patience;
    loop {
        match migrate_once(conn) {
            Err(MigrateError::Sql(e)) if is_busy(&e) && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
            }
            r => return r,
        }
    }
}

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy) | Some(rusqlite::ErrorCode::DatabaseLocked)
    )
}

fn migrate_once(conn: &mut Connection) -> Result<(), MigrateError> {
    // One statement, one snapshot: another run creating the store at this moment is seen either
    // before or after its schema step, never half-way (its tables without its mark).
    let (app, version, tables): (i64, i64, i64) = conn.query_row(
        "SELECT (SELECT application_id FROM pragma_application_id), \
                (SELECT user_version FROM pragma_user_version), \
                (SELECT count(*) FROM sqlite_schema WHERE type = 'table')",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    if app != 0 && app != APPLICATION_ID {
        return Err(MigrateError::Foreign(format!(
            "belongs to another application (application_id {app:#x}); it was left untouched"
        )));
    }
    if app == 0 && tables > 0 {
        return Err(MigrateError::Foreign(
            "is a SQLite database but not a floodwatch store (it has other tables); it was left untouched".into(),
        ));
    }
    if version > VERSION {
        return Err(MigrateError::Foreign(format!(
            "has schema version {version}, newer than this floodwatch understands ({VERSION}); upgrade floodwatch"
        )));
    }
    conn.pragma_update(None, "foreign_keys", "ON")?;
    if version == VERSION {
        // Up to date: no write lock taken, so a store another run is writing still opens (the
        // run's alerts reach the output; only the final recording waits for the lock).
        return Ok(());
    }
    // WAL: readers (alerts list, sqlite3) never block a hunt writing, and a crash mid-write loses only
    // the transaction in flight.
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // Each step re-reads the version under the write lock (BEGIN IMMEDIATE): two runs opening a new
    // store at once take turns, and the second finds the schema already there instead of creating it
    // again.
    loop {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let Some(sql) = MIGRATIONS.get(version.max(0) as usize) else {
            return Ok(());
        };
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "application_id", APPLICATION_ID)?;
        tx.pragma_update(None, "user_version", version + 1)?;
        tx.commit()?;
    }
}
