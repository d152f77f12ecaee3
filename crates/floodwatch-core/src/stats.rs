//! Per-file accounting: every record is an event, a skip or a reject, and rejects are located.
//! Filled by the sources and printed by the sinks; it lives here so that neither depends on the other.

use serde::Serialize;
use std::borrow::Cow;
use std::collections::BTreeMap;

/// How a "not telemetry" reason begins when the file looked like telemetry but was not read anyway
/// (most of its lines are something else): the summary turns such a reason into a warning.
pub const LOOKS_LIKE_TELEMETRY: &str = "looks like telemetry";

/// How many located reject samples a file keeps (all are counted).
pub const MAX_SAMPLES: usize = 20;

#[derive(Clone, Debug, Serialize)]
pub struct RejectSample {
    pub line: u64,
    pub reason: String,
    pub detail: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct FileStats {
    pub path: String,
    pub format: String,
    /// Non-blank records read (lines, or objects of a JSON array).
    pub records: u64,
    /// Blank (empty or whitespace-only) lines of a line format, which are not records: records +
    /// blank account for every line. Written only when there are some, so summaries of files
    /// without blank lines stay as they were.
    #[serde(skip_serializing_if = "is_zero")]
    pub blank: u64,
    /// Normalized events produced.
    pub events: u64,
    pub skipped: u64,
    pub rejected: u64,
    /// Records whose data other records' events carry (see floodwatch-sources' `RecordParser::carried`).
    pub carried: u64,
    /// Count per reason; skip reasons are prefixed `skipped: `.
    pub reasons: BTreeMap<String, u64>,
    /// The first rejects, with line numbers.
    pub samples: Vec<RejectSample>,
    /// Remarks that are not rejects (anchoring decisions, newer versions seen).
    pub notes: Vec<String>,
    /// Where a skip's key is written before it is looked up: a capture skips most of its rows
    /// (baselines, quiet intervals), and the key must not be allocated for each.
    #[serde(skip)]
    key: String,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl FileStats {
    pub fn new(path: String, format: &str) -> Self {
        FileStats {
            path,
            format: format.to_string(),
            records: 0,
            blank: 0,
            events: 0,
            skipped: 0,
            rejected: 0,
            carried: 0,
            reasons: BTreeMap::new(),
            samples: Vec::new(),
            notes: Vec::new(),
            key: String::new(),
        }
    }

    /// Adds another segment's counts of the same file (segments are read separately when a file's
    /// time runs backwards).
    pub fn absorb(&mut self, other: FileStats) {
        self.records += other.records;
        self.blank += other.blank;
        self.events += other.events;
        self.skipped += other.skipped;
        self.rejected += other.rejected;
        self.carried += other.carried;
        for (k, v) in other.reasons {
            *self.reasons.entry(k).or_default() += v;
        }
        self.samples.extend(other.samples);
        self.samples.sort_by_key(|r| r.line);
        self.samples.truncate(MAX_SAMPLES);
        for n in other.notes {
            if !self.notes.contains(&n) {
                self.notes.push(n);
            }
        }
    }

    pub fn skip(&mut self, why: Cow<'static, str>) {
        self.skipped += 1;
        self.key.clear();
        self.key.push_str("skipped: ");
        self.key.push_str(&why);
        match self.reasons.get_mut(self.key.as_str()) {
            Some(n) => *n += 1,
            None => {
                self.reasons.insert(self.key.clone(), 1);
            }
        }
    }

    pub fn reject(&mut self, line: u64, reason: Cow<'static, str>, detail: String) {
        self.rejected += 1;
        if self.samples.len() < MAX_SAMPLES {
            self.samples.push(RejectSample {
                line,
                reason: reason.to_string(),
                detail,
            });
        }
        *self.reasons.entry(reason.into_owned()).or_default() += 1;
    }

    /// An event the parser produced and a later stage refused (a timestamp out of range, too late to
    /// order): it moves from the events to the rejects, so records = events + skipped + rejected +
    /// carried still holds and a file whose every event was refused reads as nothing usable.
    pub fn reject_event(&mut self, line: u64, reason: Cow<'static, str>, detail: String) {
        self.events = self.events.saturating_sub(1);
        self.reject(line, reason, detail);
    }
}
