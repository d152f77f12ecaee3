//! Regular expressions for numeric thresholds on a command line (`ping -i` at most 0.02, `nping
//! --rate` at least 50), built digit by digit so a SIEM without arithmetic on argv still compares
//! numbers, and the translation of the portable subset into Lucene's dialect (ES|QL `RLIKE`, which
//! matches the whole value and knows neither `\s` nor `\d`).

/// Decimal integers (leading zeros allowed) whose value is at least `n`.
pub fn int_at_least(n: u64) -> String {
    let s = n.to_string();
    let d = s.len();
    let digits: Vec<u32> = s.chars().filter_map(|c| c.to_digit(10)).collect();
    let mut alts = vec![format!("[1-9]\\d{{{d},}}")];
    for (i, &di) in digits.iter().enumerate() {
        if di < 9 {
            let rest = d - i - 1;
            alts.push(format!(
                "{}{}{}",
                &s[..i],
                class(di + 1, 9),
                repeat_digit(rest)
            ));
        }
    }
    alts.push(s.clone());
    format!("0*({})", alts.join("|"))
}

/// Decimal integers (leading zeros allowed) whose value is at most `n`.
pub fn int_at_most(n: u64) -> String {
    let s = n.to_string();
    let d = s.len();
    let digits: Vec<u32> = s.chars().filter_map(|c| c.to_digit(10)).collect();
    let mut alts = Vec::new();
    if d > 1 {
        alts.push(format!("\\d{{1,{}}}", d - 1));
    }
    for (i, &di) in digits.iter().enumerate() {
        let lo = if i == 0 && d > 1 { 1 } else { 0 };
        if di > lo {
            let rest = d - i - 1;
            alts.push(format!(
                "{}{}{}",
                &s[..i],
                class(lo, di - 1),
                repeat_digit(rest)
            ));
        }
    }
    alts.push(s.clone());
    format!("0*({})", alts.join("|"))
}

/// Decimal numbers (`0.002`, `.01`, `0`, `1.5`) whose value is at most `t` (t ≥ 0; compared to
/// six decimals).
pub fn decimal_at_most(t: f64) -> String {
    let t = t.max(0.0);
    let text = format!("{t:.6}");
    let (int_part, frac) = text.split_once('.').unwrap_or((&text, ""));
    let frac = frac.trim_end_matches('0');
    let int_n: u64 = int_part.parse().unwrap_or(0);
    let mut alts = Vec::new();
    if int_n > 0 {
        // A smaller integer part, any fraction.
        alts.push(format!("{}(\\.\\d*)?", int_at_most(int_n - 1)));
    }
    // The same integer part and a fraction at most `frac`: compared digit by digit.
    let fd: Vec<u32> = frac.chars().filter_map(|c| c.to_digit(10)).collect();
    let mut fr = Vec::new();
    for (i, &di) in fd.iter().enumerate() {
        if di > 0 {
            fr.push(format!("{}{}\\d*", &frac[..i], class(0, di - 1)));
        }
    }
    // A prefix of `frac` (then zeros) is at most `frac`, and so is `frac` itself.
    for i in 0..=frac.len() {
        fr.push(format!("{}0*", &frac[..i]));
    }
    let fr = fr.join("|");
    if int_n == 0 {
        // At least one digit: `0`, `0.01`, or `.01`.
        alts.push(format!("0+(\\.({fr}))?"));
        alts.push(format!("\\.({fr})"));
    } else {
        alts.push(format!("0*{int_n}(\\.({fr}))?"));
    }
    format!("({})", alts.join("|"))
}

fn class(lo: u32, hi: u32) -> String {
    if lo == hi {
        lo.to_string()
    } else if lo == 0 && hi == 9 {
        "\\d".into()
    } else {
        format!("[{lo}-{hi}]")
    }
}

fn repeat_digit(n: usize) -> String {
    match n {
        0 => String::new(),
        1 => "\\d".into(),
        n => format!("\\d{{{n}}}"),
    }
}

/// The portable subset in Lucene's regular-expression dialect (ES|QL `RLIKE`): `\d` spelled as a
/// class and `\s` as a space (a command line's words are joined with spaces; Lucene has neither
/// escape, and its `\t` is a literal `t`), inside or outside a character class; the whole wrapped
/// in `.*` since Lucene matches the entire value; a final `(\s|$)` (whitespace or the end of the
/// value) as an optional space-led tail; Lucene's reserved characters escaped.
pub fn to_lucene(re: &str) -> String {
    let (body, tail) = match re.strip_suffix(r"(\s|$)") {
        Some(body) => (body, "( .*)?"),
        None => (re, ".*"),
    };
    let mut out = String::from(".*");
    let mut in_class = false;
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('s') => out.push_str(if in_class { " " } else { "[ ]" }),
                Some('d') => out.push_str(if in_class { "0-9" } else { "[0-9]" }),
                Some(other) => {
                    out.push('\\');
                    out.push(other);
                }
                None => out.push_str("\\\\"),
            },
            '[' if !in_class => {
                in_class = true;
                out.push(c);
            }
            ']' if in_class => {
                in_class = false;
                out.push(c);
            }
            '"' | '<' | '>' | '@' | '&' | '~' | '#' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.push_str(tail);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full(re: &str) -> ::regex::Regex {
        ::regex::Regex::new(&format!("^({re})$")).unwrap()
    }

    #[test]
    fn integers_at_least() {
        for n in [1u64, 9, 10, 50, 100, 1000, 1234, 20000] {
            let re = full(&int_at_least(n));
            for v in 0..30000u64 {
                assert_eq!(re.is_match(&v.to_string()), v >= n, "{n} vs {v}");
            }
            assert!(re.is_match(&format!("00{n}")));
        }
    }

    #[test]
    fn integers_at_most() {
        for n in [0u64, 1, 9, 10, 50, 100, 1000, 1234, 20000] {
            let re = full(&int_at_most(n));
            for v in 0..30000u64 {
                assert_eq!(re.is_match(&v.to_string()), v <= n, "{n} vs {v}");
            }
        }
    }

    #[test]
    fn decimals_at_most() {
        for t in [0.02, 0.01, 0.5, 1.0, 2.25, 0.0] {
            let re = full(&decimal_at_most(t));
            for i in 0..3000u32 {
                let v = f64::from(i) / 1000.0;
                for text in [format!("{v}"), format!("{v:.3}")] {
                    let want = v <= t + 1e-12;
                    assert_eq!(re.is_match(&text), want, "{t} vs {text}");
                }
            }
            assert!(!re.is_match("abc"));
            assert!(!re.is_match(""), "a number has a digit");
        }
        let re = full(&decimal_at_most(0.02));
        assert!(re.is_match(".01") && re.is_match("0") && re.is_match("0.020000"));
        assert!(!re.is_match("0.0201") && !re.is_match("0.1"));
    }

    #[test]
    fn lucene_spelling() {
        assert_eq!(to_lucene(r"\s-[A-Za-z]*f(\s|$)"), ".*[ ]-[A-Za-z]*f( .*)?");
        assert_eq!(to_lucene(r"[\s;|(/]curl"), ".*[ ;|(/]curl.*");
        assert_eq!(to_lucene(r"\[\d+-"), ".*\\[[0-9]+-.*");
        assert_eq!(to_lucene("a\"b"), ".*a\\\"b.*");
    }
}
