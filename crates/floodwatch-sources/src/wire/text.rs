//! Trimming on the hot path, shared by the framer (is a record blank?) and nettop's cells.

/// A byte that `str::trim` never removes and that settles where the text starts or ends: a
/// visible ASCII byte. Every Unicode white space is one of the ASCII ones excluded here or is not
/// ASCII at all.
#[inline(always)]
fn visible_ascii(c: u8) -> bool {
    c.is_ascii() && !matches!(c, b'\t'..=b'\r' | b' ')
}

/// `str::trim`, with a shortcut for the usual text that starts and ends with a visible ASCII byte:
/// it has nothing to trim, and `trim`'s character-by-character search was a visible share of a
/// nettop row and of every record's blank check.
#[inline]
pub(crate) fn trim(text: &str) -> &str {
    let b = text.as_bytes();
    match (b.first(), b.last()) {
        (Some(&first), Some(&last)) if visible_ascii(first) && visible_ascii(last) => text,
        _ => text.trim(),
    }
}

#[cfg(test)]
mod tests {
    use super::trim;

    #[test]
    fn trim_is_str_trim() {
        // Every ASCII byte and the Unicode white space (and a few that are not) at either end.
        let mut ends: Vec<char> = (0u8..128).map(char::from).collect();
        ends.extend([
            '\u{85}', '\u{a0}', '\u{2003}', '\u{3000}', '\u{feff}', '\u{e9}', '\u{1c}',
        ]);
        for a in &ends {
            for b in &ends {
                for mid in ["", "1", "12 34", "\u{a0}"] {
                    let cell = format!("{a}{mid}{b}");
                    assert_eq!(trim(&cell), cell.trim(), "{cell:?}");
                }
            }
        }
    }

    #[test]
    fn blank_is_what_trim_empties() {
        let mut starts: Vec<char> = (0u8..128).map(char::from).collect();
        starts.extend([
            '\u{85}', '\u{a0}', '\u{2003}', '\u{3000}', '\u{feff}', '\u{e9}',
        ]);
        for a in &starts {
            for rest in ["", " ", "x", "\u{a0}\t", " {}"] {
                let text = format!("{a}{rest}");
                assert_eq!(trim(&text).is_empty(), text.trim().is_empty(), "{text:?}");
            }
        }
        assert!(trim("").is_empty());
    }
}
