//! Jamf Protect's current telemetry stream end to end: a hunt over a collection holding the real
//! sample lines (tests/data/corpus/jamf_protect_telemetry, provenance there) reads them as their own
//! format and gives a flood from one of their processes its exec context (argv, image, user,
//! signing), its terminal state and the host's session state.
//!
//! The traffic is a nettop capture written for this test (nettop's real `-L` CSV layout): a UDP
//! flood from pid 91306 right after the sample's real exec of `/bin/zsh -c .../eicar` by JamfCheck
//! (MacBookPro, 2024-05-31T09:47:12.436Z). nettop is dateless: a day folder places it on that day.
//! The sample's lines are the test log's order, not a stream's: they are put in time order here, as
//! a forwarded stream has them (a hunt rejects records far out of order).

use crate::common;

use assert_cmd::Command;
use serde_json::Value;
use std::fmt::Write;

const SAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/data/corpus/jamf_protect_telemetry/elastic_jamf_protect_telemetry_sample_lines.ndjson"
);

/// 61 one-second frames from 09:47:13 UTC: zsh.91306 sends 30 MB/s of UDP to one address.
fn nettop_flood() -> String {
    let mut s = String::new();
    for k in 0..61u64 {
        let t = 13 + k;
        let (m, sec) = (47 + t / 60, t % 60);
        let out = 30_000_000 * k;
        let _ = writeln!(s, "time,,interface,state,bytes_in,bytes_out,");
        let _ = writeln!(s, "09:{m:02}:{sec:02}.000100,zsh.91306,,,0,{out},");
        let _ = writeln!(
            s,
            "09:{m:02}:{sec:02}.000050,udp4 192.168.11.251:50912<->198.51.100.23:9,en0,,0,{out},"
        );
    }
    s
}

#[test]
fn hunt_reads_the_stream_and_names_the_flooders_lineage_and_context() {
    let dir = tempfile::tempdir().unwrap();
    let host = dir.path().join("MacBookPro");
    std::fs::create_dir(&host).unwrap();
    let text = std::fs::read_to_string(SAMPLE).unwrap();
    let mut lines: Vec<(String, &str)> = text
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (v["time"].as_str().unwrap().to_string(), l)
        })
        .collect();
    lines.sort();
    let sorted: String = lines.iter().map(|(_, l)| format!("{l}\n")).collect();
    std::fs::write(host.join("jamf_telemetry.ndjson"), sorted).unwrap();
    // The sample's lines span six weeks, so the same folder would date nettop by their earliest day
    // (nettop is dated by the sources nearest to it); a day folder dates it instead.
    let day = host.join("2024-05-31");
    std::fs::create_dir(&day).unwrap();
    std::fs::write(day.join("nettop.csv"), nettop_flood()).unwrap();
    let summary = dir.path().join("summary.json");
    let out = Command::cargo_bin("floodwatch")
        .unwrap()
        .args(["hunt", "--format", "jsonl"])
        .arg("--summary-json")
        .arg(&summary)
        .arg(dir.path())
        .output()
        .unwrap();
    common::assert_success(&out);

    let summary: Value = serde_json::from_slice(&std::fs::read(&summary).unwrap()).unwrap();
    let files = summary["files"].as_array().unwrap();
    let jamf = files
        .iter()
        .find(|f| {
            f["path"]
                .as_str()
                .unwrap()
                .ends_with("jamf_telemetry.ndjson")
        })
        .unwrap();
    assert_eq!(jamf["format"], "jamf-protect-telemetry", "{jamf}");
    assert_eq!(jamf["events"], 10, "{jamf}");
    assert_eq!(jamf["rejected"], 0, "{jamf}");

    let findings: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let f = findings
        .iter()
        .find(|f| f["actor"]["process"]["pid"] == 91306)
        .unwrap_or_else(|| panic!("{findings:#?}"));
    assert_eq!(f["device"]["hostname"], "MacBookPro");
    let p = &f["actor"]["process"];
    assert_eq!(
        p["cmd_line"],
        "/bin/zsh -c /var/folders/fm/j970swbn73dfnkjgsqjxxvj40000gp/T/eicar"
    );
    assert_eq!(p["file"]["path"], "/bin/zsh");
    assert_eq!(p["user"]["uid"], "502");
    // Context from the stream: the exec had no tty (launched by an app, not typed), the last session
    // event of the host was login(1)'s logout, and zsh's signing.
    let fw = &f["unmapped"]["floodwatch"];
    let ctx = &fw["context"];
    assert_eq!(ctx["tty_known"], true, "{ctx}");
    assert_eq!(ctx["unattended"], true, "{ctx}");
    assert_eq!(ctx["session_state"], "logged out since 06:43:42", "{ctx}");
    assert_eq!(fw["subject_signing"]["signing_id"], "com.apple.zsh");
    let codes: Vec<&str> = fw["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&"unattended"), "{codes:?}");
    assert!(codes.contains(&"session_away"), "{codes:?}");
}
