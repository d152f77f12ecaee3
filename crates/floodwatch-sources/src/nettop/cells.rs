//! The cells of a row, whatever the layout: the name cell (`Name.pid` process or `proto
//! local<->remote` socket) and byte counts; and the names they hold, interned.

use super::{FastMap, What};
use crate::wire::text::trim;
use crate::{Reject, RejectReason};
use floodwatch_core::event::Proto;
use std::num::NonZeroU32;
use std::sync::Arc;

/// Name cells remembered with their parse (a capture repeats the same names every frame); the memory
/// is dropped and rebuilt when there are more distinct ones than this.
const MAX_CACHED_CELLS: usize = 16_384;

/// Interned names kept before the unused ones are dropped (see [`Names::compact`]).
const MAX_NAMES: usize = 65_536;

/// A process name, socket description, remote or uuid, by its place in [`Names`]. Keys, the
/// current process and held rows carry ids, not shared strings: every row cloned and dropped
/// several `Arc`s, each a locked increment or decrement (perf: most of `accept`'s cycles). Two
/// ids are equal exactly when their texts are: a text has one id at a time.
///
/// Never zero (the place is one less), so that an `Option<NameId>` and the cell parses holding one
/// stay small: a parse is copied out of the cache for every row.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub(super) struct NameId(NonZeroU32);

impl NameId {
    /// The id of the `i`th text.
    fn at(i: usize) -> NameId {
        NameId(NonZeroU32::MIN.saturating_add(i as u32))
    }

    fn place(self) -> usize {
        self.0.get() as usize - 1
    }

    /// The id as a number (a counter key holds it so).
    pub(super) fn get(self) -> u32 {
        self.0.get()
    }

    /// The id whose [`NameId::get`] is `raw` (never 0: it came from an id).
    pub(super) fn from_get(raw: u32) -> NameId {
        debug_assert!(raw != 0, "a name id is never 0");
        NameId::at(raw.saturating_sub(1) as usize)
    }
}

/// The texts behind [`NameId`]s. Bounded: when full, the caller keeps only the ids it still
/// holds ([`Names::compact`]) and renumbers them.
pub(super) struct Names {
    texts: Vec<Arc<str>>,
    ids: FastMap<Arc<str>, NameId>,
    limit: usize,
}

impl Default for Names {
    fn default() -> Self {
        Names::with_limit(MAX_NAMES)
    }
}

impl Names {
    pub(super) fn with_limit(limit: usize) -> Self {
        Names {
            texts: Vec::new(),
            ids: FastMap::default(),
            limit,
        }
    }

    pub(super) fn intern(&mut self, text: &str) -> NameId {
        if let Some(&id) = self.ids.get(text) {
            return id;
        }
        let id = NameId::at(self.texts.len());
        let text: Arc<str> = text.into();
        self.texts.push(text.clone());
        self.ids.insert(text, id);
        id
    }

    /// The shared text, for an event.
    pub(super) fn text(&self, id: NameId) -> &Arc<str> {
        &self.texts[id.place()]
    }

    pub(super) fn is_full(&self) -> bool {
        self.texts.len() >= self.limit
    }

    /// Keeps only the ids in `live` and renumbers them; returns the new id of each old one (`None`
    /// when dropped). The kept ones are numbered from the last down: almost every id moves, so an
    /// id a caller forgot to renumber names another text, which the tests see. The next limit is
    /// at least twice what is kept, so a capture with more live names than the limit is compacted
    /// a bounded number of times per name.
    pub(super) fn compact(&mut self, live: impl IntoIterator<Item = NameId>) -> Renumber {
        let mut keep = vec![false; self.texts.len()];
        for id in live {
            keep[id.place()] = true;
        }
        let mut new_of = vec![None; self.texts.len()];
        let old = std::mem::take(&mut self.texts);
        self.ids.clear();
        for (i, text) in old.into_iter().enumerate().rev() {
            if keep[i] {
                let id = NameId::at(self.texts.len());
                new_of[i] = Some(id);
                self.ids.insert(text.clone(), id);
                self.texts.push(text);
            }
        }
        self.limit = self.limit.max(2 * self.texts.len());
        Renumber(new_of)
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.texts.len()
    }
}

/// Old id to new, after [`Names::compact`].
pub(super) struct Renumber(Vec<Option<NameId>>);

impl Renumber {
    /// The new id of an id that was kept live (every id the parser holds is).
    pub(super) fn id(&self, id: NameId) -> NameId {
        let new = self.0[id.place()];
        debug_assert!(new.is_some(), "a held name was not counted live");
        new.unwrap_or(id)
    }
}

/// No parse: the place of none in [`Cell::next`] and [`Cells`]'s `last`.
const NO_PARSE: u32 = u32::MAX;

/// A name cell read before: its text, its parse, and the place of the cell that came after it the
/// last time it was read ([`NO_PARSE`]: none yet). A capture prints its rows in the same order
/// every frame, so the cell after a row is mostly the one after it last frame: checking that one
/// first costs one compare where the cache costs a hash of the whole cell and a probe.
struct Cell {
    what: What,
    text: Box<str>,
    next: u32,
}

/// The name cell cache and the names its parses hold.
pub(super) struct Cells {
    /// A cell's text to its place in `cells`.
    cache: FastMap<Box<str>, u32>,
    cells: Vec<Cell>,
    /// The place of the cell returned last.
    last: u32,
    pub(super) names: Names,
}

impl Default for Cells {
    fn default() -> Self {
        Cells {
            cache: FastMap::default(),
            cells: Vec::new(),
            last: NO_PARSE,
            names: Names::default(),
        }
    }
}

impl Cells {
    /// Forgets every parse (their ids may be renumbered or dropped next).
    pub(super) fn forget_parses(&mut self) {
        self.cache.clear();
        self.cells.clear();
        self.last = NO_PARSE;
    }

