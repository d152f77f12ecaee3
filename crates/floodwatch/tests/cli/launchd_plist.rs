//! `floodwatch agent --print-launchd-plist`: the output is an Apple XML property list (parsed back
//! with the `plist` crate, and with Python's plistlib where python3 is installed) with the keys a
//! LaunchDaemon needs; the binary and config paths round-trip whatever they hold (`&<>"'`);
//! relative paths become absolute; paths a plist cannot carry are refused. The README shows the
//! default plist and the `log stream` predicate exactly as the binary has them.

use crate::common;

use common::repo_root;
use floodwatch_runtime::agent::PRINT_CONFIG;
use plist::Value;
use std::path::Path;
use std::process::Output;

fn floodwatch(cwd: &Path, args: &[&str]) -> Output {
    assert_cmd::Command::cargo_bin("floodwatch")
        .unwrap()
        .current_dir(cwd)
        .args(args)
        .env_remove("FLOODWATCH_CONFIG")
        .output()
        .unwrap()
}

/// The plist printed for `args`, as text and parsed.
fn plist_of(cwd: &Path, args: &[&str]) -> (String, plist::Dictionary) {
    let out = floodwatch(cwd, args);
    common::assert_success(&out);
    let text = String::from_utf8(out.stdout).unwrap();
    let v = Value::from_reader_xml(text.as_bytes()).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let dict = v.into_dictionary().expect("a dict at the top");
    (text, dict)
}

fn program_arguments(d: &plist::Dictionary) -> Vec<String> {
    d["ProgramArguments"]
        .as_array()
        .expect("ProgramArguments is an array")
        .iter()
        .map(|v| v.as_string().expect("a string argument").to_string())
        .collect()
}

/// Python's plistlib (expat underneath: a strict XML parser) reads the same arguments back.
fn plistlib_arguments(text: &str) -> Option<Vec<String>> {
    let script = "import json, plistlib, sys; \
                  d = plistlib.loads(sys.stdin.buffer.read()); \
                  print(json.dumps(d['ProgramArguments']))";
    let mut child = std::process::Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .ok()?;
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "plistlib: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(serde_json::from_slice(&out.stdout).unwrap())
}

#[test]
fn the_default_plist_runs_the_agent_as_a_launch_daemon() {
    let tmp = tempfile::tempdir().unwrap();
    let (text, d) = plist_of(tmp.path(), &["agent", "--print-launchd-plist"]);
    let keys: Vec<&str> = d.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "Label",
            "ProgramArguments",
            "RunAtLoad",
            "KeepAlive",
            "ThrottleInterval",
            "ProcessType",
            "StandardOutPath",
            "StandardErrorPath"
        ]
    );
    assert_eq!(d["Label"].as_string(), Some("com.floodwatch.agent"));
    assert_eq!(
        program_arguments(&d),
        [
            "/usr/local/bin/floodwatch",
            "agent",
            "--config",
            "/etc/floodwatch/agent.toml"
        ]
    );
    assert_eq!(d["RunAtLoad"].as_boolean(), Some(true));
    assert_eq!(d["KeepAlive"].as_boolean(), Some(true));
    assert_eq!(d["ThrottleInterval"].as_unsigned_integer(), Some(30));
    assert_eq!(d["ProcessType"].as_string(), Some("Standard"));
    assert_eq!(
        d["StandardOutPath"].as_string(),
        Some("/var/log/floodwatch/agent.out.log")
    );
    assert_eq!(
        d["StandardErrorPath"].as_string(),
        Some("/var/log/floodwatch/agent.err.log")
    );
    // The config path is the one --print-config's header runs the agent with.
    assert!(PRINT_CONFIG
        .lines()
        .next()
        .unwrap()
        .contains("--config /etc/floodwatch/agent.toml"));
    if let Some(args) = plistlib_arguments(&text) {
        assert_eq!(args, program_arguments(&d));
    } else {
        eprintln!("python3 not found: plistlib cross-check skipped");
    }
}

#[test]
fn hostile_paths_round_trip_as_text() {
    let tmp = tempfile::tempdir().unwrap();
    let config = r#"/Library/Application Support/a&b <c> "d" 'e'/]]>&amp;/agent.toml"#;
    let binary = "/opt/fw & co/<bin>/floodwatch";
    let (text, d) = plist_of(
        tmp.path(),
        &[
            "agent",
            "--print-launchd-plist",
            "--config",
            config,
            "--binary",
            binary,
        ],
    );
    assert_eq!(program_arguments(&d), [binary, "agent", "--config", config]);
    // Escaped in the text, not merely tolerated by a lenient parser.
    assert!(!text.contains(config) && !text.contains(binary));
    assert!(text.contains("a&amp;b &lt;c&gt; &quot;d&quot; &apos;e&apos;/]]&gt;&amp;amp;/"));
    assert_eq!(text.matches("<string>").count(), 8, "{text}");
    if let Some(args) = plistlib_arguments(&text) {
        assert_eq!(args, [binary, "agent", "--config", config]);
    }
}

#[test]
fn relative_paths_are_made_absolute_and_unplistable_ones_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, d) = plist_of(
        tmp.path(),
        &[
            "agent",
            "--print-launchd-plist",
            "--config",
            "conf/agent.toml",
            "--binary",
            "bin/floodwatch",
        ],
    );
    let args = program_arguments(&d);
    assert_eq!(Path::new(&args[0]), tmp.path().join("bin/floodwatch"));
    assert_eq!(Path::new(&args[3]), tmp.path().join("conf/agent.toml"));

    let out = floodwatch(
        tmp.path(),
        &[
            "agent",
            "--print-launchd-plist",
            "--config",
            "/etc/a\nb.toml",
        ],
    );
    assert_ne!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("control character"));

    // --binary belongs to the plist; the plist is not a run.
    for args in [
        &["agent", "--binary", "/x", "--config", "/y"][..],
        &["agent", "--print-launchd-plist", "--once"][..],
        &["agent", "--print-launchd-plist", "--print-config"][..],
    ] {
        let out = floodwatch(tmp.path(), args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

/// The README's "Running the agent on a Mac" shows the default plist as printed and the `log
/// stream` predicate as the default config has it.
#[test]
fn the_readme_shows_the_plist_and_the_predicate_as_they_are() {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let at = readme
        .find("### Running the agent on a Mac")
        .expect("the section");
    let section = &readme[at..];
    let end = ["\n## ", "\n### "]
        .iter()
        .filter_map(|h| section[4..].find(h))
        .min()
        .map_or(section.len(), |e| e + 4);
    let section = &section[..end];

    let tmp = tempfile::tempdir().unwrap();
    let (text, _) = plist_of(tmp.path(), &["agent", "--print-launchd-plist"]);
    let block = "```text\n$ floodwatch agent --print-launchd-plist\n";
    let start = section.find(block).expect("the plist block") + block.len();
    let shown = &section[start..start + section[start..].find("```").unwrap()];
    assert_eq!(shown, text);

    let predicate = PRINT_CONFIG
        .lines()
        .find_map(|l| {
            let l = l.trim();
            l.starts_with("'(")
                .then(|| l.trim_end_matches(']').trim_matches('\''))
        })
        .expect("the predicate in --print-config");
    assert!(predicate.contains("com.apple.network"), "{predicate}");
    assert!(
        section.contains(&format!("'{predicate}'")),
        "README lacks the predicate {predicate}"
    );
}
