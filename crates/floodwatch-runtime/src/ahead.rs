//! A file parsed ahead on a helper thread ([`crate::helpers`]): its records' events come back in
//! batches, each record's events kept apart with where the record was, so that the replay takes
//! them one record at a time exactly as it takes them from the file itself (its timeline and its
//! count of bytes read see the same records). Only the parsing moves; the order does not.

use floodwatch_core::event::Event;
use floodwatch_sources::{FileSource, FileStats};
use std::io::BufRead;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

/// Events per batch: few enough that the batches in flight stay small (memory stays flat), many
/// enough that handing one over costs nothing next to parsing it.
const BATCH_EVENTS: usize = 1024;

/// Batches parsed but not yet taken: the helper runs at most this far ahead.
const IN_FLIGHT: usize = 4;

/// One call of [`FileSource::next_events`]: how many events it gave and the record it read.
type Record = (usize, Option<(u64, u64)>);

struct Batch {
    events: std::vec::IntoIter<Event>,
    records: std::vec::IntoIter<Record>,
}

enum Message {
    Batch(Batch),
    /// The file's end: its counts.
    End(FileStats),
    Failed(std::io::Error),
}

/// What a record taken from a file parsed ahead gives the replay.
pub(crate) enum Taken {
    /// A record's events (moved into the caller's vector) and where it was.
    Record(Option<(u64, u64)>),
    /// The end of the file, and its counts.
    End(FileStats),
}

/// The replay's side: the records of a file being parsed on a helper thread.
pub(crate) struct Ahead {
    rx: Receiver<Message>,
    batch: Option<Batch>,
}

impl Ahead {
    /// Starts parsing `src` on the thread that runs the job returned: the caller hands the job to
    /// a helper and takes the records from what is returned.
    pub(crate) fn start<R: BufRead + Send + 'static>(
        src: Box<FileSource<R>>,
    ) -> (Ahead, Box<dyn FnOnce() + Send>) {
        let (tx, rx) = sync_channel(IN_FLIGHT);
        let job = Box::new(move || parse(*src, tx));
        (Ahead { rx, batch: None }, job)
    }

    /// The next record: its events appended to `out`. Blocks while the helper parses it.
    pub(crate) fn next(&mut self, out: &mut Vec<Event>) -> std::io::Result<Taken> {
        loop {
            if let Some(b) = &mut self.batch {
                if let Some((n, at)) = b.records.next() {
                    out.extend(b.events.by_ref().take(n));
                    return Ok(Taken::Record(at));
                }
            }
            match self.rx.recv() {
                Ok(Message::Batch(b)) => self.batch = Some(b),
                Ok(Message::End(stats)) => return Ok(Taken::End(stats)),
                Ok(Message::Failed(e)) => return Err(e),
                // The helper cannot end without a last message unless it panicked.
                Err(_) => return Err(std::io::Error::other("the thread parsing ahead stopped")),
            }
        }
    }
}

/// The helper's side: parses to the end of the file, or until the replay stops taking (a pass that
/// stopped at a break drops its files), a batch at a time.
fn parse<R: BufRead>(mut src: FileSource<R>, tx: SyncSender<Message>) {
    loop {
        let mut events = Vec::with_capacity(BATCH_EVENTS);
        let mut records = Vec::new();
        let mut more = true;
        while more && events.len() < BATCH_EVENTS {
            let before = events.len();
            more = match src.next_events(&mut events) {
                Ok(more) => more,
                Err(e) => {
                    // The records before the failure are handed on first, as the file gives them.
                    let batch = Batch {
                        events: events.into_iter(),
                        records: records.into_iter(),
                    };
                    if tx.send(Message::Batch(batch)).is_ok() {
                        tx.send(Message::Failed(e)).ok();
                    }
                    return;
                }
            };
            records.push((events.len() - before, src.last_record()));
        }
        let batch = Batch {
            events: events.into_iter(),
            records: records.into_iter(),
        };
        if tx.send(Message::Batch(batch)).is_err() {
            return;
        }
        if !more {
            let stats = std::mem::replace(&mut src.stats, FileStats::new(String::new(), ""));
            tx.send(Message::End(stats)).ok();
            return;
        }
    }
}
