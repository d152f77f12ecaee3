//! Every real sample in tests/data/corpus (copied from shared/corpus with its PROVENANCE.md) is
//! recognized from its content and read with no rejected line.

use floodwatch_core::config::Config;
use floodwatch_sources::{sniff, ClockHints, FileSource, Sniffed, SourceCtx};
use std::sync::Arc;

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/corpus");

#[test]
fn every_real_sample_is_recognized_with_no_rejected_line() {
    let mut seen = 0;
    for dir in [
        "eslogger",
        "nettop",
        "unifiedlog",
        "osquery",
        "pcap",
        "jamf_protect/telemetry",
        "jamf_protect/alerts",
        "elastic_defend",
    ] {
        let mut entries: Vec<_> = std::fs::read_dir(format!("{CORPUS}/{dir}"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for path in entries {
            if path.file_name().unwrap() == "PROVENANCE.md" {
                continue;
            }
            let data = std::fs::read(&path).unwrap();
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
            assert_eq!(st.rejected, 0, "{}: {:#?}", path.display(), st.samples);
            assert!(st.records > 0, "{}", path.display());
            assert_eq!(out.len() as u64, st.events, "{}", path.display());
            // Nothing unaccounted: for line formats every record is an event, a skip, a reject or
            // carried by another record's event (osquery batches and JSON arrays can give more
            // events than records, so they only bound it from below).
            let accounted = st.events + st.skipped + st.rejected + st.carried;
            // Captures count blocks/packets as records: summed packets are carried by their
            // aggregated event, so they balance exactly too.
            if dir == "nettop" || dir == "eslogger" || dir == "pcap" {
                assert_eq!(st.records, accounted, "{}: {:?}", path.display(), st);
            } else {
                assert!(accounted >= st.records, "{}: {:?}", path.display(), st);
            }
            seen += 1;
        }
    }
    assert_eq!(seen, 27, "all twenty-seven real samples checked");
}
