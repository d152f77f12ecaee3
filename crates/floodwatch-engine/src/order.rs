//! Per-host ordering: a bounded reorder buffer. Events may arrive a little out of order within a file
//! (nettop rows, log backfill) and across files; anything up to `slack` late is put back in order,
//! anything later is handed back to the caller to be rejected with its lateness.

use floodwatch_core::event::Event;
use floodwatch_core::Ts;
use std::cmp::Ordering;
use std::collections::BinaryHeap;

struct Item {
    ts: Ts,
    seq: u64,
    ev: Event,
}

impl PartialEq for Item {
    fn eq(&self, o: &Self) -> bool {
        self.ts == o.ts && self.seq == o.seq
    }
}
impl Eq for Item {}
impl PartialOrd for Item {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Item {
    // Min-heap on (ts, arrival order): equal times keep their input order, so output is deterministic.
    fn cmp(&self, o: &Self) -> Ordering {
        o.ts.cmp(&self.ts).then(o.seq.cmp(&self.seq))
    }
}

pub struct ReorderBuffer {
    heap: BinaryHeap<Item>,
    slack_ns: i64,
    max_seen: Ts,
    /// Everything at or before this has been released.
    released: Ts,
    seq: u64,
}

pub enum Push {
    Accepted,
    /// Too late: this many nanoseconds older than what was already released.
    Late(Event, i64),
}

impl ReorderBuffer {
    pub fn new(slack_ns: i64) -> Self {
        ReorderBuffer {
            heap: BinaryHeap::new(),
            slack_ns,
            max_seen: Ts::MIN,
            released: Ts::MIN,
            seq: 0,
        }
    }

    pub fn push(&mut self, ev: Event) -> Push {
        if ev.ts < self.released {
            let late = self.released.0 - ev.ts.0;
            return Push::Late(ev, late);
        }
        self.max_seen = self.max_seen.max(ev.ts);
        self.seq += 1;
        self.heap.push(Item {
            ts: ev.ts,
            seq: self.seq,
            ev,
        });
        Push::Accepted
    }

    /// Pops the next event that can no longer be overtaken (or any event when `flush`).
    pub fn pop_ready(&mut self, flush: bool) -> Option<Event> {
        let top = self.heap.peek()?;
        if !flush && top.ts.0 > self.max_seen.0.saturating_sub(self.slack_ns) {
            return None;
        }
        let item = self.heap.pop()?;
        self.released = self.released.max(item.ts);
        Some(item.ev)
    }

    /// Declares that the stream's time has reached `to` without events (a live source gone quiet):
    /// held events are released by the caller first; anything older than `to` arriving later is late.
    pub fn advance(&mut self, to: Ts) {
        self.released = self.released.max(to);
        self.max_seen = self.max_seen.max(to);
    }

    pub fn max_seen(&self) -> Ts {
        self.max_seen
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use floodwatch_core::event::{EventKind, Origin, Session, SessionKind};
    use std::sync::Arc;

    fn ev(s: i64, line: u64) -> Event {
        Event {
            ts: Ts::from_secs(s),
            host: Arc::from("h"),
            origin: Origin { file: 0, line },
            kind: EventKind::Session(Box::new(Session {
                kind: SessionKind::Lock,
                user: None,
                uid: None,
                tty: None,
                remote: None,
            })),
        }
    }

    #[test]
    fn reorders_within_slack_and_reports_later() {
        let mut b = ReorderBuffer::new(10 * 1_000_000_000);
        let mut out = vec![];
        for (s, l) in [(100, 1), (95, 2), (103, 3), (120, 4)] {
            assert!(matches!(b.push(ev(s, l)), Push::Accepted));
            while let Some(e) = b.pop_ready(false) {
                out.push(e.origin.line);
            }
        }
        assert_eq!(out, vec![2, 1, 3]);
        match b.push(ev(90, 5)) {
            Push::Late(e, ns) => {
                assert_eq!(e.origin.line, 5);
                assert_eq!(ns, 13 * 1_000_000_000);
            }
            Push::Accepted => panic!("should be late"),
        }
        while let Some(e) = b.pop_ready(true) {
            out.push(e.origin.line);
        }
        assert_eq!(out, vec![2, 1, 3, 4]);
    }
}
