//! `nettop -L` CSV: the header (`time,,interface,state,bytes_in,…` or a `-J` subset) and its rows.

use super::cells::{cached_name_cell, count_cell, Cells};
use super::{Columns, RawRow, What};
use crate::wire::lanes;
use crate::wire::text::trim;
use crate::{Reject, RejectReason};
use floodwatch_core::time::parse_time_of_day;
use std::sync::LazyLock;

/// `time,,interface,state,bytes_in,bytes_out,…,` or a `-J` subset (possibly without `time`).
/// `last` remembers the latest header line read and its columns, so a repeated header is not split again.
pub(super) fn csv_header(line: &str, last: &mut Option<(Box<str>, Columns)>) -> Option<Columns> {
    // Most records are rows. Column names never start with a digit, and rows of a capture with a
    // time column always do: that rules most rows out at once; a substring search rules out the
    // rest before splitting.
    if line.as_bytes().first().is_some_and(u8::is_ascii_digit) {
        return None;
    }
    static BYTES_IN: LazyLock<memchr::memmem::Finder<'static>> =
        LazyLock::new(|| memchr::memmem::Finder::new("bytes_in"));
    BYTES_IN.find(line.as_bytes())?;
    if let Some((text, columns)) = last {
        if **text == *line {
            return Some(columns.clone());
        }
    }
    let columns = split_header(line)?;
    *last = Some((line.into(), columns.clone()));
    Some(columns)
}

fn split_header(line: &str) -> Option<Columns> {
    let fields: Vec<&str> = line.split(',').map(str::trim).collect();
    let find = |n: &str| fields.iter().position(|f| *f == n);
    let (bytes_in, bytes_out) = (find("bytes_in"), find("bytes_out"));
    if bytes_in.is_none() || bytes_out.is_none() {
        return None;
    }
    Some(Columns::Csv {
        count: fields.len(),
        name: fields.iter().position(|f| f.is_empty())?,
        time: find("time"),
        bytes_in,
        bytes_out,
        uuid: find("uuid"),
    })
}

/// A CSV row's fields, by the positions of its commas (nettop does not quote).
struct Fields<'a> {
    line: &'a str,
    commas: &'a [usize],
}

impl<'a> Fields<'a> {
    fn len(&self) -> usize {
        self.commas.len() + 1
    }

    /// Fields `first..=last` with the commas between them.
    fn span(&self, first: usize, last: usize) -> &'a str {
        let start = match first {
            0 => 0,
            i => self.commas[i - 1] + 1,
        };
        let end = self.commas.get(last).copied().unwrap_or(self.line.len());
        &self.line[start..end]
    }

    /// Field `i` of the header, in a row whose name spilled over `extra` more fields.
    fn at(&self, name: usize, extra: usize, i: Option<usize>) -> &'a str {
        match i {
            Some(i) if i > name => self.span(i + extra, i + extra),
            Some(i) => self.span(i, i),
            None => "",
        }
    }
}

/// The positions of every comma of a row. Rows are short (about 60 bytes, 6 to 12 commas), where
/// restarting a vectorized search at every comma costs more: each stretch of up to 64 bytes is
/// compared sixteen bytes at a time into one word, and one loop takes that word's commas (a loop
/// per block had an exit that mispredicted with the blocks' varying counts). The bytes after the
/// last whole block are one more block that ends with the row.
fn find_commas(line: &[u8], out: &mut Vec<usize>) {
    out.clear();
    let mut push = |at: usize, mut hits: u64| {
        while hits != 0 {
            out.push(at + hits.trailing_zeros() as usize);
            hits &= hits - 1;
        }
    };
    let block = |i: usize| lanes::block(line, i).map(|x| u64::from(lanes::equal(x, b',')));
    let mut at = 0;
    // Whole stretches of 64 bytes, four blocks each. Kept apart from the rest's loop below: one
    // loop to a stretch's end for both took 1% more of a nettop hunt's instructions.
    while line.len() - at >= 64 {
        let mut hits = 0;
        for k in 0..4 {
            hits |= block(at + 16 * k).unwrap_or(0) << (16 * k);
        }
        push(at, hits);
        at += 64;
    }
    if at == line.len() {
        return;
    }
    let Some(last) = line.len().checked_sub(16) else {
        // A row shorter than a block.
        for (j, &b) in line.iter().enumerate() {
            if b == b',' {
                out.push(j);
            }
        }
        return;
    };
    // The rest, under 64 bytes: its whole blocks, then the block ending with the row, in one word
    // of bits from `at`.
    let mut hits = 0;
    let mut i = at;
    while let Some(m) = block(i) {
        hits |= m << (i - at);
        i += 16;
    }
    if i < line.len() {
        // The bits it repeats for bytes from `at` are set already (the OR leaves them); those for
        // bytes before `at`, taken with the stretch before, are shifted out.
        let m = block(last).unwrap_or(0);
        hits |= if last >= at {
            m << (last - at)
        } else {
            m >> (at - last)
        };
    }
    push(at, hits);
}

