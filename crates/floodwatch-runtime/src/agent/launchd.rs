//! The LaunchDaemon plist `floodwatch agent --print-launchd-plist` prints: launchd starts
//! `BINARY agent --config CONFIG` as root at boot (`RunAtLoad`) and again whenever it exits
//! (`KeepAlive`, at most once per `ThrottleInterval`), with its stdout and stderr in
//! `/var/log/floodwatch/`. Written by hand (a fixed layout, every string XML-escaped): the XML
//! property list format Apple's `plutil` writes, with the same DOCTYPE.

use floodwatch_core::{Error, Result};
use std::fmt::Write as _;
use std::path::Path;

/// The job's label, and the plist's file name (`/Library/LaunchDaemons/com.floodwatch.agent.plist`).
pub const LAUNCHD_LABEL: &str = "com.floodwatch.agent";
/// Where the plist expects the binary when `--binary` is not given.
pub const DEFAULT_BINARY: &str = "/usr/local/bin/floodwatch";
/// The config path when `--config` is not given (the path `--print-config`'s header names).
pub const DEFAULT_CONFIG: &str = "/etc/floodwatch/agent.toml";
/// The agent's stdout (findings, with the default config's stdout sink).
pub const STDOUT_LOG: &str = "/var/log/floodwatch/agent.out.log";
/// The agent's stderr (source restarts, warnings, the summary at exit).
pub const STDERR_LOG: &str = "/var/log/floodwatch/agent.err.log";
/// Seconds launchd waits before starting the agent again after it exited (launchd's default is
/// 10): a config error is then logged twice a minute, not six times.
pub const THROTTLE_INTERVAL: u32 = 30;

/// Escapes the five XML special characters, so any path is text in the document.
fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// A path as plist text: absolute (launchd starts the job in `/`), UTF-8 (a plist string is
/// Unicode), and without control characters (XML 1.0 cannot carry most of them, and parsers turn
/// a carriage return into a newline).
fn plist_path(what: &str, p: &Path) -> Result<String> {
    let bad = |why: &str| Err(Error::Usage(format!("{what} {p:?}: {why}")));
    let Some(s) = p.to_str() else {
        return bad("not UTF-8, which a plist cannot hold");
    };
    if !p.is_absolute() {
        return bad("must be absolute (launchd starts the agent in /)");
    }
    if s.chars()
        .any(|c| c.is_control() || c == '\u{FFFE}' || c == '\u{FFFF}')
    {
        return bad("contains a control character, which a plist cannot carry faithfully");
    }
    Ok(xml_escape(s))
}

/// The plist text for a LaunchDaemon running `binary agent --config config`.
pub fn launchd_plist(binary: &Path, config: &Path) -> Result<String> {
    let binary = plist_path("the floodwatch binary", binary)?;
    let config = plist_path("the config path", config)?;
    let mut s = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n\
         <plist version=\"1.0\">\n<dict>\n",
    );
    let key = |s: &mut String, k: &str| {
        let _ = writeln!(s, "\t<key>{k}</key>");
    };
    key(&mut s, "Label");
    let _ = writeln!(s, "\t<string>{LAUNCHD_LABEL}</string>");
    key(&mut s, "ProgramArguments");
    s.push_str("\t<array>\n");
    for arg in [binary.as_str(), "agent", "--config", config.as_str()] {
        let _ = writeln!(s, "\t\t<string>{arg}</string>");
    }
    s.push_str("\t</array>\n");
    // Started when loaded (at boot, from /Library/LaunchDaemons), and again after any exit: a
    // plain `kill` of the agent does not stop detection; `launchctl bootout` does.
    key(&mut s, "RunAtLoad");
    s.push_str("\t<true/>\n");
    key(&mut s, "KeepAlive");
    s.push_str("\t<true/>\n");
    key(&mut s, "ThrottleInterval");
    let _ = writeln!(s, "\t<integer>{THROTTLE_INTERVAL}</integer>");
    // Standard: launchd's light limits; Background would throttle CPU and I/O hard enough to fall
    // behind eslogger during the very floods the agent is there to see.
    key(&mut s, "ProcessType");
    s.push_str("\t<string>Standard</string>\n");
    key(&mut s, "StandardOutPath");
    let _ = writeln!(s, "\t<string>{STDOUT_LOG}</string>");
    key(&mut s, "StandardErrorPath");
    let _ = writeln!(s, "\t<string>{STDERR_LOG}</string>");
    s.push_str("</dict>\n</plist>\n");
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_escaped_and_checked() {
        let p = launchd_plist(
            Path::new("/opt/a&b/floodwatch"),
            Path::new("/etc/<x>/\"q\" 'a'.toml"),
        )
        .unwrap();
        assert!(p.contains("<string>/opt/a&amp;b/floodwatch</string>"));
        assert!(p.contains("<string>/etc/&lt;x&gt;/&quot;q&quot; &apos;a&apos;.toml</string>"));
        assert!(!p.contains("a&b"));

        let err = |b: &str, c: &str| launchd_plist(Path::new(b), Path::new(c)).unwrap_err();
        assert!(err(DEFAULT_BINARY, "agent.toml")
            .to_string()
            .contains("absolute"));
        assert!(err("floodwatch", DEFAULT_CONFIG)
            .to_string()
            .contains("absolute"));
        assert!(err(DEFAULT_BINARY, "/etc/a\nb.toml")
            .to_string()
            .contains("control character"));
        assert!(err(DEFAULT_BINARY, "/etc/a\rb.toml")
            .to_string()
            .contains("control character"));
    }

    #[cfg(unix)]
    #[test]
    fn a_path_that_is_not_utf8_is_refused() {
        use std::os::unix::ffi::OsStrExt;
        let p = Path::new(std::ffi::OsStr::from_bytes(b"/etc/\xff.toml"));
        let e = launchd_plist(Path::new(DEFAULT_BINARY), p).unwrap_err();
        assert!(e.to_string().contains("UTF-8"), "{e}");
    }
}
