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
    /// Count per reason, skip reasons prefixed `skipped: ` (read with [`FileStats::reasons`]).
    reasons: Reasons,
    /// The first rejects, with line numbers.
    pub samples: Vec<RejectSample>,
    /// Remarks that are not rejects (anchoring decisions, newer versions seen).
    pub notes: Vec<String>,
}

/// Distinct skip reasons kept apart in [`Reasons`]; further ones (reasons with data in them) are
/// counted in its map directly.
const MAX_SKIP_REASONS: usize = 16;

/// The prefix of a skip reason among [`FileStats::reasons`].
const SKIPPED: &str = "skipped: ";

/// A file's count per reason, written as one map (rejects by their reason, skips prefixed
/// `skipped: `) but counted in two places: a capture skips a third of its rows or more
/// (baselines, quiet intervals, headers) for two or three reasons, and finding the reason in a
/// short list by pointer replaced building a key and several string compares in the map (perf:
/// 2.8% of a nettop hunt's instructions, about 200 per skip).
#[derive(Clone, Debug, Default)]
struct Reasons {
    /// The rejects' reasons, and skips beyond [`MAX_SKIP_REASONS`] (prefixed).
    counted: BTreeMap<String, u64>,
    /// Count per skip reason, unprefixed, in the order first seen.
    skips: Vec<(Cow<'static, str>, u64)>,
}

impl Reasons {
    /// Counts `n` skips under `why`.
    #[inline]
    fn skip(&mut self, why: Cow<'static, str>, n: u64) {
        // A parser names its reasons with constants: the same pointer, found without reading
        // text; a reason built at run time is found by its text. (A text kept here is alive, so
        // no other text can be at its address.)
        let at = self
            .skips
            .iter()
            .position(|(kept, _)| kept.as_ptr() == why.as_ptr() && kept.len() == why.len())
            .or_else(|| self.skips.iter().position(|(kept, _)| *kept == why));
        if let Some(slot) = at.and_then(|at| self.skips.get_mut(at)) {
            slot.1 += n;
        } else if self.skips.len() < MAX_SKIP_REASONS {
            self.skips.push((why, n));
        } else {
            *self.counted.entry(format!("{SKIPPED}{why}")).or_default() += n;
        }
    }

    fn reject(&mut self, reason: String) {
        *self.counted.entry(reason).or_default() += 1;
    }

    fn absorb(&mut self, other: Reasons) {
        for (k, v) in other.counted {
            *self.counted.entry(k).or_default() += v;
        }
        for (why, n) in other.skips {
            self.skip(why, n);
        }
    }

    fn all(&self) -> BTreeMap<String, u64> {
        let mut all = self.counted.clone();
        for (why, n) in &self.skips {
            *all.entry(format!("{SKIPPED}{why}")).or_default() += n;
        }
        all
    }
}

impl Serialize for Reasons {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.all().serialize(s)
    }
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
            reasons: Reasons::default(),
            samples: Vec::new(),
            notes: Vec::new(),
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
        self.reasons.absorb(other.reasons);
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
        self.reasons.skip(why, 1);
    }

    /// Count per reject reason (no skips), in order.
    pub fn reject_reasons(&self) -> impl Iterator<Item = (&str, u64)> {
        self.reasons
            .counted
            .iter()
            .filter(|(r, _)| !r.starts_with(SKIPPED))
            .map(|(r, n)| (r.as_str(), *n))
    }

    /// Count per reason: rejects by their reason, skips as `skipped: ` and theirs.
    pub fn reasons(&self) -> BTreeMap<String, u64> {
        self.reasons.all()
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
        self.reasons.reject(reason.into_owned());
    }

    /// An event the parser produced and a later stage refused (a timestamp out of range, too late to
    /// order): it moves from the events to the rejects, so records = events + skipped + rejected +
    /// carried still holds and a file whose every event was refused reads as nothing usable.
    pub fn reject_event(&mut self, line: u64, reason: Cow<'static, str>, detail: String) {
        self.events = self.events.saturating_sub(1);
        self.reject(line, reason, detail);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUIET: &str = "no traffic in interval";

    /// Skips are counted apart but read and written as before: one `skipped: ` key per reason,
    /// whether the reason is a constant, the same text built at run time, or one of more reasons
    /// than are kept apart; rejects beside them; another segment's counts added.
    #[test]
    fn skips_read_back_as_prefixed_reasons_beside_the_rejects() {
        let mut a = FileStats::new("n.csv".into(), "nettop-csv");
        for _ in 0..3 {
            a.skip(QUIET.into());
        }
        a.skip(Cow::Owned(QUIET.to_string()));
        a.skip("nettop header".into());
        for i in 0..20 {
            a.skip(Cow::Owned(format!("host {i}")));
        }
        a.skip(Cow::Owned("host 19".into()));
        a.reject(7, "bad row".into(), "no pid".into());
        let r = a.reasons();
        assert_eq!(r.get("skipped: no traffic in interval"), Some(&4));
        assert_eq!(r.get("skipped: nettop header"), Some(&1));
        for i in 0..20 {
            let want = if i == 19 { 2 } else { 1 };
            assert_eq!(
                r.get(&format!("skipped: host {i}")),
                Some(&want),
                "host {i}"
            );
        }
        assert_eq!(r.get("bad row"), Some(&1));
        assert_eq!(r.len(), 23);
        assert_eq!(a.skipped, 26);
        let skips: u64 = r
            .iter()
            .filter(|(k, _)| k.starts_with(SKIPPED))
            .map(|(_, n)| n)
            .sum();
        assert_eq!(skips, a.skipped);
        assert_eq!(a.reject_reasons().collect::<Vec<_>>(), [("bad row", 1)]);

        let mut b = FileStats::new("n.csv".into(), "nettop-csv");
        b.skip(QUIET.into());
        b.skip("late".into());
        b.reject(9, "bad row".into(), "no pid".into());
        a.absorb(b);
        let r = a.reasons();
        assert_eq!(r.get("skipped: no traffic in interval"), Some(&5));
        assert_eq!(r.get("skipped: late"), Some(&1));
        assert_eq!(r.get("bad row"), Some(&2));
        assert_eq!(a.skipped, 28);
    }

    /// The summary's form: the fields in their order, `blank` only when there are some, and
    /// `reasons` with the skips in it.
    #[test]
    fn serializes_with_the_skips_among_the_reasons() {
        let mut s = FileStats::new("n.csv".into(), "nettop-csv");
        s.records = 3;
        s.skip(QUIET.into());
        s.skip(QUIET.into());
        s.reject(3, "bad row".into(), "no pid".into());
        assert_eq!(
            serde_json::to_string(&s).unwrap(),
            r#"{"path":"n.csv","format":"nettop-csv","records":3,"events":0,"skipped":2,"rejected":1,"carried":0,"reasons":{"bad row":1,"skipped: no traffic in interval":2},"samples":[{"line":3,"reason":"bad row","detail":"no pid"}],"notes":[]}"#
        );
        s.blank = 1;
        assert!(serde_json::to_string(&s)
            .unwrap()
            .contains(r#""records":3,"blank":1,"events":0"#));
    }
}
