//! floodwatch-store: one SQLite file (default `floodwatch.db`) holding what outlives a run:
//! [`baselines`] learned per identity × parent class × host role, [`alerts`] with their lifecycle and
//! analyst marks, [`suppressions`] with their hits, and the [`runs`] that wrote them (with the files each
//! read). The schema is versioned ([`schema`]); every table is plain SQL, readable with the `sqlite3`
//! shell (see the README).
//!
//! Safety of what is already written: every write is one transaction (all of a run's alerts or none),
//! the file is never created over something that is not a SQLite database, and a locked or corrupt file
//! is a clear error before any work is done.

pub mod alerts;
pub mod baselines;
pub mod runs;
pub mod schema;
pub mod suppressions;

use floodwatch_core::{Error, Result, Ts};
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub struct Store {
    conn: Connection,
    path: PathBuf,
}

/// SQLite's file header: anything else at a store path is not ours to touch.
const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

impl Store {
    /// Opens (creating it if absent) and migrates the store. A file that is not a SQLite database, a
    /// database of another application, a newer schema, corruption, or a lock held longer than
    /// `busy_timeout` are errors, and the file is left as it was.
    pub fn open(path: &Path, busy_timeout: Duration) -> Result<Store> {
        Self::open_with(path, busy_timeout, true)
    }

    /// Opens an existing store (for `alerts list`, `suppress list`, ...): a missing file is an error
    /// rather than a new empty store.
    pub fn open_existing(path: &Path, busy_timeout: Duration) -> Result<Store> {
        Self::open_with(path, busy_timeout, false)
    }

    fn open_with(path: &Path, busy_timeout: Duration, create: bool) -> Result<Store> {
        let err = |message: String| Error::Store {
            path: path.to_path_buf(),
            message,
        };
        match std::fs::metadata(path) {
            Ok(m) if m.is_dir() => return Err(err("is a folder, not a database file".into())),
            Ok(m) if m.len() > 0 => {
                let mut head = [0u8; 16];
                let n = std::fs::File::open(path)
                    .and_then(|mut f| std::io::Read::read(&mut f, &mut head))
                    .map_err(|e| err(format!("cannot read: {e}")))?;
                if n < 16 || &head != SQLITE_MAGIC {
                    return Err(err(
                        "is not a SQLite database (wrong header); it was left untouched. Point --db at a floodwatch store or a new file".into(),
                    ));
                }
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if !create {
                    return Err(err(
                        "does not exist (run `floodwatch hunt --db` or `floodwatch baseline learn` first)"
                            .into(),
                    ));
                }
            }
            Err(e) => return Err(err(format!("cannot read: {e}"))),
        }
        let flags = if create {
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE
        } else {
            OpenFlags::SQLITE_OPEN_READ_WRITE
        } | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(|e| err(describe(&e)))?;
        conn.busy_timeout(busy_timeout)
            .map_err(|e| err(describe(&e)))?;
        let mut store = Store {
            conn,
            path: path.to_path_buf(),
        };
        store.check_integrity()?;
        schema::migrate(&mut store.conn, busy_timeout).map_err(|e| match e {
            schema::MigrateError::Sql(e) => err(describe(&e)),
            schema::MigrateError::Foreign(m) => err(m),
        })?;
        Ok(store)
    }

    fn check_integrity(&self) -> Result<()> {
        // quick_check reads every page: a truncated or scribbled file is found here, before a run
        // spends minutes and then fails to record.
        let r: std::result::Result<String, _> =
            self.conn
                .query_row("PRAGMA quick_check(1)", [], |r| r.get(0));
        match r {
            Ok(s) if s == "ok" => Ok(()),
            Ok(s) => Err(self.err(format!(
                "is damaged ({s}); it was left untouched. Restore it from a backup or point --db at a new file"
            ))),
            Err(e) => Err(self.err(describe(&e))),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, message: String) -> Error {
        Error::Store {
            path: self.path.clone(),
            message,
        }
    }

    /// Runs `f` in one transaction: all of its writes, or none.
    fn in_transaction<T>(
        &mut self,
        f: impl FnOnce(&rusqlite::Transaction) -> rusqlite::Result<T>,
    ) -> Result<T> {
        let r = (|| {
            let tx = self.conn.transaction()?;
            let out = f(&tx)?;
            tx.commit()?;
            Ok(out)
        })();
        r.map_err(|e| self.sql(e))
    }

    fn sql(&self, e: rusqlite::Error) -> Error {
        self.err(describe(&e))
    }

    /// Direct access for read-only queries in tests and tools.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }
}

/// SQLite errors in words a user can act on.
pub fn describe(e: &rusqlite::Error) -> String {
    use rusqlite::ErrorCode;
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy) | Some(ErrorCode::DatabaseLocked) => {
            "is locked by another process (another floodwatch writing it?); nothing was written. Retry when it finishes, or raise store.busy_timeout".into()
        }
        Some(ErrorCode::NotADatabase) => {
            "is not a SQLite database (or is encrypted); it was left untouched".into()
        }
        Some(ErrorCode::DatabaseCorrupt) => {
            "is damaged (database disk image is malformed); it was left untouched. Restore it from a backup or point --db at a new file".into()
        }
        Some(ErrorCode::ReadOnly) | Some(ErrorCode::PermissionDenied) => {
            "is read-only for this user; nothing was written".into()
        }
        Some(ErrorCode::CannotOpen) => "cannot be opened (missing folder or no permission)".into(),
        Some(ErrorCode::DiskFull) => "disk full; nothing of this run was written".into(),
        _ => e.to_string(),
    }
}

/// Instants are stored twice where they are compared: RFC 3339 text for people, nanoseconds for SQL.
pub(crate) fn ts_text(t: Ts) -> String {
    t.to_rfc3339_millis()
}

/// The health an agent last wrote to its state file (`agent.state`): (written at, ns; pid; JSON).
/// Read-only, beside a running agent (the state file is in WAL mode). None: nothing written yet.
pub fn agent_health(path: &Path) -> Result<Option<(i64, u32, String)>> {
    use rusqlite::OptionalExtension;
    let err = |e: rusqlite::Error| Error::Input(format!("agent state {}: {e}", path.display()));
    if !path.exists() {
        return Err(Error::Input(format!(
            "agent state {}: no such file (is agent.state set, and has the agent run?)",
            path.display()
        )));
    }
    let conn =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(err)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(err)?;
    conn.query_row(
        "SELECT updated_at, pid, json FROM health WHERE id = 1",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )
    .optional()
    .map_err(err)
}