/// The error says whether the row was a process row (see [`NettopParser::raw_row`]).
pub(super) fn csv_row(
    columns: &Columns,
    line: &str,
    cells: &mut Cells,
    commas: &mut Vec<usize>,
) -> Result<RawRow, (Reject, bool)> {
    let Columns::Csv {
        count,
        name,
        time,
        bytes_in,
        bytes_out,
        uuid,
    } = *columns
    else {
        return Err((Reject::new(RejectReason::BadRow, "not a CSV layout"), false));
    };
    find_commas(line.as_bytes(), commas);
    let fields = Fields { line, commas };
    if fields.len() < count {
        return Err((
            Reject::new(
                RejectReason::BadRow,
                format!("{} fields, the header has {count}", fields.len()),
            ),
            false,
        ));
    }
    // nettop does not quote: a name with commas spills into the next fields. The name column is the only
    // free text, so the extra fields belong to it.
    let extra = fields.len() - count;
    let name_text = fields.span(name, name + extra);
    let cell = |i: Option<usize>| fields.at(name, extra, i);
    // The parse is copied from the cache, not moved through an Option and a Result: those moves
    // read back what had just been stored, in other pieces (a store-forwarding stall per row).
    let Some(what) = cached_name_cell(cells, name_text) else {
        return Err((
            Reject::new(
                RejectReason::BadRow,
                format!("name cell {name_text:?} is neither Name.pid nor a socket"),
            ),
            false,
        ));
    };
    let what = *what;
    let is_process = matches!(what, What::Process { .. });
    let tod = match time {
        Some(_) => {
            // A cell that parses untrimmed has nothing to trim (it starts with a digit and ends
            // with one); the trim is only paid when the first parse fails.
            let t = cell(time);
            let tod = parse_time_of_day(t).or_else(|| parse_time_of_day(trim(t)));
            Some(tod.ok_or_else(|| {
                (
                    Reject::new(RejectReason::BadTimestamp, format!("time {:?}", trim(t))),
                    is_process,
                )
            })?)
        }
        None => None,
    };
    let bi = count_cell("bytes_in", cell(bytes_in)).map_err(|r| (r, is_process))?;
    let bo = count_cell("bytes_out", cell(bytes_out)).map_err(|r| (r, is_process))?;
    let uuid = Some(trim(cell(uuid)))
        .filter(|u| !u.is_empty())
        .map(|u| cells.names.intern(u));
    Ok(RawRow {
        what,
        tod,
        uuid,
        bytes_in: bi,
        bytes_out: bo,
    })
}

#[cfg(test)]
mod tests {
    use super::{csv_header, csv_row, find_commas, Cells};
    use crate::nettop::cells::{count_cell, count_cell_general};

