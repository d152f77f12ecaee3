//! The agent's state file (SQLite, WAL): the last checkpoint (the engine snapshot and, per source, where
//! it was read to and what was read but not yet judged), the delivery ledger (which finding states
//! each sink has delivered since that checkpoint), and the health `floodwatch agent status` reads.
//!
//! Crash safety rests on three facts: a checkpoint is taken only after every alert state the engine
//! had produced was handed to the sinks; a restart restores the engine and reads each followed file
//! from just after the checkpointed line, so it produces again exactly the states that came after
//! the checkpoint; and each sink skips a state whose key it has already delivered. The ledger is
//! pruned at each checkpoint: states delivered before it can never come again.

use floodwatch_core::{Error, Result};
use rusqlite::{params, Connection, OptionalExtension};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where one source was when a checkpoint was taken.
#[derive(Clone, Debug, Default, bitcode::Encode, bitcode::Decode)]
pub struct SourceMark {
    /// The source's label (a checkpoint's marks are matched to the config's sources by it).
    pub label: String,
    /// A followed file: the file (device, inode) being read, and the lines of it already judged or
    /// held in `pending` (a restart skips them).
    pub file: Option<(u64, u64)>,
    pub lines: u64,
    /// The newest event time taken from this source.
    pub last_ts: Option<i64>,
    /// Events read but not yet pushed into the engine (the merge was waiting for another source).
    pub pending: Vec<floodwatch_core::event::Event>,
}

/// A checkpoint as stored.
pub struct Checkpoint {
    pub generation: i64,
    pub taken_at: i64,
    pub engine: Vec<u8>,
    pub sources: Vec<SourceMark>,
}

