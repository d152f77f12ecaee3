//! Opening stores: creation, migration marks, and files that must be refused untouched.

use floodwatch_store::{schema, Store};
use std::time::Duration;

const WAIT: Duration = Duration::from_millis(200);

#[test]
fn a_new_store_is_marked_and_reopens_without_migrating_again() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("a.db");
    let s = Store::open(&p, WAIT).unwrap();
    let (app, ver): (i64, i64) = s
        .connection()
        .query_row(
            "SELECT (SELECT application_id FROM pragma_application_id), (SELECT user_version FROM pragma_user_version)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(app, schema::APPLICATION_ID);
    assert_eq!(ver, schema::VERSION);
    drop(s);
    let s = Store::open_existing(&p, WAIT).unwrap();
    let tables: i64 = s
        .connection()
        .query_row(
            "SELECT count(*) FROM sqlite_schema WHERE type = 'table'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(tables, 17);
}

#[test]
fn missing_newer_and_foreign_stores_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("none.db");
    let e = Store::open_existing(&missing, WAIT)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("does not exist"), "{e}");
    assert!(!missing.exists(), "open_existing must not create the file");

    let newer = dir.path().join("newer.db");
    drop(Store::open(&newer, WAIT).unwrap());
    {
        let c = rusqlite::Connection::open(&newer).unwrap();
        c.pragma_update(None, "user_version", schema::VERSION + 1)
            .unwrap();
    }
    let e = Store::open(&newer, WAIT).err().unwrap().to_string();
    assert!(e.contains("newer than this floodwatch understands"), "{e}");

    let foreign = dir.path().join("foreign.db");
    {
        let c = rusqlite::Connection::open(&foreign).unwrap();
        c.pragma_update(None, "application_id", 0x1234).unwrap();
        c.execute_batch("CREATE TABLE t (x)").unwrap();
    }
    let e = Store::open(&foreign, WAIT).err().unwrap().to_string();
    assert!(e.contains("belongs to another application"), "{e}");

    let folder = dir.path().join("folder.db");
    std::fs::create_dir(&folder).unwrap();
    let e = Store::open(&folder, WAIT).err().unwrap().to_string();
    assert!(e.contains("is a folder"), "{e}");
}

