//! osquery result log, event format (shared/docs/telemetry-formats.md §4): `es_process_events` rows
//! with string numerics (the default, and what old logs hold), in the envelope
//! `{"name","hostIdentifier","calendarTime","unixTime","epoch","counter","numerics","decorations",
//! "columns","action"}`. osquery writes `/` unescaped.

use crate::eslogger::Proc;
use crate::util::{hash_str, hex40, osquery_calendar_time, uuid_from, write_json, Counting, J};
use floodwatch_core::Ts;
use std::io::{self, Write};

/// Writes `es_process_events` result lines.
pub struct OsqueryWriter<W: Write> {
    out: Counting<W>,
    host: String,
    host_uuid: String,
    name: String,
    counter: u64,
    seq: u64,
    line: Vec<u8>,
}

impl<W: Write> OsqueryWriter<W> {
    pub fn new(w: W, host: &str, seed: u64) -> Self {
        OsqueryWriter {
            out: Counting::new(w),
            host: host.to_string(),
            host_uuid: uuid_from(seed, hash_str(seed, host)),
            name: "pack/es/es_process_events".into(),
            counter: 1 + seed % 50,
            seq: 100 + seed % 5_000,
            line: Vec::with_capacity(2048),
        }
    }

    pub fn bytes_written(&self) -> u64 {
        self.out.bytes
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.inner.flush()
    }

    /// One `exec` row for `target` (the post-exec image), seen by osquery at `ts`. `user` names
    /// `target.uid` (the `username` column and the `username` decoration).
    pub fn exec(
        &mut self,
        ts: Ts,
        target: &Proc,
        parent_pidversion: u32,
        user: &str,
    ) -> io::Result<()> {
        self.row(ts, target, parent_pidversion, user, "exec", None, None)
    }

    /// One `fork` row: the row describes the parent (the message's process), `child_pid` the child.
    pub fn fork(
        &mut self,
        ts: Ts,
        parent: &Proc,
        child_pid: i32,
        parent_pidversion: u32,
        user: &str,
    ) -> io::Result<()> {
        self.row(
            ts,
            parent,
            parent_pidversion,
            user,
            "fork",
            None,
            Some(child_pid),
        )
    }

    /// One `exit` row for `p`; `exit_code` is the wait status, as ES reports it.
    pub fn exit(
        &mut self,
        ts: Ts,
        p: &Proc,
        stat: i32,
        parent_pidversion: u32,
        user: &str,
    ) -> io::Result<()> {
        self.row(ts, p, parent_pidversion, user, "exit", Some(stat), None)
    }

    #[allow(clippy::too_many_arguments)]
    fn row(
        &mut self,
        ts: Ts,
        target: &Proc,
        parent_pidversion: u32,
        user: &str,
        event_type: &str,
        exit_code: Option<i32>,
        child_pid: Option<i32>,
    ) -> io::Result<()> {
        let n = |v: i64| J::S(v.to_string());
        let cmdline: String = target
            .args
            .iter()
            .map(|a| {
                if a.contains([' ', '"', '\t']) {
                    format!("\"{}\" ", a.replace('\\', "\\\\").replace('"', "\\\""))
                } else {
                    format!("{a} ")
                }
            })
            .collect();
        self.seq += 1;
        let columns = J::O(vec![
            ("version", n(7)),
            ("seq_num", n(self.seq as i64)),
            ("global_seq_num", n(self.seq as i64 * 3)),
            ("pid", n(target.pid as i64)),
            ("pidversion", n(target.pidversion as i64)),
            ("path", J::s(target.path.as_str())),
            ("parent", n(target.ppid as i64)),
            ("original_parent", n(target.original_ppid as i64)),
            ("session_id", n(target.session_id as i64)),
            ("responsible_pid", n(target.responsible_pid as i64)),
            ("responsible_pidversion", n(parent_pidversion as i64)),
            ("parent_pidversion", n(parent_pidversion as i64)),
            ("cmdline", J::S(cmdline)),
            ("cmdline_count", n(target.args.len() as i64)),
            ("env", J::s("")),
            ("env_count", n(0)),
            ("cwd", J::s(target.cwd.as_str())),
            ("uid", n(target.uid as i64)),
            ("euid", n(target.euid as i64)),
            ("gid", n(target.gid as i64)),
            ("egid", n(target.gid as i64)),
            ("username", J::s(user)),
            (
                "signing_id",
                J::s(target.signing_id.as_deref().unwrap_or_default()),
            ),
            (
                "team_id",
                J::s(target.team_id.as_deref().unwrap_or_default()),
            ),
            ("cdhash", J::S(hex40(hash_str(1, &target.path)))),
            ("platform_binary", n(target.platform as i64)),
            (
                "exit_code",
                exit_code.map_or_else(|| J::s(""), |c| n(c as i64)),
            ),
            (
                "child_pid",
                child_pid.map_or_else(|| J::s(""), |c| n(c as i64)),
            ),
            ("time", n(ts.secs())),
            ("event_type", J::s(event_type)),
            ("codesigning_flags", J::s(cs_flag_names(target.cs_flags))),
        ]);
        let unix = ts.secs() + 1;
        let rec = J::O(vec![
            ("name", J::s(self.name.as_str())),
            ("hostIdentifier", J::s(self.host.as_str())),
            (
                "calendarTime",
                J::S(osquery_calendar_time(Ts::from_secs(unix))),
            ),
            ("unixTime", n(unix)),
            ("epoch", n(0)),
            ("counter", n(self.counter as i64)),
            ("numerics", J::B(false)),
            (
                "decorations",
                J::O(vec![
                    ("host_uuid", J::s(self.host_uuid.as_str())),
                    ("username", J::s(user)),
                ]),
            ),
            ("columns", columns),
            ("action", J::s("added")),
        ]);
        self.counter += 1;
        self.line.clear();
        write_json(&rec, &mut self.line, None);
        self.line.push(b'\n');
        self.out.put(&self.line)
    }
}

/// osquery's comma list of notable flags (NOT_VALID, ADHOC, NOT_RUNTIME, INSTALLER).
fn cs_flag_names(flags: u32) -> String {
    let mut v = Vec::new();
    if flags & 0x1 == 0 {
        v.push("NOT_VALID");
    }
    if flags & 0x2 != 0 {
        v.push("ADHOC");
    }
    if flags & 0x1_0000 == 0 {
        v.push("NOT_RUNTIME");
    }
    v.join(", ")
}
