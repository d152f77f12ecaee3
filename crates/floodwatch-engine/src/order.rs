//! Per-host ordering: a bounded reorder buffer. Events may arrive a little out of order within a file
//! (nettop rows, log backfill) and across files; anything up to `slack` late is put back in order,
//! anything later is handed back to the caller to be rejected with its lateness.

use floodwatch_core::event::Event;
use floodwatch_core::Ts;
use std::cmp::Ordering;
use std::collections::{BinaryHeap, VecDeque};

#[derive(bitcode::Encode, bitcode::Decode)]
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

/// How far from the queue's end an early event is still put in the queue (beyond it: the heap).
const NEAR_END: usize = 64;

#[derive(bitcode::Encode, bitcode::Decode)]
pub struct ReorderBuffer {
    /// Events in (time, arrival) order: those that arrived in time order (the common case, since a
    /// hunt's merge already yields it) and those a little early, put in their place near the end.
    /// A queue costs O(1) per event where a heap costs O(log n) moves of whole events.
    queue: VecDeque<Item>,
    /// Events that arrived earlier than the queue's newest: put back in order here.
    heap: BinaryHeap<Item>,
    slack_ns: i64,
    max_seen: Ts,
    /// Everything at or before this has been released.
    released: Ts,
    seq: u64,
}

#[derive(bitcode::Encode, bitcode::Decode)]
pub enum Push {
    Accepted,
    /// Too late: this many nanoseconds older than what was already released.
    Late(Event, i64),
}

impl ReorderBuffer {
    pub fn new(slack_ns: i64) -> Self {
        ReorderBuffer {
            queue: VecDeque::new(),
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
        let item = Item {
            ts: ev.ts,
            seq: self.seq,
            ev,
        };
        if self.queue.back().is_none_or(|b| item.ts >= b.ts) {
            self.queue.push_back(item);
            return Push::Accepted;
        }
        // A little early (nettop lists a process's sockets sampled just before its own row): put
        // in its place near the queue's end, after any of the same time (arrival order), which
        // moves a few items where the heap moved every item it held up and down.
        // Found by walking back from the end (at most NEAR_END items, recent and in cache), not by
        // a binary search over the whole queue, whose probes each missed the cache (perf: 2% of a
        // nettop hunt). The queue is in time order, so the place is the same.
        let len = self.queue.len();
        let mut at = len;
        while at > 0 && self.queue[at - 1].ts > item.ts {
            at -= 1;
            if len - at > NEAR_END {
                self.heap.push(item);
                return Push::Accepted;
            }
        }
        self.queue.insert(at, item);
        Push::Accepted
    }

    /// Pops the next event that can no longer be overtaken (or any event when `flush`): the earlier
    /// (time, then arrival) of the queue's front and the heap's top, so the order is the same as one
    /// heap of everything would give.
    pub fn pop_ready(&mut self, flush: bool) -> Option<Event> {
        let from_heap = match (self.queue.front(), self.heap.peek()) {
            (None, None) => return None,
            (Some(_), None) => false,
            (None, Some(_)) => true,
            (Some(q), Some(h)) => (h.ts, h.seq) < (q.ts, q.seq),
        };
        let ts = if from_heap {
            self.heap.peek().map(|i| i.ts)
        } else {
            self.queue.front().map(|i| i.ts)
        }?;
        if !flush && ts.0 > self.max_seen.0.saturating_sub(self.slack_ns) {
            return None;
        }
        let item = if from_heap {
            self.heap.pop()
        } else {
            self.queue.pop_front()
        }?;
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
        self.queue.len() + self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty() && self.heap.is_empty()
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
    fn queue_and_heap_give_the_order_one_heap_gives() {
        // Mostly in order, with ties and stragglers: released in (time, arrival) order.
        let times = [5, 5, 7, 6, 7, 9, 8, 8, 12, 10, 12, 12, 11, 20, 19, 21, 15];
        assert_released_in_time_then_arrival_order(&times, 3);
    }

    /// Pushes an event per time (seconds; its line is its arrival index) into a buffer of `slack_s`,
    /// releasing as it goes, then flushes: every event comes out once, in (time, arrival) order.
    fn assert_released_in_time_then_arrival_order(times: &[i64], slack_s: i64) {
        let mut b = ReorderBuffer::new(slack_s * 1_000_000_000);
        let mut out = vec![];
        for (i, s) in times.iter().enumerate() {
            assert!(matches!(b.push(ev(*s, i as u64)), Push::Accepted), "{s}");
            while let Some(e) = b.pop_ready(false) {
                out.push((e.ts, e.origin.line));
            }
        }
        while let Some(e) = b.pop_ready(true) {
            out.push((e.ts, e.origin.line));
        }
        let mut want: Vec<(Ts, u64)> = times
            .iter()
            .enumerate()
            .map(|(i, s)| (Ts::from_secs(*s), i as u64))
            .collect();
        want.sort();
        assert_eq!(out, want);
        assert!(b.is_empty());
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

    #[test]
    fn early_events_near_and_far_keep_time_then_arrival_order() {
        // Ascending times with early stragglers: some a few places back (put in the queue), some
        // hundreds back (the heap), with ties; a slack long enough that nothing is late.
        let mut seed = 0x2545_f491_u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let times: Vec<i64> = (0..3000i64)
            .map(|i| match next() % 10 {
                0 => i / 4 - (next() % 200) as i64,
                1 => i / 4 - (next() % 5) as i64,
                _ => i / 4,
            })
            .collect();
        assert_released_in_time_then_arrival_order(&times, 1_000);
    }
}
