//! Every real sample in tests/data/corpus (copied from shared/corpus with its PROVENANCE.md) is
//! recognized from its content and read with no rejected record. Every folder found there is
//! walked, so a folder added later is checked without editing this test, and a folder holding no
//! sample fails it. The one documented exception (tests/data/corpus/README.md) is the Zeek btest
//! baseline, whose masked timestamps make every row a "bad timestamp" reject.

use floodwatch_core::config::Config;
use floodwatch_sources::{sniff, ClockHints, FileSource, Format, Sniffed, SourceCtx};
use std::path::{Path, PathBuf};
use std::sync::Arc;

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/corpus");

/// Files that describe a folder (what it holds, where it comes from), not samples.
const DOCS: [&str; 2] = ["README.md", "PROVENANCE.md"];

/// Samples whose every row is rejected, by path under the corpus, with the reason README.md gives.
const ALL_REJECTED: [(&str, &str); 1] = [(
    "zeek/zeek_btest_core.pppoe_conn_canonified.log",
    "bad timestamp",
)];

/// Formats whose records give at most one event each, so records balance exactly. osquery
/// (snapshots and batches) and Jamf Protect (an alert lists a process ancestry) give more events
/// than records, so they only bound them from below.
fn balances_exactly(format: Format) -> bool {
    !matches!(format, Format::Osquery | Format::JamfProtect)
}

/// Checks every sample under `dir` (recursively); returns how many there were.
fn check_folder(dir: &Path) -> usize {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    let mut samples = 0;
    for path in entries {
        if path.is_dir() {
            samples += check_folder(&path);
        } else if !DOCS.iter().any(|d| path.file_name().unwrap() == *d) {
            check_sample(&path);
            samples += 1;
        }
    }
    assert!(samples > 0, "{} holds no sample", dir.display());
    samples
}

fn check_sample(path: &Path) {
    let data = std::fs::read(path).unwrap();
    let Sniffed::Telemetry(format) = sniff(&data) else {
        panic!("{} not recognized: {:?}", path.display(), sniff(&data));
    };
    let ctx = SourceCtx {
        file_id: 0,
        path: Arc::from(path.display().to_string()),
        host: Arc::from("corpus"),
        host_forced: false,
        // nettop has no date: anchor it as a hunt would from the file's capture day.
        clock: ClockHints {
            forced_date: floodwatch_core::time::parse_date("2026-08-07"),
            ..ClockHints::default()
        },
        input: Config::default().input,
    };
    let mut src = FileSource::new(&data[..], format, ctx);
    let mut out = Vec::new();
    while src.next_events(&mut out).unwrap() {}
    let st = &src.stats;
    let name = path.strip_prefix(CORPUS).unwrap().to_str().unwrap();
    match ALL_REJECTED.iter().find(|(p, _)| *p == name) {
        Some((_, reason)) => {
            assert!(st.rejected > 0, "{name}: {st:?}");
            assert_eq!(
                st.reasons().get(*reason),
                Some(&st.rejected),
                "{name}: {st:?}"
            );
        }
        None => assert_eq!(st.rejected, 0, "{name}: {:#?}", st.samples),
    }
    assert!(st.records > 0, "{name}");
    assert_eq!(out.len() as u64, st.events, "{name}");
    // Nothing unaccounted: every record is an event, a skip, a reject or carried by another
    // record's event (captures count blocks/packets as records, and summed packets are carried by
    // their aggregated event, so they balance exactly too).
    let accounted = st.events + st.skipped + st.rejected + st.carried;
    if balances_exactly(format) {
        assert_eq!(st.records, accounted, "{name}: {st:?}");
    } else {
        assert!(accounted >= st.records, "{name}: {st:?}");
    }
}

#[test]
fn every_real_sample_is_recognized_with_no_rejected_line() {
    check_folder(Path::new(CORPUS));
}
