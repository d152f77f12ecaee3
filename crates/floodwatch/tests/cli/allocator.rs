//! The binary runs without transparent huge pages: `main` switches them off for the process
//! (`prctl(PR_SET_THP_DISABLE)`), beside mimalloc's `no_thp` feature, which only stops mimalloc
//! asking for them (crates/floodwatch/Cargo.toml). With them, every fresh 2 MB region was zeroed
//! whole, and a hunt beside other memory-hungry programs was slower and held twice the memory
//! (README, Speed).

/// The kernel says whether a process may use transparent huge pages (`THP_enabled` in its status).
#[cfg(target_os = "linux")]
#[test]
fn the_binary_runs_without_transparent_huge_pages() {
    use std::process::Stdio;
    use std::time::{Duration, Instant};
    let thp = |status: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix("THP_enabled:"))
            .map(|v| v.trim().to_string())
    };
    let ours = std::fs::read_to_string("/proc/self/status").unwrap();
    // The child starts with this process's setting: only if that allows huge pages is a 0 in the
    // child the binary's own doing.
    if thp(&ours).as_deref() != Some("1") {
        eprintln!(
            "skipped: this kernel or this test process has no transparent huge pages to switch off"
        );
        return;
    }
    // `watch` on a stdin kept open runs until it is closed: long after the allocator started.
    let mut child = crate::common::live_watch()
        // mimalloc would switch them off itself with this.
        .env_remove("MIMALLOC_ALLOW_THP")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let status = format!("/proc/{}/status", child.id());
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut last = None;
    while Instant::now() < deadline {
        if let Some(ended) = child.try_wait().unwrap() {
            panic!("floodwatch watch ended before its input did: {ended}");
        }
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
