//! A bounded on-disk FIFO of findings waiting for their receiver: one file per finding
//! (`<seq>.json`: the id on the first line, the body after it; the fleet's NATS sink keeps encoded
//! messages the same way, [`Spool::push_bytes`]), written to a temporary name, synced,
//! then renamed, so a crash leaves either the whole finding or nothing. A spool opened again (after
//! a restart) resumes with what is in it, oldest first. A finding that would take the spool past
//! its byte limit is not stored and is counted: the spool never grows without bound and never
//! drops silently.

use crate::DeliverError;
use std::collections::VecDeque;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

pub struct Spool {
    dir: PathBuf,
    max_bytes: u64,
    bytes: u64,
    /// (sequence number, size in bytes), oldest first.
    items: VecDeque<(u64, u64)>,
    next_seq: u64,
    overflowed: u64,
}

impl Spool {
    pub fn open(dir: &Path, max_bytes: u64) -> Result<Spool, DeliverError> {
        fs::create_dir_all(dir)
            .map_err(|e| DeliverError::io(format!("spool {}", dir.display()), e))?;
        let mut items = Vec::new();
        let entries = fs::read_dir(dir)
            .map_err(|e| DeliverError::io(format!("spool {}", dir.display()), e))?;
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.ends_with(".tmp") {
                // Half-written when the process died: its finding is still waiting upstream.
                let _ = fs::remove_file(entry.path());
                continue;
            }
            let Some(seq) = name
                .strip_suffix(".json")
                .and_then(|s| s.parse::<u64>().ok())
            else {
                continue;
            };
            let len = entry.metadata().map(|m| m.len()).unwrap_or(0);
            items.push((seq, len));
        }
        items.sort_unstable();
        let bytes = items.iter().map(|(_, l)| l).sum();
        let next_seq = items.last().map_or(1, |(s, _)| s + 1);
        Ok(Spool {
            dir: dir.to_path_buf(),
            max_bytes,
            bytes,
            items: items.into(),
            next_seq,
            overflowed: 0,
        })
    }

    fn path(&self, seq: u64) -> PathBuf {
        self.dir.join(format!("{seq:020}.json"))
    }

    /// Stores a finding at the back; false (and counted) when it does not fit.
    pub fn push(&mut self, id: &str, body: &str) -> Result<bool, DeliverError> {
        self.push_bytes(id, body.as_bytes())
    }

    /// [`Spool::push`] of any bytes (an encoded message): `id` is one line (no newline in it).
    pub fn push_bytes(&mut self, id: &str, body: &[u8]) -> Result<bool, DeliverError> {
        let len = (id.len() + 1 + body.len()) as u64;
        if self.bytes + len > self.max_bytes {
            self.overflowed += 1;
            return Ok(false);
        }
        let seq = self.next_seq;
        let path = self.path(seq);
        let tmp = path.with_extension("tmp");
        let write = || -> std::io::Result<()> {
            let mut f = fs::File::create(&tmp)?;
            f.write_all(id.as_bytes())?;
            f.write_all(b"\n")?;
            f.write_all(body)?;
            f.sync_all()?;
            fs::rename(&tmp, &path)
        };
        write().map_err(|e| DeliverError::io(format!("spool {}", path.display()), e))?;
        self.next_seq += 1;
        self.bytes += len;
        self.items.push_back((seq, len));
        Ok(true)
    }

    /// The oldest finding: (id, body).
    pub fn front(&self) -> Option<Result<(String, String), DeliverError>> {
        self.front_bytes().map(|r| {
            r.and_then(|(id, body)| {
                String::from_utf8(body).map(|b| (id, b)).map_err(|e| {
                    DeliverError::io(
                        format!("spool {}", self.dir.display()),
                        std::io::Error::new(std::io::ErrorKind::InvalidData, e),
                    )
                })
            })
        })
    }

    /// The oldest entry as it was pushed: (id, body bytes).
    pub fn front_bytes(&self) -> Option<Result<(String, Vec<u8>), DeliverError>> {
        let &(seq, _) = self.items.front()?;
        let path = self.path(seq);
        Some(
            fs::read(&path)
                .map_err(|e| DeliverError::io(format!("spool {}", path.display()), e))
                .map(|raw| match raw.iter().position(|b| *b == b'\n') {
                    Some(i) => (
                        String::from_utf8_lossy(&raw[..i]).into_owned(),
                        raw[i + 1..].to_vec(),
                    ),
                    None => (String::new(), raw),
                }),
        )
    }

    /// Removes the oldest finding (delivered, or refused for good).
    pub fn pop_front(&mut self) -> Result<(), DeliverError> {
        let Some((seq, len)) = self.items.pop_front() else {
            return Ok(());
        };
        self.bytes -= len;
        let path = self.path(seq);
        match fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(DeliverError::io(format!("spool {}", path.display()), e))
            }
            _ => Ok(()),
        }
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Findings refused because the spool was full, since it was opened.
    pub fn overflowed(&self) -> u64 {
        self.overflowed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifo_survives_reopening_and_stays_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Spool::open(dir.path(), 100).unwrap();
        assert!(s.push("a", "{\"n\":1}").unwrap());
        assert!(s.push("b", "{\"n\":2}").unwrap());
        // 90 bytes more does not fit in 100.
        assert!(!s.push("c", &"x".repeat(90)).unwrap());
        assert_eq!((s.len(), s.overflowed()), (2, 1));
        // A half-written file from a crash is dropped on reopening.
        fs::write(dir.path().join("00000000000000000009.tmp"), "junk").unwrap();
        drop(s);
        let mut s = Spool::open(dir.path(), 100).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(
            s.front().unwrap().unwrap(),
            ("a".into(), "{\"n\":1}".into())
        );
        s.pop_front().unwrap();
        assert!(s.push("d", "{}").unwrap());
        assert_eq!(s.front().unwrap().unwrap().0, "b");
        s.pop_front().unwrap();
        assert_eq!(s.front().unwrap().unwrap().0, "d");
        s.pop_front().unwrap();
        assert!(s.is_empty() && s.bytes() == 0);
        assert!(!dir.path().join("00000000000000000009.tmp").exists());
    }
}
