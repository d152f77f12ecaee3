//! `nettop -l` fixed-width text: right-aligned columns, found by where each header word ends.

use super::cells::{cached_name_cell, count_cell, Cells};
use super::{Columns, RawRow, What};
use crate::{Reject, RejectReason};

/// `            interface        bytes_in       bytes_out`: words with the offset where each ends.
pub(super) fn fixed_header(line: &str) -> Option<Columns> {
    let mut names = Vec::new();
    let mut ends = Vec::new();
    let mut start = None;
    for (i, c) in line
        .char_indices()
        .chain(std::iter::once((line.len(), ' ')))
    {
        match (c.is_whitespace(), start) {
            (false, None) => start = Some(i),
            (true, Some(s)) => {
                names.push(Box::<str>::from(&line[s..i]));
                ends.push(i);
                start = None;
            }
            _ => {}
        }
    }
    let has = |n: &str| names.iter().any(|w| &**w == n);
    (has("bytes_in") && has("bytes_out")).then_some(Columns::Fixed { names, ends })
}

/// Cells separated by runs of two or more blanks (or a tab); a single space stays inside a cell
/// (`Signal Helper (.1069`). Returns byte ranges.
pub(super) fn wide_cells(line: &str) -> Vec<(usize, usize)> {
    let b = line.as_bytes();
    let blank = |c: u8| c == b' ' || c == b'\t';
    let mut cells = Vec::new();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && blank(b[i]) {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        let start = i;
        let mut end = i;
        while i < b.len() {
            if blank(b[i]) {
                let single = b[i] == b' ' && i + 1 < b.len() && !blank(b[i + 1]);
                if !single {
                    break;
                }
            } else {
                end = i + 1;
            }
            i += 1;
        }
        cells.push((start, end));
    }
    cells
}

/// Maps value cells to header columns by where they end (right-aligned: a value ends at its column's
/// right edge, or before it). Falls back to right-to-left order when positions are ambiguous.
fn map_fixed(ends: &[usize], cells: &[(usize, usize)]) -> Vec<Option<usize>> {
    let mut by_pos: Vec<Option<usize>> = Vec::with_capacity(cells.len());
    let mut used = vec![false; ends.len()];
    let mut ok = true;
    for &(_, end) in cells {
        match ends.iter().position(|&e| e >= end) {
            Some(j) if !used[j] => {
                used[j] = true;
                by_pos.push(Some(j));
            }
            _ => {
                ok = false;
                break;
            }
        }
    }
    if ok {
        return by_pos;
    }
    let n = ends.len();
    (0..cells.len())
        .map(|k| {
            let from_right = cells.len() - k;
            n.checked_sub(from_right)
        })
        .collect()
}

pub(super) fn fixed_row(
    columns: &Columns,
    line: &str,
    cells_seen: &mut Cells,
) -> Result<RawRow, (Reject, bool)> {
    let Columns::Fixed { names, ends } = columns else {
        return Err((
            Reject::new(RejectReason::BadRow, "not a fixed-width layout"),
            false,
        ));
    };
    let cells = wide_cells(line);
    // The name is the leftmost run of cells that reads as Name.pid or a socket (a name may hold a double
    // space); the rest are values.
    let mut found = None;
    for i in 0..cells.len() {
        if let Some(what) = cached_name_cell(cells_seen, &line[cells[0].0..cells[i].1]) {
            found = Some((i, *what));
            break;
        }
    }
    let Some((last_name_cell, what)) = found else {
        return Err((
            Reject::new(
                RejectReason::BadRow,
                format!("no Name.pid or socket cell in {:?}", line.trim()),
            ),
            false,
        ));
    };
    let is_process = matches!(what, What::Process { .. });
    let values = &cells[last_name_cell + 1..];
    let mut bytes_in = "";
    let mut bytes_out = "";
    let mut uuid = "";
    for (&(s, e), col) in values.iter().zip(map_fixed(ends, values)) {
        match col.map(|j| &*names[j]) {
            Some("bytes_in") => bytes_in = &line[s..e],
            Some("bytes_out") => bytes_out = &line[s..e],
            Some("uuid") => uuid = &line[s..e],
            _ => {}
        }
    }
    Ok(RawRow {
        what,
        tod: None,
        uuid: (!uuid.is_empty()).then(|| cells_seen.names.intern(uuid)),
        bytes_in: count_cell("bytes_in", bytes_in).map_err(|r| (r, is_process))?,
        bytes_out: count_cell("bytes_out", bytes_out).map_err(|r| (r, is_process))?,
    })
}