pub struct AgentState {
    conn: Connection,
    path: PathBuf,
    generation: i64,
    /// (sink, key) delivered since the last checkpoint, read at start and kept in step.
    delivered: HashSet<(usize, String)>,
    /// Recorded but not yet committed.
    unsaved: Vec<(usize, String)>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS checkpoint (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    generation INTEGER NOT NULL,
    taken_at INTEGER NOT NULL,
    engine BLOB NOT NULL,
    sources BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS delivered (
    sink INTEGER NOT NULL,
    key TEXT NOT NULL,
    generation INTEGER NOT NULL,
    PRIMARY KEY (sink, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sink_mark (
    sink INTEGER PRIMARY KEY,
    mark TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS health (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    updated_at INTEGER NOT NULL,
    pid INTEGER NOT NULL,
    json TEXT NOT NULL
);
";

fn sql(path: &Path) -> impl Fn(rusqlite::Error) -> Error + '_ {
    move |e| Error::Input(format!("agent state {}: {e}", path.display()))
}

impl AgentState {
    pub fn open(path: &Path) -> Result<AgentState> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        }
        let err = sql(path);
        let conn = Connection::open(path).map_err(&err)?;
        conn.busy_timeout(Duration::from_secs(5)).map_err(&err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(&err)?;
        // A commit is durable once the WAL is written; the checkpoint interval bounds what is redone.
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(&err)?;
        conn.execute_batch(SCHEMA).map_err(&err)?;
        let generation: i64 = conn
            .query_row("SELECT generation FROM checkpoint WHERE id = 1", [], |r| {
                r.get(0)
            })
            .optional()
            .map_err(&err)?
            .unwrap_or(0);
        let mut delivered = HashSet::new();
        {
            let mut st = conn
                .prepare("SELECT sink, key FROM delivered")
                .map_err(&err)?;
            let rows = st
                .query_map([], |r| Ok((r.get::<_, i64>(0)? as usize, r.get(1)?)))
                .map_err(&err)?;
            for r in rows {
                delivered.insert(r.map_err(&err)?);
            }
        }
        Ok(AgentState {
            conn,
            path: path.to_path_buf(),
            generation,
            delivered,
            unsaved: Vec::new(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The last checkpoint, if any.
    pub fn checkpoint(&self) -> Result<Option<Checkpoint>> {
        let err = sql(&self.path);
        let row: Option<(i64, i64, Vec<u8>, Vec<u8>)> = self
            .conn
            .query_row(
                "SELECT generation, taken_at, engine, sources FROM checkpoint WHERE id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()
            .map_err(&err)?;
        let Some((generation, taken_at, engine, sources)) = row else {
            return Ok(None);
        };
        let sources: Vec<SourceMark> = bitcode::decode(&sources).map_err(|e| {
            Error::Input(format!(
                "agent state {}: the checkpoint's sources are not readable ({e})",
                self.path.display()
            ))
        })?;
        Ok(Some(Checkpoint {
            generation,
            taken_at,
            engine,
            sources,
        }))
    }

    /// Whether sink `sink` has delivered the finding state `key` since the last checkpoint.
    pub fn was_delivered(&self, sink: usize, key: &str) -> bool {
        self.delivered.contains(&(sink, key.to_string()))
    }

    /// Notes a delivery (committed with the next [`AgentState::commit`]).
    pub fn record(&mut self, sink: usize, key: &str) {
        if self.delivered.insert((sink, key.to_string())) {
            self.unsaved.push((sink, key.to_string()));
        }
    }

    /// Commits the deliveries noted so far, and each sink's mark (see [`super::sink::Sink::mark`]).
    pub fn commit(&mut self, marks: &[(usize, String)]) -> Result<()> {
        if self.unsaved.is_empty() && marks.is_empty() {
            return Ok(());
        }
        let err = sql(&self.path);
        let tx = self.conn.transaction().map_err(&err)?;
        {
            let mut ins = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO delivered (sink, key, generation) VALUES (?1, ?2, ?3)",
                )
                .map_err(&err)?;
            for (sink, key) in &self.unsaved {
                ins.execute(params![*sink as i64, key, self.generation])
                    .map_err(&err)?;
            }
            let mut mark = tx
                .prepare_cached("INSERT OR REPLACE INTO sink_mark (sink, mark) VALUES (?1, ?2)")
                .map_err(&err)?;
            for (sink, m) in marks {
                mark.execute(params![*sink as i64, m]).map_err(&err)?;
            }
        }
        tx.commit().map_err(&err)?;
        self.unsaved.clear();
        Ok(())
    }

    /// A sink's mark as last committed.
    pub fn mark(&self, sink: usize) -> Result<Option<String>> {
        self.conn
            .query_row(
                "SELECT mark FROM sink_mark WHERE sink = ?1",
                [sink as i64],
                |r| r.get(0),
            )
            .optional()
            .map_err(sql(&self.path))
    }

    /// Writes a checkpoint (after the deliveries noted so far, in the same transaction) and forgets
    /// the deliveries it makes history.
    pub fn save_checkpoint(
        &mut self,
        engine: &[u8],
        sources: &[SourceMark],
        marks: &[(usize, String)],
        now_ns: i64,
    ) -> Result<()> {
        self.commit(marks)?;
        let err = sql(&self.path);
        let next = self.generation + 1;
        let tx = self.conn.transaction().map_err(&err)?;
        tx.execute(
            "INSERT OR REPLACE INTO checkpoint (id, generation, taken_at, engine, sources)
             VALUES (1, ?1, ?2, ?3, ?4)",
            params![next, now_ns, engine, bitcode::encode(sources)],
        )
        .map_err(&err)?;
        tx.execute("DELETE FROM delivered WHERE generation < ?1", [next])
            .map_err(&err)?;
        tx.commit().map_err(&err)?;
        self.generation = next;
        self.delivered.clear();
        Ok(())
    }

    /// Drops the checkpoint (it cannot be used: another config, another format).
    pub fn discard_checkpoint(&mut self) -> Result<()> {
        self.conn
            .execute("DELETE FROM checkpoint", [])
            .map_err(sql(&self.path))?;
        Ok(())
    }

    /// The agent's health now (JSON), for `agent status`.
    pub fn write_health(&mut self, json: &str, now_ns: i64) -> Result<()> {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO health (id, updated_at, pid, json) VALUES (1, ?1, ?2, ?3)",
                params![now_ns, std::process::id(), json],
            )
            .map_err(sql(&self.path))?;
        Ok(())
    }
}

/// What `floodwatch agent status` reads: the health the agent last wrote, when and by which process.
pub fn read_health(path: &Path) -> Result<Option<(i64, u32, String)>> {
    floodwatch_store::agent_health(path)
}