#[test]
fn a_version_1_store_is_migrated_forward_keeping_its_rows() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("v1.db");
    drop(Store::open(&p, WAIT).unwrap());
    {
        // What a version-1 store looked like: no network_findings table, no suppression history or
        // removal columns, no held windows, user_version 1, one run and one expired suppression.
        let c = rusqlite::Connection::open(&p).unwrap();
        c.execute_batch(
            &(UNDO_V5.to_string() + "DROP TABLE network_findings; DROP TABLE suppression_history;
             DROP TABLE baseline_held; DROP TABLE baseline_acceptances;
             ALTER TABLE suppressions DROP COLUMN removed_at; ALTER TABLE suppressions DROP COLUMN removed_by;
             PRAGMA user_version = 1;
             INSERT INTO runs (kind, started_at, version, args) VALUES ('hunt', 'then', '0.1.0', 'x');
             INSERT INTO suppressions (id, owner, reason, expires, entry, created_at, created_by, expired_at, expired_by)
                 VALUES ('s1', 'o', 'r', '2099-01-01', '', 't0', 'alice', 't1', 'bob');"),
        )
        .unwrap();
    }
    let s = Store::open(&p, WAIT).unwrap();
    let (ver, runs, has): (i64, i64, i64) = s
        .connection()
        .query_row(
            "SELECT (SELECT user_version FROM pragma_user_version), (SELECT count(*) FROM runs),
                    (SELECT count(*) FROM sqlite_schema WHERE name = 'network_findings')",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!((ver, runs, has), (schema::VERSION, 1, 1));
    // The suppression's past is carried into its history.
    let events: Vec<String> = s
        .suppression_history("s1")
        .unwrap()
        .into_iter()
        .map(|c| format!("{} {} {}", c.at, c.event, c.actor))
        .collect();
    assert_eq!(events, ["t0 added alice", "t1 expired bob"]);
}

/// A version-3 store (before held windows and acceptances) opened by several runs at once: each
/// migration step is one locked transaction, so all succeed, the v4 tables appear once, and the rows
/// already there (a baseline, a run) stay; a held window can then be stored and accepted.
#[test]
fn a_version_3_store_is_migrated_to_4_by_racing_openers_keeping_its_rows() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("v3.db");
    drop(Store::open(&p, WAIT).unwrap());
    {
        let c = rusqlite::Connection::open(&p).unwrap();
        c.execute_batch(
            &(UNDO_V5.to_string() + "DROP TABLE baseline_held; DROP TABLE baseline_acceptances;
             PRAGMA user_version = 3;
             INSERT INTO runs (kind, started_at, version, args) VALUES ('learn', 'then', '0.1.0', 'x');
             INSERT INTO baselines (identity, parent_class, role, windows, first_seen, last_seen, days, hosts,
                 profile, updated_run) VALUES ('curl', 'cron', 'default', 3, 'a', 'b', 0.5, 1, '{}', 1);"),
        )
        .unwrap();
    }
    let start = std::sync::Barrier::new(4);
    let results: Vec<Result<(), String>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    start.wait();
                    Store::open(&p, Duration::from_secs(10))
                        .map(|_| ())
                        .map_err(|e| e.to_string())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for r in &results {
        assert!(r.is_ok(), "{r:?}");
    }
    let s = Store::open_existing(&p, WAIT).unwrap();
    let (ver, baselines, tables): (i64, i64, i64) = s
        .connection()
        .query_row(
            "SELECT (SELECT user_version FROM pragma_user_version), (SELECT count(*) FROM baselines),
                    (SELECT count(*) FROM sqlite_schema WHERE name IN ('baseline_held', 'baseline_acceptances'))",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!((ver, baselines, tables), (schema::VERSION, 1, 2));
    assert!(s.held_windows(true).unwrap().is_empty());
    assert!(s.accepted_keys().unwrap().is_empty());
}

/// Two hunts creating the same new store at once: schema creation is one locked step per version,
/// so every opener succeeds (the others wait and find the schema there), never "table runs already
/// exists" or "not a floodwatch store".
#[test]
fn many_runs_creating_one_new_store_at_once_all_succeed() {
    for round in 0..10 {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(format!("new-{round}.db"));
        let start = std::sync::Barrier::new(6);
        let results: Vec<Result<(), String>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..6)
                .map(|_| {
                    s.spawn(|| {
                        start.wait();
                        Store::open(&p, Duration::from_secs(10))
                            .map(|_| ())
                            .map_err(|e| e.to_string())
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for r in &results {
            assert!(r.is_ok(), "round {round}: {r:?}");
        }
        let s = Store::open_existing(&p, WAIT).unwrap();
        let ver: i64 = s
            .connection()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(ver, schema::VERSION);
    }
}

/// What versions 5 to 7 added, taken out again: a fresh store made to look like version 4.
const UNDO_V5: &str = "DROP TABLE coverage_runs; DROP INDEX alerts_queue;
     DROP TABLE campaign_members; DROP TABLE campaigns;
     DROP INDEX alerts_by_identity; DROP INDEX alerts_by_script; DROP INDEX alerts_by_destination;
     ALTER TABLE alerts DROP COLUMN identity; ALTER TABLE alerts DROP COLUMN script;
     ALTER TABLE alerts DROP COLUMN destination;
     PRAGMA user_version = 4;
";

/// A version-4 store's alerts gain what `alerts similar` matches on: their destination from their
/// JSON, their subject as identity; the campaign tables appear.
#[test]
fn a_version_4_store_is_migrated_to_5_keeping_its_alerts_and_backfilling_them() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("v4.db");
    drop(Store::open(&p, WAIT).unwrap());
    {
        let c = rusqlite::Connection::open(&p).unwrap();
        c.execute_batch(&(UNDO_V5.to_string()
            + "INSERT INTO runs (kind, started_at, version, args) VALUES ('hunt', 'then', '0.1.0', 'x');
               INSERT INTO alerts (id, host, state, score, severity, first_seen, last_seen, last_seen_ns,
                   subject, subject_key, headline, baseline, alert_json, first_run, last_run)
               VALUES ('a1', 'mac-01', 'closed', 74, 'high', 't0', 't1', 1, '/bin/bash', 'k', 'h', 'b',
                   '{\"metrics\": {\"top_destination\": \"203.0.113.10\"}}', 1, 1);"))
            .unwrap();
    }
    let s = Store::open(&p, WAIT).unwrap();
    let (ver, identity, destination, tables): (i64, String, String, i64) = s
        .connection()
        .query_row(
            "SELECT (SELECT user_version FROM pragma_user_version), identity, destination,
                    (SELECT count(*) FROM sqlite_schema WHERE name IN ('campaigns', 'campaign_members'))
             FROM alerts WHERE id = 'a1'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap();
    assert_eq!(
        (ver, identity.as_str(), destination.as_str(), tables),
        (schema::VERSION, "/bin/bash", "203.0.113.10", 2)
    );
    assert!(s.list_campaigns(None).unwrap().is_empty());
}
