//! The binary's allocator runs without transparent huge pages (mimalloc's `no_thp` feature,
//! crates/floodwatch/Cargo.toml): with them, every fresh 2 MB region was zeroed whole, and a hunt
//! beside other memory-hungry programs was slower and held twice the memory (README, Speed).

/// The kernel says whether a process may use transparent huge pages (`THP_enabled` in its status,
/// set off by `prctl(PR_SET_THP_DISABLE)`, which mimalloc calls when it starts with `no_thp`).
#[cfg(target_os = "linux")]
#[test]
fn the_binary_runs_without_transparent_huge_pages() {
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};
    let thp = |status: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix("THP_enabled:"))
            .map(|v| v.trim().to_string())
    };
    let ours = std::fs::read_to_string("/proc/self/status").unwrap();
    let Some(here) = thp(&ours) else {
        eprintln!("skipped: this kernel's process status has no THP_enabled line");
        return;
    };
    // The test itself may use them: the switch the child ends with is the binary's own doing (a
    // process starts with its parent's setting).
    assert_eq!(here, "1", "the test process starts with huge pages allowed");
    // `watch` on a stdin kept open runs until it is closed: long after the allocator started.
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("floodwatch"))
        .args(["watch", "--format", "jsonl"])
        .env_remove("FLOODWATCH_CONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let status = format!("/proc/{}/status", child.id());
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut last = None;
    while Instant::now() < deadline {
        last = std::fs::read_to_string(&status).ok().and_then(|s| thp(&s));
        if last.as_deref() == Some("0") {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // Closed with nothing written, the watch ends (with its "stdin is empty" error).
    drop(child.stdin.take());
    child.wait().unwrap();
    assert_eq!(
        last.as_deref(),
        Some("0"),
        "floodwatch still allows transparent huge pages"
    );
}