    /// The place of the cell that followed the last one the previous time, if `cell` is it.
    #[inline]
    fn predicted(&self, cell: &str) -> Option<u32> {
        let at = self.cells.get(self.last as usize)?.next;
        let text: &str = &self.cells.get(at as usize)?.text;
        crate::wire::swar::short_eq(text.as_bytes(), cell.as_bytes()).then_some(at)
    }
}

/// [`name_cell`], remembered by the cell's text. Inlined, and a reference into the cache: a parse
/// returned by value was stored on the stack and read back in other pieces, and every row stalled
/// on store forwarding (perf: a seventh of `csv_row`). The caller copies the small parse straight
/// from the cache, which was written long before.
#[inline]
pub(super) fn cached_name_cell<'c>(cells: &'c mut Cells, cell: &str) -> Option<&'c What> {
    let at = match cells.predicted(cell) {
        Some(at) => at,
        None => {
            let at = match cells.cache.get(cell) {
                Some(&at) => at,
                None => cache_new_cell(cells, cell)?,
            };
            if let Some(last) = cells.cells.get_mut(cells.last as usize) {
                last.next = at;
            }
            at
        }
    };
    cells.last = at;
    cells.cells.get(at as usize).map(|c| &c.what)
}

/// The miss path of [`cached_name_cell`], out of line: the new cell's place.
#[inline(never)]
fn cache_new_cell(cells: &mut Cells, cell: &str) -> Option<u32> {
    let what = name_cell(cell, &mut cells.names)?;
    if cells.cells.len() >= MAX_CACHED_CELLS {
        cells.forget_parses();
    }
    let at = cells.cells.len() as u32;
    cells.cells.push(Cell {
        what,
        text: cell.into(),
        next: NO_PARSE,
    });
    cells.cache.insert(cell.into(), at);
    Some(at)
}

/// `Name.pid` (split on the last dot: names contain dots) or `proto local<->remote`.
pub(super) fn name_cell(cell: &str, names: &mut Names) -> Option<What> {
    let cell = cell.trim();
    if let Some((proto, endpoints)) = cell.split_once(' ') {
        if let Some((_, remote)) = endpoints.split_once("<->") {
            if proto.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Some(What::Socket {
                    proto: socket_proto(proto),
                    desc: names.intern(cell),
                    remote: remote_endpoint(remote.trim()).map(|r| names.intern(&r)),
                });
            }
        }
    }
    let (name, pid) = cell.rsplit_once('.')?;
    if name.is_empty() || pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let pid = pid.parse().ok()?;
    Some(What::Process {
        name: names.intern(name),
        pid,
    })
}

fn socket_proto(p: &str) -> Proto {
    if p.starts_with("tcp") {
        Proto::Tcp
    } else if p.starts_with("udp") {
        Proto::Udp
    } else if p.starts_with("quic") {
        Proto::Quic
    } else {
        Proto::Other
    }
}

/// None for wildcards (`*:*`, `*.*`, `*.5353`); IPv6 `addr.port` becomes `[addr]:port` so every remote
/// reads host:port like IPv4 (`17.57.146.138:5223`) and hostnames (`one.one.one.one:443`).
fn remote_endpoint(r: &str) -> Option<String> {
    if r.is_empty() || r.starts_with('*') {
        return None;
    }
    if r.matches(':').count() >= 2 {
        if let Some((host, port)) = r.rsplit_once('.') {
            if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) {
                return Some(format!("[{host}]:{port}"));
            }
        }
    }
    Some(r.to_string())
}

/// A byte count: digits, or a number with a unit as nettop prints without `-x` (`1.5 MiB`).
/// Empty and `-` mean "no value" (0), anything else is an error. The usual cell, 1 to 16 digits
/// with nothing to trim, is read inline; any other goes to [`count_cell_general`]. The call, the
/// trim and its checks were half of a count's instructions.
#[inline(always)]
pub(super) fn count_cell(what: &str, cell: &str) -> Result<u64, Reject> {
    match crate::wire::swar::digits_16(cell.as_bytes()) {
        Some(v) => Ok(v),
        None => count_cell_general(what, cell),
    }
}

/// [`count_cell`] for any cell: trimmed, then digits, a plain number or one with a unit.
#[inline(never)]
pub(super) fn count_cell_general(what: &str, cell: &str) -> Result<u64, Reject> {
    let c = trim(cell);
    if c.is_empty() || c == "-" {
        return Ok(0);
    }
    // The usual cell, digits only, in two words (`parse` checks a sign and multiplies with an
    // overflow check per digit: a tenth of a row); longer or other cells go to `parse`.
    if let Some(v) = crate::wire::swar::digits_16(c.as_bytes()) {
        return Ok(v);
    }
    if let Ok(v) = c.parse::<u64>() {
        return Ok(v);
    }
    let bad = || {
        Reject::new(
            RejectReason::BadValue,
            format!("{what} {c:?} is not a byte count"),
        )
    };
    let split = c
        .find(|ch: char| !(ch.is_ascii_digit() || ch == '.'))
        .ok_or_else(bad)?;
    let v: f64 = c[..split].parse().map_err(|_| bad())?;
    let scale = match c[split..].trim() {
        "B" => 1.0,
        "KiB" | "KB" | "K" => 1024.0,
        "MiB" | "MB" | "M" => 1024.0 * 1024.0,
        "GiB" | "GB" | "G" => 1024.0 * 1024.0 * 1024.0,
        "TiB" | "TB" | "T" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return Err(bad()),
    };
    let n = (v * scale).round();
    if n.is_finite() && n >= 0.0 && n < u64::MAX as f64 {
        Ok(n as u64)
    } else {
        Err(bad())
    }
}