    /// The inline byte count reads every cell as the general one does: value or reject, and the
    /// reject's words; cells with blanks (Unicode ones too) around digits go to its trim. Both
    /// read digits with `swar::digits_16`, which its own test holds to `str::parse`.
    #[test]
    fn count_cell_is_count_cell_general() {
        let cells = [
            "",
            "-",
            " ",
            "0",
            "7",
            "258",
            "00042",
            "12345678",
            "123456789",
            "9999999999999999",
            "18446744073709551615",
            "18446744073709551616",
            " 42",
            "42 ",
            "\t42",
            "4 2",
            "1.5 MiB",
            "2KiB",
            "-5",
            "+5",
            "0x10",
            "4\u{0663}",
            "\u{0663}",
            "12345678901234567",
            "1e3",
            "abc",
            "\u{a0}42",
            "42\u{3000}",
        ];
        for c in cells {
            let want = count_cell_general("bytes_in", c).map_err(|r| (r.reason, r.detail));
            let got = count_cell("bytes_in", c).map_err(|r| (r.reason, r.detail));
            assert_eq!(got, want, "{c:?}");
        }
    }

    /// A time cell with blanks around it is read, as before; a bad one is rejected with the cell,
    /// trimmed, in the reason.
    #[test]
    fn time_cells_are_trimmed_only_when_they_need_it() {
        let mut last = None;
        let columns =
            csv_header("time,,interface,state,bytes_in,bytes_out,", &mut last).expect("a header");
        let mut cells = Cells::default();
        let mut commas = Vec::new();
        let tod = |row: &str, cells: &mut Cells, commas: &mut Vec<usize>| {
            csv_row(&columns, row, cells, commas)
                .map(|r| r.tod)
                .map_err(|(r, _)| r.detail)
        };
        let want = Ok(Some((7 * 60 + 28) * 1_000_000_000 + 231_454_000));
        for t in [
            "00:07:28.231454",
            " 00:07:28.231454",
            "00:07:28.231454 ",
            "\t00:07:28.231454",
        ] {
            let row = format!("{t},apsd.499,,,4,4,");
            assert_eq!(tod(&row, &mut cells, &mut commas), want, "{t:?}");
        }
        assert_eq!(
            tod(" 00:07:2x.231454 ,apsd.499,,,4,4,", &mut cells, &mut commas),
            Err("time \"00:07:2x.231454\"".to_string())
        );
    }

    #[test]
    fn commas_are_found_wherever_they_fall() {
        let rows = [
            "",
            ",",
            "a,b",
            "00:07:28.231454,mDNSResponder.360,,,258,168,",
            ",,,,,,,,,,,,,,,,,",
            "x\u{e9},\u{2c}\u{ff},,y",
            "1234567,",
            "12345678,",
            "123456789,1",
        ];
        for row in rows {
            let want: Vec<usize> = row
                .bytes()
                .enumerate()
                .filter_map(|(i, b)| (b == b',').then_some(i))
                .collect();
            let mut got = vec![99];
            find_commas(row.as_bytes(), &mut got);
            assert_eq!(got, want, "{row:?}");
        }
        // One or two commas at every pair of places, in rows of every length to past two whole
        // 64-byte stretches: whole stretches, whole blocks after them, the overlapping last block
        // (starting before or after the last stretch's end) and short rows.
        for len in 0..150 {
            for p in 0..len {
                for q in [p, (p * 7 + 3) % len, len - 1] {
                    let mut row = vec![b'a'; len];
                    row[p] = b',';
                    row[q] = b',';
                    let want: Vec<usize> = (0..len).filter(|&i| i == p || i == q).collect();
                    let mut got = Vec::new();
                    find_commas(&row, &mut got);
                    assert_eq!(got, want, "len {len}, commas at {p} and {q}");
                }
            }
        }
        // A comma next to every byte value, at every offset of a whole block and of the
        // overlapping last one.
        for c in 0..=255u8 {
            for at in 0..90 {
                let mut row = vec![b'a'; 90];
                row[at] = c;
                row.push(b',');
                let want: Vec<usize> = row
                    .iter()
                    .enumerate()
                    .filter_map(|(i, &b)| (b == b',').then_some(i))
                    .collect();
                let mut got = Vec::new();
                find_commas(&row, &mut got);
                assert_eq!(got, want, "byte {c} at {at}");
            }
        }
    }
}
