//! Escaping for terminal output: a command line may carry ANSI escape sequences, carriage returns or
//! newlines meant to rewrite what an analyst sees. Every control character is shown, never interpreted.

use std::borrow::Cow;
use std::fmt::Write;

/// Replaces control characters (C0, DEL, C1 and bidi overrides) with visible `\xNN` / `\u{NNNN}` escapes.
pub fn terminal(s: &str) -> Cow<'_, str> {
    let bad =
        |c: char| c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}');
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

/// A Markdown table cell: pipes and backslashes escaped, newlines and control characters flattened,
/// `<` defused so no HTML passes through a Markdown renderer.
pub fn markdown_cell(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace(['\n', '\r'], " ")
        .replace('<', "&lt;")
        .chars()
        .filter(|c| !c.is_control() && !is_bidi_control(*c))
        .collect()
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}')
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
