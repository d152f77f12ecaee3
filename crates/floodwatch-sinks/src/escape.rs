//! Escaping for terminal output: a command line may carry ANSI escape sequences, carriage returns or
//! newlines meant to rewrite what an analyst sees. Every control character is shown, never interpreted.

use std::borrow::Cow;
use std::fmt::Write;

/// Replaces control characters (C0, DEL, C1 and bidi overrides) with visible `\xNN` / `\u{NNNN}` escapes.
pub fn terminal(s: &str) -> Cow<'_, str> {
    let bad = |c: char| c.is_control() || is_bidi_control(c);
    if !s.chars().any(bad) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if bad(c) {
            if (c as u32) < 0x100 {
                let _ = write!(out, "\\x{:02x}", c as u32);
            } else {
                let _ = write!(out, "\\u{{{:04x}}}", c as u32);
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Truncates to `max` characters (after escaping), marking the cut.
pub fn clip(s: &str, max: usize) -> String {
    let e = terminal(s);
    if e.chars().count() <= max {
        return e.into_owned();
    }
    let mut t: String = e.chars().take(max.saturating_sub(1)).collect();
    t.push('…');
    t
}

/// Text for HTML element content and attribute values: the five special characters become entities,
/// control characters are dropped. Attacker-controlled strings go through this and nothing else.
pub fn html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' => {}
            // Bidirectional overrides would make a command line read differently than it runs.
            c if is_bidi_control(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// Attacker text on one line: newlines and tabs as spaces, other control characters and bidi
/// controls gone.
fn one_line(s: &str) -> impl Iterator<Item = char> + '_ {
    s.chars().filter_map(|c| match c {
        '\n' | '\r' | '\t' => Some(' '),
        c if c.is_control() || is_bidi_control(c) => None,
        c => Some(c),
    })
}

/// Attacker text for Markdown outside code spans (a table cell, a reason, a heading, a paragraph):
/// one line (newlines and control characters become spaces or go, bidi controls go), and every
/// character that could start Markdown syntax backslash-escaped (CommonMark escapes any ASCII
/// punctuation), so it renders as the literal text: no image, link, autolink, HTML, entity,
/// emphasis, code span or new table cell. `<` becomes `&lt;` (it renders as `<` too, and the text
/// then holds no `<` at all, as it always did). `(` is escaped after `]` only: with every bracket
/// escaped it cannot open a link anywhere else, and plain "(pid 12)" stays as it was.
pub fn markdown_cell(s: &str) -> String {
    let chars: Vec<char> = one_line(s).collect();
    let mut out = String::with_capacity(s.len() + 8);
    let mut prev = ' ';
    for (i, &c) in chars.iter().enumerate() {
        if c == '<' {
            out.push_str("&lt;");
            prev = c;
            continue;
        }
        let special = matches!(
            c,
            '\\' | '`' | '*' | '_' | '[' | ']' | '>' | '!' | '#' | '|' | '~' | '&'
        ) || (c == '(' && prev == ']');
        // Text that begins a paragraph like a list item (`- x`, `+ x`, `12. x`) would be one:
        // its marker is escaped (harmless where the text does not begin a line).
        let bullet = i == 0 && matches!(c, '-' | '+');
        let number = matches!(c, '.' | ')')
            && i > 0
            && chars[..i].iter().all(char::is_ascii_digit)
            && chars.get(i + 1).is_none_or(|n| *n == ' ');
        if special || bullet || number {
            out.push('\\');
        }
        out.push(c);
        prev = c;
    }
    out
}

/// Attacker text as one Markdown code span, shown verbatim: newlines and control characters as
/// spaces (or gone), bidi controls gone, no HTML entity (a code span shows `&lt;` as those four
/// characters), and a fence one backtick longer than the longest backtick run inside, padded with
/// a space when the text starts or ends with a backtick or a space (CommonMark strips one).
pub fn markdown_code(s: &str) -> String {
    let text: String = one_line(s).collect();
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat(longest + 1);
    let pad = text.is_empty() || text.starts_with(['`', ' ']) || text.ends_with(['`', ' ']);
    let pad = if pad { " " } else { "" };
    format!("{fence}{pad}{text}{pad}{fence}")
}

/// Bidirectional controls: they make text read differently than it is (a command line reversed).
pub fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_shown_not_interpreted() {
        assert_eq!(terminal("curl -s http://x/"), "curl -s http://x/");
        assert_eq!(terminal("a\x1b[2Jb"), "a\\x1b[2Jb");
        assert_eq!(terminal("x\r\ny\t"), "x\\x0d\\x0ay\\x09");
        assert_eq!(terminal("evil\u{202E}txt"), "evil\\u{202e}txt");
        assert_eq!(clip("abcdef", 4), "abc…");
    }
}
