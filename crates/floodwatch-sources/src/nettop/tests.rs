//! nettop tests: the real captures of both layouts, counter modes, dates and bad cells.

use super::cells::{cached_name_cell, count_cell, name_cell, Cells, Names};
use super::fixed::wide_cells;
use super::*;
use crate::testutil::{ctx, read_all};
use crate::{ClockHints, FileStats, Format};
use floodwatch_core::time::{parse_date, parse_rfc3339, NANOS_PER_DAY};

const CORPUS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/data/corpus/nettop/"
);

fn corpus(name: &str) -> String {
    std::fs::read_to_string(format!("{CORPUS}{name}")).unwrap()
}

fn ts(s: &str) -> Ts {
    parse_rfc3339(s).unwrap()
}

/// A context anchored to 2025-08-07 by a reference, offset +00:00, in the given mode.
fn anchored(mode: NettopMode) -> SourceCtx {
    let mut c = ctx("nettop.csv");
    c.clock.reference = Some(ts("2025-08-07T00:39:40Z"));
    c.input.nettop_mode = mode;
    c
}

fn csv(data: &str, c: SourceCtx) -> (Vec<Event>, FileStats) {
    read_all(data.as_bytes(), Format::NettopCsv, c)
}

fn traffic(e: &Event) -> &Traffic {
    match &e.kind {
        EventKind::Traffic(t) => t,
        k => panic!("not traffic: {}", k.name()),
    }
}

/// (name, proto, remote, bytes_in, bytes_out, new_connections) of each event.
fn summary(ev: &[Event]) -> Vec<(String, Proto, Option<String>, u64, u64, u32)> {
    ev.iter()
        .map(traffic)
        .map(|t| {
            (
                t.process_name.as_deref().unwrap().to_string(),
                t.proto,
                t.remote.as_deref().map(str::to_string),
                t.bytes_in,
                t.bytes_out,
                t.new_connections,
            )
        })
        .collect()
}

fn row(
    name: &str,
    p: Proto,
    remote: Option<&str>,
    i: u64,
    o: u64,
    n: u32,
) -> (String, Proto, Option<String>, u64, u64, u32) {
    (name.to_string(), p, remote.map(str::to_string), i, o, n)
}

#[test]
fn real_csv_single_frame_is_baseline() {
    let (ev, st) = csv(
        &corpus("netglass_nettop_L1_J_conn_rows_macos26.csv"),
        ctx("netglass.csv"),
    );
    assert_eq!((st.records, st.rejected, ev.len()), (295, 0, 0));
    assert_eq!(st.reasons().get("skipped: nettop header"), Some(&1));
    assert_eq!(
        st.reasons().get(&format!("skipped: {SKIP_BASELINE}")),
        Some(&294)
    );
    assert!(
        st.notes.iter().any(|n| n.contains("single frame")),
        "{:?}",
        st.notes
    );
    assert!(
        st.notes.iter().any(|n| n.starts_with("nettop dates")),
        "{:?}",
        st.notes
    );
}

/// Three samples in the real capture's shape: apsd and mDNSResponder with their sockets.
const CUMULATIVE: &str = "\
time,,interface,state,bytes_in,bytes_out,
00:39:45.364011,apsd.590,,,7046,34544,
00:39:45.359621,tcp4 198.18.0.1:65358<->17.57.146.138:5223,utun8,Established,7046,34544,
00:39:45.364121,mDNSResponder.690,,,49701149,34147770,
00:39:45.359327,tcp4 198.18.0.1:64818<->1.1.1.1:443,utun8,Established,966021,381461,
00:39:45.358693,udp6 *.5353<->*.*,en0,,23978476,17043766,
00:39:45.358678,udp4 *:5353<->*:*,en0,,24756652,16722543,
00:39:45.364139,rapportd.1178,,,0,0,
00:39:45.360429,tcp6 *.51560<->*.*,,Listen,,,
time,,interface,state,bytes_in,bytes_out,
00:39:46.364011,apsd.590,,,7046,35544,
00:39:46.359621,tcp4 198.18.0.1:65358<->17.57.146.138:5223,utun8,Established,7046,35544,
00:39:46.364121,mDNSResponder.690,,,49702749,34149470,
00:39:46.359327,tcp4 198.18.0.1:64818<->1.1.1.1:443,utun8,Established,966121,382461,
00:39:46.358693,udp6 *.5353<->*.*,en0,,23978476,17043766,
00:39:46.358678,udp4 *:5353<->*:*,en0,,24756652,16722543,
00:39:46.358625,quic4 198.18.0.1:54104<->17.248.214.67:443,utun8,,1500,700,
00:39:46.364139,rapportd.1178,,,0,0,
00:39:46.360429,tcp6 *.51560<->*.*,,Listen,,,
time,,interface,state,bytes_in,bytes_out,
00:39:47.364011,apsd.590,,,7046,35544,
00:39:47.359621,tcp4 198.18.0.1:65358<->17.57.146.138:5223,utun8,Established,7046,35544,
00:39:47.364121,mDNSResponder.690,,,48737128,33769009,
00:39:47.358693,udp6 *.5353<->*.*,en0,,23978476,17043766,
00:39:47.358678,udp4 *:5353<->*:*,en0,,24756652,16722543,
00:39:47.358625,quic4 198.18.0.1:54104<->17.248.214.67:443,utun8,,1900,1700,
00:39:47.364139,rapportd.1178,,,0,0,
00:39:47.360429,tcp6 *.51560<->*.*,,Listen,,,
";

#[test]
fn cumulative_socket_deltas_without_double_counting() {
    for mode in [NettopMode::Cumulative, NettopMode::Auto] {
        let (ev, st) = csv(CUMULATIVE, anchored(mode));
        assert_eq!(st.rejected, 0);
        assert_eq!(
            summary(&ev),
            vec![
                row("apsd", Proto::Tcp, Some("17.57.146.138:5223"), 0, 1000, 0),
                row(
                    "mDNSResponder",
                    Proto::Tcp,
                    Some("1.1.1.1:443"),
                    100,
                    1000,
                    0
                ),
                row(
                    "mDNSResponder",
                    Proto::Quic,
                    Some("17.248.214.67:443"),
                    1500,
                    700,
                    1
                ),
                // Frame 3: the 1.1.1.1 socket closed, the process total fell: clamped, not emitted.
                row(
                    "mDNSResponder",
                    Proto::Quic,
                    Some("17.248.214.67:443"),
                    400,
                    1000,
                    0
                ),
            ],
            "{mode:?}"
        );
        let t = traffic(&ev[0]);
        assert_eq!(t.pid, Some(590));
        assert_eq!(ev[0].ts, ts("2025-08-07T00:39:46.359621Z"));
        assert_eq!(t.start, ts("2025-08-07T00:39:45.359621Z"));
        assert_eq!(ev[0].origin.line, 12);
        // The new socket's interval starts at the previous frame.
        assert_eq!(traffic(&ev[2]).start, ts("2025-08-07T00:39:45.364011Z"));
        assert!(st
            .notes
            .iter()
            .any(|n| n.starts_with("1 nettop counter decreases clamped")));
        assert!(st
                .notes
                .iter()
                .any(|n| n == "nettop dates anchored to the host's other sources: 2025-08-07, UTC offset +00:00 (input.nettop_utc_offset)"),
                "{:?}", st.notes);
        assert_eq!(
            st.reasons().get(&format!("skipped: {SKIP_BASELINE}")),
            Some(&8)
        );
        // Every header is a skip, also the one whose arrival releases auto mode's held frame.
        assert_eq!(st.reasons().get("skipped: nettop header"), Some(&3));
        assert_eq!(
            st.records,
            st.events + st.skipped + st.rejected + st.carried,
            "{st:?}"
        );
    }
}

#[test]
fn a_process_total_beyond_its_sockets_is_not_lost() {
    // python3 sends 20 MB in the interval while its only listed socket is idle: the process row's
    // excess over its sockets is emitted (protocol unknown), not folded away.
    let data = "\
time,,interface,state,bytes_in,bytes_out,
00:39:45.364011,python3.6101,,,1000,5000,
00:39:45.359621,udp4 *:5353<->*:*,en0,,1000,5000,
time,,interface,state,bytes_in,bytes_out,
00:39:46.364011,python3.6101,,,1000,20005000,
00:39:46.359621,udp4 *:5353<->*:*,en0,,1000,5000,
time,,interface,state,bytes_in,bytes_out,
00:39:47.364011,python3.6101,,,1000,20006000,
00:39:47.359621,udp4 *:5353<->*:*,en0,,1000,6000,
";
    let (ev, st) = csv(data, ctx("residual.csv"));
    assert_eq!(
        summary(&ev),
        vec![
            row("python3", Proto::Unknown, None, 0, 20_000_000, 0),
            // Frame 3: the socket accounts for the 1,000 bytes; nothing left over to emit.
            row("python3", Proto::Udp, None, 0, 1000, 0),
        ]
    );
    assert_eq!(
        st.records,
        st.events + st.skipped + st.rejected + st.carried,
        "{st:?}"
    );
}

const PROCESS_ONLY: &str = "\
time,,interface,state,bytes_in,bytes_out,
00:39:45.364011,apsd.590,,,7046,34544,
00:39:45.364121,mDNSResponder.690,,,49701149,34147770,
time,,interface,state,bytes_in,bytes_out,
00:39:46.364011,apsd.590,,,7046,36544,
00:39:46.364121,mDNSResponder.690,,,49701149,34147770,
00:39:46.364200,curl.4242,,,100,5000,
";

#[test]
fn process_only_frames() {
    let (ev, st) = csv(PROCESS_ONLY, anchored(NettopMode::Auto));
    assert_eq!(
        summary(&ev),
        vec![
            row("apsd", Proto::Unknown, None, 0, 2000, 0),
            row("curl", Proto::Unknown, None, 100, 5000, 0),
        ]
    );
    assert_eq!(traffic(&ev[1]).pid, Some(4242));
    assert_eq!(traffic(&ev[1]).start, ts("2025-08-07T00:39:45.364011Z"));
    assert_eq!(
        st.reasons().get(&format!("skipped: {SKIP_NO_TRAFFIC}")),
        None
    );
    assert!(st
        .notes
        .iter()
        .any(|n| n.contains("auto-detected as cumulative")));
}

/// `nettop -d -L 3`: the first frame is cumulative since start, then per-interval values.
const DELTA: &str = "\
time,,interface,state,bytes_in,bytes_out,
00:39:45.364011,apsd.590,,,7046,34544,
00:39:45.359621,tcp4 198.18.0.1:65358<->17.57.146.138:5223,utun8,Established,7046,34544,
00:39:45.364121,mDNSResponder.690,,,49701149,34147770,
00:39:45.359327,tcp4 198.18.0.1:64818<->1.1.1.1:443,utun8,Established,966021,381461,
time,,interface,state,bytes_in,bytes_out,
00:39:46.364011,apsd.590,,,0,120,
00:39:46.359621,tcp4 198.18.0.1:65358<->17.57.146.138:5223,utun8,Established,0,120,
00:39:46.364121,mDNSResponder.690,,,50,60,
00:39:46.359327,tcp4 198.18.0.1:64818<->1.1.1.1:443,utun8,Established,50,60,
time,,interface,state,bytes_in,bytes_out,
00:39:47.364011,apsd.590,,,0,0,
00:39:47.359621,tcp4 198.18.0.1:65358<->17.57.146.138:5223,utun8,Established,0,0,
00:39:47.364121,mDNSResponder.690,,,70,80,
00:39:47.359327,tcp4 198.18.0.1:64818<->1.1.1.1:443,utun8,Established,70,80,
";

#[test]
fn delta_mode_explicit_and_auto_detected() {
    let want = vec![
        row("apsd", Proto::Tcp, Some("17.57.146.138:5223"), 0, 120, 0),
        row("mDNSResponder", Proto::Tcp, Some("1.1.1.1:443"), 50, 60, 0),
        row("mDNSResponder", Proto::Tcp, Some("1.1.1.1:443"), 70, 80, 0),
    ];
    let (ev, st) = csv(DELTA, anchored(NettopMode::Delta));
    assert_eq!(summary(&ev), want);
    assert_eq!(
        st.reasons().get(&format!("skipped: {SKIP_FIRST_DELTA}")),
        Some(&4)
    );
    assert_eq!(st.rejected, 0);

    let (ev, st) = csv(DELTA, anchored(NettopMode::Auto));
    assert_eq!(summary(&ev), want);
    assert!(
        st.notes
            .iter()
            .any(|n| n.contains("auto-detected as delta")),
        "{:?}",
        st.notes
    );
    // Read as cumulative, the same capture falls between frames: clamps.
    let (_, st) = csv(DELTA, anchored(NettopMode::Cumulative));
    assert!(
        st.notes
            .iter()
            .any(|n| n.starts_with("6 nettop counter decreases")),
        "{:?}",
        st.notes
    );
}

#[test]
fn auto_mode_with_two_frames_flushes_at_end() {
    let two: String = DELTA.lines().take(10).map(|l| format!("{l}\n")).collect();
    let (ev, _) = csv(&two, anchored(NettopMode::Auto));
    assert_eq!(ev.len(), 2);
    assert_eq!(traffic(&ev[0]).bytes_out, 120);
}

#[test]
fn midnight_rollover() {
    let data = "\
time,,interface,state,bytes_in,bytes_out,
23:59:59.364011,apsd.590,,,7046,34544,
23:59:59.359621,tcp4 198.18.0.1:65358<->17.57.146.138:5223,utun8,Established,7046,34544,
time,,interface,state,bytes_in,bytes_out,
00:00:01.364011,apsd.590,,,7046,35544,
00:00:01.359621,tcp4 198.18.0.1:65358<->17.57.146.138:5223,utun8,Established,7046,35544,
23:59:59.999999,tcp4 198.18.0.1:65359<->17.57.146.138:443,utun8,Established,0,10,
";
    let mut c = ctx("n.csv");
    c.clock.forced_date = parse_date("2025-08-07");
    let (ev, st) = csv(data, c);
    assert_eq!(ev.len(), 2);
    assert_eq!(ev[0].ts, ts("2025-08-08T00:00:01.359621Z"));
    assert_eq!(traffic(&ev[0]).start, ts("2025-08-07T23:59:59.359621Z"));
    // A row listed after the rollover but stamped just before midnight keeps the earlier date.
    assert_eq!(ev[1].ts, ts("2025-08-07T23:59:59.999999Z"));
    assert!(st
        .notes
        .iter()
        .any(|n| n.contains("given by --date") && n.contains(": 2025-08-07")));
    assert!(st
        .notes
        .iter()
        .any(|n| n.contains("crossed midnight 1 time")));
}

/// The date of the first row for given hints, and the note.
fn first_row_ts(hints: ClockHints, offset: i32) -> (Ts, Vec<String>) {
    let mut c = ctx("n.csv");
    c.clock = hints;
    c.input.nettop_utc_offset = offset;
    let mut p = NettopParser::new_csv(c);
    let mut out = vec![];
    for (i, l) in CUMULATIVE.lines().enumerate() {
        p.parse(l, i as u64 + 1, &mut out).unwrap();
    }
    p.finish(&mut out);
    (out[0].ts, p.notes())
}

#[test]
fn date_anchoring() {
    let frame2 = "00:39:46.359621";
    // Reference shortly before midnight UTC: the closest date is the next day.
    let (t, notes) = first_row_ts(
        ClockHints {
            reference: Some(ts("2025-08-06T23:50:00Z")),
            ..Default::default()
        },
        0,
    );
    assert_eq!(t, ts(&format!("2025-08-07T{frame2}Z")));
    assert!(notes[0].contains("other sources: 2025-08-07"));
    // The host's offset from its unified log wins over the configured one.
    let (t, notes) = first_row_ts(
        ClockHints {
            reference: Some(ts("2025-08-06T19:00:00Z")),
            utc_offset: Some(5 * 3600 + 1800),
            ..Default::default()
        },
        -7 * 3600,
    );
    assert_eq!(t, ts("2025-08-06T19:09:46.359621Z"));
    assert!(notes[0].ends_with("UTC offset +05:30 (from the host's unified log)"));
    // Rows 14 h after the other sources' first event, inside their span: the same day, not the
    // day before (which is closer to the first event).
    let (t, _) = first_row_ts(
        ClockHints {
            reference: Some(ts("2025-08-06T10:00:00Z")),
            reference_end: Some(ts("2025-08-07T06:00:00Z")),
            ..Default::default()
        },
        0,
    );
    assert_eq!(t, ts(&format!("2025-08-07T{frame2}Z")));
    // Dated sources beside the file win over --date (the last resort), and the note names them.
    let (t, notes) = first_row_ts(
        ClockHints {
            reference: Some(ts("2025-08-06T23:50:00Z")),
            reference_from: Some("dated sources in the same folder (es.jsonl)".into()),
            forced_date: parse_date("2025-01-02"),
            ..Default::default()
        },
        0,
    );
    assert_eq!(t, ts(&format!("2025-08-07T{frame2}Z")));
    assert!(
        notes[0].contains("anchored to dated sources in the same folder (es.jsonl): 2025-08-07"),
        "{notes:?}"
    );
    // Modification time: the latest date with the first row at or before it.
    let (t, notes) = first_row_ts(
        ClockHints {
            file_mtime: Some(ts("2025-08-07T00:40:10Z")),
            ..Default::default()
        },
        0,
    );
    assert_eq!(t, ts(&format!("2025-08-07T{frame2}Z")));
    assert!(notes[0].contains("modification time"));
    let (t, _) = first_row_ts(
        ClockHints {
            file_mtime: Some(ts("2025-08-07T00:39:00Z")),
            ..Default::default()
        },
        0,
    );
    assert_eq!(t, ts(&format!("2025-08-06T{frame2}Z")));
    // A date in the path wins over the file's time and --date.
    let (t, notes) = first_row_ts(
        ClockHints {
            path_date: Some((
                parse_date("2025-03-04").unwrap(),
                "folder 2025-03-04".into(),
            )),
            file_mtime: Some(ts("2025-08-07T00:40:10Z")),
            forced_date: parse_date("2025-01-02"),
            ..Default::default()
        },
        0,
    );
    assert_eq!(t, ts(&format!("2025-03-04T{frame2}Z")));
    assert!(
        notes[0].contains("taken from the date in its path (folder 2025-03-04"),
        "{notes:?}"
    );
    // The file's time wins over --date.
    let (t, _) = first_row_ts(
        ClockHints {
            file_mtime: Some(ts("2025-08-07T00:40:10Z")),
            forced_date: parse_date("2025-01-02"),
            ..Default::default()
        },
        0,
    );
    assert_eq!(t, ts(&format!("2025-08-07T{frame2}Z")));
    // --date when nothing nearer dates the file (a stream).
    let (t, notes) = first_row_ts(
        ClockHints {
            forced_date: parse_date("2025-01-02"),
            ..Default::default()
        },
        0,
    );
    assert_eq!(t, ts(&format!("2025-01-02T{frame2}Z")));
    assert!(notes[0].contains("given by --date"), "{notes:?}");
    // Nothing at all: today's (or an adjacent) date.
    let (t, notes) = first_row_ts(ClockHints::default(), 0);
    assert!((t.0 - Ts::now().0).abs() <= NANOS_PER_DAY);
    assert!(notes[0].contains("current date"));
}

#[test]
fn bad_cells_are_rejected() {
    let data = "\
time,,interface,state,bytes_in,bytes_out,
00:39:45.364011,apsd.590,,,7046,34544,
00:39:45.359621,tcp4 198.18.0.1:65358<->17.57.146.138:5223,utun8,Established,7046,34544,
time,,interface,state,bytes_in,bytes_out,
00:39:46.364011,apsd.590,,,7046,lots,
00:39:46.359621,tcp4 198.18.0.1:65358<->17.57.146.138:5223,utun8,Established,7046,35544,
00:39:46.364121,mDNSResponder.690,,,-,,
00:39:46.364122,no pid here,,,1,2,
25:00:00.000000,syslogd.394,,,1,2,
00:39:46.364123,syslogd.394,,,1,2";
    let (ev, st) = csv(data, anchored(NettopMode::Cumulative));
    assert!(ev.is_empty(), "{:?}", summary(&ev));
    assert_eq!(st.reasons().get("bad value"), Some(&1));
    assert_eq!(st.reasons().get("bad row"), Some(&1));
    assert_eq!(st.reasons().get("bad timestamp"), Some(&1));
    assert_eq!(st.reasons().get("truncated last line"), Some(&1));
    assert_eq!(st.samples[0].line, 5);
    // The socket row under the rejected process row is not given to another process.
    assert_eq!(
        st.reasons().get(&format!("skipped: {SKIP_ORPHAN}")),
        Some(&1)
    );
    // `-` and empty cells are "no value", not errors.
    assert_eq!(
        st.reasons().get(&format!("skipped: {SKIP_NO_TRAFFIC}")),
        Some(&1)
    );
}

#[test]
fn csv_without_time_column() {
    let data = "\
,bytes_in,bytes_out,
apsd.590,7046,34544,
Codex (Service).451,10,20,
,bytes_in,bytes_out,
apsd.590,7046,35544,
Codex (Service).451,10,20,
,bytes_in,bytes_out,
apsd.590,7046,35544,
Codex (Service).451,10,2020,
";
    let mut c = anchored(NettopMode::Auto);
    c.input.nettop_interval = std::time::Duration::from_secs(5);
    let (ev, st) = csv(data, c);
    assert_eq!(st.rejected, 0);
    assert_eq!(
        summary(&ev),
        vec![
            row("apsd", Proto::Unknown, None, 0, 1000, 0),
            row("Codex (Service)", Proto::Unknown, None, 0, 2000, 0),
        ]
    );
    assert_eq!(ev[0].ts, ts("2025-08-07T00:39:45Z"));
    assert_eq!(traffic(&ev[0]).start, ts("2025-08-07T00:39:40Z"));
    assert_eq!(ev[1].ts, ts("2025-08-07T00:39:50Z"));
    assert!(st.notes.iter().any(|n| n.contains("no time column")));
}

#[test]
fn cells() {
    let mut names = Names::default();
    let Some(What::Process { name, pid: 1790 }) = name_cell("com.apple.WebKi.1790", &mut names)
    else {
        panic!()
    };
    assert_eq!(&**names.text(name), "com.apple.WebKi");
    let Some(What::Process { name, pid: 1069 }) = name_cell("Signal Helper (.1069", &mut names)
    else {
        panic!()
    };
    assert_eq!(&**names.text(name), "Signal Helper (");
    // The same text is the same id.
    assert!(matches!(
        name_cell("Signal Helper (.7", &mut names),
        Some(What::Process { name: again, pid: 7 }) if again == name
    ));
    assert!(name_cell("kernel_task", &mut names).is_none());
    assert!(name_cell("x.12a", &mut names).is_none());
    let Some(What::Socket { proto, remote, .. }) = name_cell(
        "quic6 fe80::7ca2:20ff:fe4d:277%awdl0.52214<->fe80::13:faff:fe55:a839%awdl0.50386",
        &mut names,
    ) else {
        panic!()
    };
    assert_eq!(proto, Proto::Quic);
    assert_eq!(
        remote.map(|r| names.text(r).to_string()).as_deref(),
        Some("[fe80::13:faff:fe55:a839%awdl0]:50386")
    );
    for w in ["udp4 *:*<->*:*", "udp6 *.5353<->*.*", "tcp6 *.51560<->*.*"] {
        assert!(
            matches!(
                name_cell(w, &mut names),
                Some(What::Socket { remote: None, .. })
            ),
            "{w}"
        );
    }
    assert_eq!(count_cell("b", " 1.5 KiB").unwrap(), 1536);
    // The digits-only shortcut gives what `parse` gives, at the edges of its 19 digits and past.
    for cell in [
        "0",
        "258",
        "0000000000000000042",
        "9999999999999999999",
        "18446744073709551615",
        "18446744073709551616",
        "+7",
        "-7",
        "12a",
        "1 2",
        "\u{663}",
    ] {
        assert_eq!(
            count_cell("b", cell).ok(),
            cell.parse::<u64>().ok(),
            "{cell:?}"
        );
    }
    assert_eq!(count_cell("b", "-").unwrap(), 0);
    assert!(count_cell("b", "1.22 ms").is_err());
    assert_eq!(
        wide_cells("Signal Helper (.1069      231681     95930"),
        vec![(0, 20), (26, 32), (37, 42)]
    );
}

fn fixed(data: &str, c: SourceCtx) -> (Vec<Event>, FileStats) {
    read_all(data.as_bytes(), Format::NettopFixed, c)
}

#[test]
fn real_fixed_width() {
    let real = corpus("whichway_nettop_P_x_l2_fixedwidth.txt");
    let (ev, st) = fixed(&real, ctx("w.txt"));
    assert_eq!((st.records, st.rejected, ev.len()), (40, 0, 0));
    assert_eq!(
        st.reasons().get(&format!("skipped: {SKIP_BASELINE}")),
        Some(&39)
    );

    // A second sample (blank line, header again), three processes sent 1000 more bytes.
    let second = real
        .replace("231681           95930", "231681           96930")
        .replace("17611507         1063785", "17611507         1064785")
        .replace("808991          695717", "808991          696717");
    let both = format!("\n{real}{second}");
    let mut c = anchored(NettopMode::Auto);
    c.input.nettop_interval = std::time::Duration::from_secs(2);
    let (ev, st) = fixed(&both, c.clone());
    assert_eq!(st.rejected, 0);
    let got: Vec<(String, i32, u64)> = ev
        .iter()
        .map(traffic)
        .map(|t| {
            (
                t.process_name.as_deref().unwrap().to_string(),
                t.pid.unwrap(),
                t.bytes_out,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("Microsoft Outlo".to_string(), 793, 1000),
            ("Signal Helper (".to_string(), 1069, 1000),
            ("Google Chrome H".to_string(), 1132, 1000),
        ]
    );
    assert_eq!(ev[0].ts, ts("2025-08-07T00:39:42Z"));
    assert_eq!(traffic(&ev[0]).start, ts("2025-08-07T00:39:40Z"));
    assert!(st.notes.iter().any(|n| n.contains("no time column")));

    // Without the repeated header, the repeated pids start the second frame.
    let rows_only: String = second.lines().skip(1).map(|l| format!("{l}\n")).collect();
    let (ev2, st2) = fixed(&format!("{real}{rows_only}"), c);
    assert_eq!(st2.rejected, 0);
    assert_eq!(ev2.len(), 3);
}

/// A real capture whose only header line comes after its rows (agentmon's fixture, copied from a
/// terminal): the rows are held until the header, then read in their order with its columns.
#[test]
fn real_fixed_width_header_after_the_rows() {
    let real = corpus("agentmon_nettop_fixedwidth_header_after_rows.txt");
    assert_eq!(
        crate::sniff(real.as_bytes()),
        crate::Sniffed::Telemetry(Format::NettopFixed)
    );
    let mut c = anchored(NettopMode::Cumulative);
    c.input.nettop_interval = std::time::Duration::from_secs(1);
    let (ev, st) = fixed(&real, c.clone());
    assert_eq!((st.records, st.rejected), (36, 0), "{st:?}");
    // Counted exactly as the same capture with its header on top.
    let top: String = std::iter::once(real.lines().last().unwrap())
        .chain(real.lines().take(35))
        .map(|l| format!("{l}\n"))
        .collect();
    let (ev_top, st_top) = fixed(&top, c);
    assert_eq!(
        (st.events, st.skipped, st.carried, &st.reasons()),
        (
            st_top.events,
            st_top.skipped,
            st_top.carried,
            &st_top.reasons()
        )
    );
    assert_eq!(ev.len(), ev_top.len());
    assert_eq!(
        st.records,
        st.events + st.skipped + st.rejected + st.carried
    );
    // Frame 1 (29 rows) is the baseline; the repeated pids start frames 2 and 3, where only
    // mDNSResponder's counters moved (1704 in / 1389 out, then 676 / 270).
    let got: Vec<(String, u64, u64, u64)> = ev
        .iter()
        .map(|e| (e, traffic(e)))
        .map(|(e, t)| {
            (
                t.process_name.as_deref().unwrap().to_string(),
                e.origin.line,
                t.bytes_in,
                t.bytes_out,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("mDNSResponder".to_string(), 30, 1704, 1389),
            ("mDNSResponder".to_string(), 33, 676, 270),
        ]
    );
    assert_eq!(ev[0].ts, ts("2025-08-07T00:39:41Z"));
}

/// The real whichway capture cut as a terminal copy would be: its rows, then the header line that
/// stood above them. Read exactly as the original (same traffic), one line later.
#[test]
fn header_below_rows_reads_like_header_above() {
    let real = corpus("whichway_nettop_P_x_l2_fixedwidth.txt");
    let second = real.replace("231681           95930", "231681           96930");
    let rows: String = real.lines().skip(1).map(|l| format!("{l}\n")).collect();
    let header = real.lines().next().unwrap();
    let mut c = anchored(NettopMode::Cumulative);
    c.input.nettop_interval = std::time::Duration::from_secs(2);
    let (want, _) = fixed(&format!("{real}{second}"), c.clone());
    let moved = format!("{rows}{header}\n{second}");
    assert_eq!(
        crate::sniff(moved.as_bytes()),
        crate::Sniffed::Telemetry(Format::NettopFixed)
    );
    let (got, st) = fixed(&moved, c);
    assert_eq!(st.rejected, 0, "{st:?}");
    let key = |ev: &[Event]| -> Vec<(i32, u64, Ts)> {
        ev.iter()
            .map(|e| (traffic(e).pid.unwrap(), traffic(e).bytes_out, e.ts))
            .collect()
    };
    assert_eq!(key(&got), key(&want));
    assert_eq!(key(&got), vec![(1069, 1000, ts("2025-08-07T00:39:42Z"))]);
}

/// The hold is bounded: rows past `input.nettop_rows_before_header` are rejected at once with
/// their line and reason; with no header at all, every held row is rejected at the end.
#[test]
fn rows_before_the_header_are_bounded_and_never_silently_dropped() {
    let real = corpus("agentmon_nettop_fixedwidth_header_after_rows.txt");
    let mut c = anchored(NettopMode::Cumulative);
    c.input.nettop_rows_before_header = 5;
    let (_, st) = fixed(&real, c.clone());
    assert_eq!((st.records, st.rejected), (36, 30), "{st:?}");
    assert_eq!(st.samples[0].line, 6);
    assert_eq!(st.samples[0].reason, "bad row");
    assert!(
        st.samples[0].detail.contains("past the 5 rows held"),
        "{:?}",
        st.samples[0]
    );

    // A line the framer rejects (NUL bytes) among the held rows is a gap, located like any reject.
    let mut lines: Vec<String> = real.lines().map(str::to_string).collect();
    lines.insert(2, "\0\0\0".into());
    let with_nul: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let (ev, st) = fixed(&with_nul, anchored(NettopMode::Cumulative));
    assert_eq!((st.records, st.rejected, ev.len()), (37, 1, 2), "{st:?}");
    assert_eq!(
        (st.samples[0].line, st.samples[0].reason.as_str()),
        (3, "binary data")
    );

    let no_header: String = real.lines().take(35).map(|l| format!("{l}\n")).collect();
    let (ev, st) = fixed(&no_header, anchored(NettopMode::Cumulative));
    assert!(ev.is_empty());
    assert_eq!((st.records, st.rejected), (35, 35), "{st:?}");
    assert_eq!(st.samples[0].line, 1);
    assert_eq!(
        st.samples[0].detail,
        "data row and no nettop header in the file"
    );
}

/// A header further down than the sniffer's head: the rows' shape alone tells fixed-width nettop.
#[test]
fn sniffed_without_a_header_in_the_head() {
    let real = corpus("agentmon_nettop_fixedwidth_header_after_rows.txt");
    let rows: String = real.lines().take(35).map(|l| format!("{l}\n")).collect();
    let long = rows.repeat(crate::sniff::HEAD_BYTES / rows.len() + 2);
    assert_eq!(
        crate::sniff(&long.as_bytes()[..crate::sniff::HEAD_BYTES]),
        crate::Sniffed::Telemetry(Format::NettopFixed)
    );
    // Prose with a dotted word and numbers is not nettop.
    assert!(matches!(
        crate::sniff(b"see section 3.2  of the manual, pages 10 12\n"),
        crate::Sniffed::NotTelemetry(_)
    ));
}

#[test]
fn fixed_width_columns_by_position() {
    // Default-like columns where a middle column is empty on some rows.
    let line = |n: &str, i: &str, s: &str, a: &str, b: &str| {
        format!("{n:<20}{i:>12}{s:>8}{a:>11}{b:>11}\n")
    };
    let data = [
        line("", "interface", "state", "bytes_in", "bytes_out"),
        line("launchd.1", "", "", "10", "20"),
        line("Some  App.77", "en0", "", "1.5 KiB", "40"),
        line("launchd.1", "", "", "10", "25"),
        line("Some  App.77", "en0", "", "2 KiB", "40"),
    ]
    .concat();
    let data = data.as_str();
    let (ev, st) = fixed(data, anchored(NettopMode::Cumulative));
    assert_eq!(st.rejected, 0);
    assert_eq!(
        summary(&ev),
        vec![
            row("launchd", Proto::Unknown, None, 0, 5, 0),
            row("Some  App", Proto::Unknown, None, 512, 0, 0),
        ]
    );
}

/// One frame where python3's cumulative bytes_out reads 2^64-1 (a counter glitch): a jump no
/// interface could carry. The rows are rejected, never in a rate, and the next good frame measures
/// from the last good value (2000 bytes over two intervals), not from the glitch.
const GLITCH: &str = "\
time,,interface,state,bytes_in,bytes_out,
00:39:45.364011,python3.6101,,,1000,5000,
00:39:45.359621,udp4 192.168.1.56:50000<->203.0.113.9:9999,en0,,1000,5000,
time,,interface,state,bytes_in,bytes_out,
00:39:46.364011,python3.6101,,,1000,18446744073709551615,
00:39:46.359621,udp4 192.168.1.56:50000<->203.0.113.9:9999,en0,,1000,18446744073709551615,
time,,interface,state,bytes_in,bytes_out,
00:39:47.364011,python3.6101,,,1000,7000,
00:39:47.359621,udp4 192.168.1.56:50000<->203.0.113.9:9999,en0,,1000,7000,
time,,interface,state,bytes_in,bytes_out,
00:39:48.364011,python3.6101,,,1000,8000,
00:39:48.359621,udp4 192.168.1.56:50000<->203.0.113.9:9999,en0,,1000,8000,
";

#[test]
fn a_counter_glitch_is_rejected_and_kept_out_of_every_rate() {
    for mode in [NettopMode::Cumulative, NettopMode::Auto] {
        let (ev, st) = csv(GLITCH, anchored(mode));
        assert_eq!(
            summary(&ev),
            vec![
                row("python3", Proto::Udp, Some("203.0.113.9:9999"), 0, 2000, 0),
                row("python3", Proto::Udp, Some("203.0.113.9:9999"), 0, 1000, 0),
            ],
            "{mode:?}"
        );
        // Frame 3 measures from frame 1: two intervals.
        assert_eq!(traffic(&ev[0]).start, ts("2025-08-07T00:39:45.359621Z"));
        assert_eq!(st.rejected, 2, "{mode:?}");
        assert_eq!(st.reasons().get("counter glitch"), Some(&2));
        assert_eq!(st.samples[0].line, 5);
        assert!(
            st.samples[0].detail.contains("bytes_out"),
            "{:?}",
            st.samples
        );
        assert!(
            !st.notes.iter().any(|n| n.contains("clamped")),
            "{:?}",
            st.notes
        );
        assert_eq!(
            st.records,
            st.events + st.skipped + st.rejected + st.carried,
            "{st:?}"
        );
    }
    // A socket new in the second frame of an auto-mode capture is held until the mode is known
    // (delta here): judged then, it is a glitch too, and in no rate.
    let delta = DELTA.replace(
        "00:39:46.359327,tcp4 198.18.0.1:64818<->1.1.1.1:443,utun8,Established,50,60,\n",
        "00:39:46.359327,tcp4 198.18.0.1:64818<->1.1.1.1:443,utun8,Established,50,60,\n\
         00:39:46.359400,udp4 198.18.0.1:5000<->203.0.113.9:9,utun8,,0,18446744073709551615,\n",
    );
    let (ev, st) = csv(&delta, anchored(NettopMode::Auto));
    assert!(st
        .notes
        .iter()
        .any(|n| n.contains("auto-detected as delta")));
    assert_eq!(summary(&ev).len(), 3, "{:?}", summary(&ev));
    assert!(ev.iter().all(|e| traffic(e).bytes_out < 1000));
    assert!(
        st.notes.iter().any(|n| n.contains("were counter glitches")),
        "{:?}",
        st.notes
    );
    assert_eq!(
        st.records,
        st.events + st.skipped + st.rejected + st.carried,
        "{st:?}"
    );
    // The ceiling is input.nettop_max_bytes_per_s: below it, a jump is traffic.
    let mut c = anchored(NettopMode::Cumulative);
    c.input.nettop_max_bytes_per_s = f64::MAX;
    let (ev, st) = csv(GLITCH, c);
    assert_eq!(st.rejected, 0);
    assert!(ev.iter().any(|e| traffic(e).bytes_out > 1 << 60));
    // The ceiling is per second of the interval: frame 3's 2000 bytes over two seconds pass a
    // ceiling of 1500 per second (above one second's), and fail one of 999, as then frame 4's
    // 3000 over three seconds (each frame's process and socket row).
    for (per_s, rejected, events) in [(1500.0, 2, 2), (999.0, 6, 0)] {
        let mut c = anchored(NettopMode::Cumulative);
        c.input.nettop_max_bytes_per_s = per_s;
        let (ev, st) = csv(GLITCH, c);
        assert_eq!((st.rejected, ev.len()), (rejected, events), "{per_s}");
    }
}

/// A 32-bit counter that passes 2^32 starts again near 0: that is 2^32 - old + new bytes, not a
/// fall clamped to 0.
#[test]
fn a_32_bit_counter_wrap_is_a_wrap() {
    let data = "\
time,,interface,state,bytes_in,bytes_out,
00:39:45.364011,python3.6101,,,1000,4294960000,
00:39:45.359621,udp4 192.168.1.56:50000<->203.0.113.9:9999,en0,,1000,4294960000,
time,,interface,state,bytes_in,bytes_out,
00:39:46.364011,python3.6101,,,1000,5000,
00:39:46.359621,udp4 192.168.1.56:50000<->203.0.113.9:9999,en0,,1000,5000,
time,,interface,state,bytes_in,bytes_out,
00:39:47.364011,python3.6101,,,1000,6000,
00:39:47.359621,udp4 192.168.1.56:50000<->203.0.113.9:9999,en0,,1000,6000,
";
    for mode in [NettopMode::Cumulative, NettopMode::Auto] {
        let (ev, st) = csv(data, anchored(mode));
        assert_eq!(
            summary(&ev),
            vec![
                row(
                    "python3",
                    Proto::Udp,
                    Some("203.0.113.9:9999"),
                    0,
                    12_296,
                    0
                ),
                row("python3", Proto::Udp, Some("203.0.113.9:9999"), 0, 1000, 0),
            ],
            "{mode:?}"
        );
        assert!(
            st.notes.iter().any(|n| n.contains("wrapped at 2^32")),
            "{:?}",
            st.notes
        );
        assert!(
            !st.notes.iter().any(|n| n.contains("clamped")),
            "{:?}",
            st.notes
        );
        if mode == NettopMode::Auto {
            assert!(st
                .notes
                .iter()
                .any(|n| n.contains("auto-detected as cumulative")));
        }
    }
}

/// Dropbox is first listed in the third frame with its lifetime total (3.3 GB): a baseline, not
/// 3.3 GB sent in one interval; its next frame is its first traffic. A row first listed with a
/// total one interval can plausibly carry (curl's 5000 bytes) is still new traffic.
#[test]
fn a_row_first_listed_mid_capture_with_a_large_total_is_a_baseline() {
    let data = "\
time,,interface,state,bytes_in,bytes_out,
00:39:45.364011,apsd.590,,,7046,34544,
00:39:45.359621,tcp4 198.18.0.1:65358<->17.57.146.138:5223,utun8,Established,7046,34544,
time,,interface,state,bytes_in,bytes_out,
00:39:47.364011,apsd.590,,,7046,35544,
00:39:47.359621,tcp4 198.18.0.1:65358<->17.57.146.138:5223,utun8,Established,7046,35544,
time,,interface,state,bytes_in,bytes_out,
00:39:49.364011,apsd.590,,,7046,35544,
00:39:49.359621,tcp4 198.18.0.1:65358<->17.57.146.138:5223,utun8,Established,7046,35544,
00:39:49.364100,Dropbox.777,,,120000,3333400000,
00:39:49.359700,tcp4 198.18.0.1:65400<->162.125.19.131:443,utun8,Established,120000,3333400000,
00:39:49.364200,curl.4242,,,100,5000,
00:39:49.359800,tcp4 198.18.0.1:65401<->203.0.113.10:80,utun8,Established,100,5000,
time,,interface,state,bytes_in,bytes_out,
00:39:51.364011,apsd.590,,,7046,35544,
00:39:51.359621,tcp4 198.18.0.1:65358<->17.57.146.138:5223,utun8,Established,7046,35544,
00:39:51.364100,Dropbox.777,,,120000,3333500000,
00:39:51.359700,tcp4 198.18.0.1:65400<->162.125.19.131:443,utun8,Established,120000,3333500000,
";
    for mode in [NettopMode::Cumulative, NettopMode::Auto] {
        let (ev, st) = csv(data, anchored(mode));
        assert_eq!(
            summary(&ev),
            vec![
                row("apsd", Proto::Tcp, Some("17.57.146.138:5223"), 0, 1000, 0),
                row("curl", Proto::Tcp, Some("203.0.113.10:80"), 100, 5000, 1),
                row(
                    "Dropbox",
                    Proto::Tcp,
                    Some("162.125.19.131:443"),
                    0,
                    100_000,
                    0
                ),
            ],
            "{mode:?}"
        );
        assert_eq!(st.rejected, 0);
        assert!(
            st.notes
                .iter()
                .any(|n| n.starts_with("2 nettop rows first listed")),
            "{:?}",
            st.notes
        );
        assert_eq!(
            st.records,
            st.events + st.skipped + st.rejected + st.carried,
            "{st:?}"
        );
    }
}

/// Runs `data` through a parser whose name table holds at most `limit` names before it is
/// compacted; returns the events (as text, every field), the notes and the names left.
fn with_name_limit(
    data: &str,
    mode: NettopMode,
    limit: usize,
) -> (Vec<String>, Vec<String>, usize) {
    let mut p = NettopParser::new_csv(anchored(mode));
    p.limit_names(limit);
    let mut out = vec![];
    for (i, l) in data.lines().enumerate() {
        let _ = p.parse(l, i as u64 + 1, &mut out);
    }
    p.finish(&mut out);
    let events = out.iter().map(|e| format!("{e:?}")).collect();
    (events, p.notes(), p.cells.names.len())
}

/// Dropping unused names and renumbering the rest (when more distinct names than the table's
/// limit were seen) changes no event: keys, the current process, held rows and the pending
/// process row all keep their continuity. Long-lived processes keep sending while a new process
/// with a new name, socket and remote appears in every frame; in auto mode frame 2 is held
/// across compactions too.
#[test]
fn compacting_the_names_changes_no_event() {
    let mut data = String::new();
    for frame in 0..40u32 {
        data.push_str("time,,interface,state,bytes_in,bytes_out,\n");
        let t = |k: u32| format!("00:{:02}:{:02}.{:06}", frame / 30, (frame * 2) % 60, k);
        for p in 0..6u32 {
            let total = 1000 * (frame + 1) * (p + 1);
            data.push_str(&format!(
                "{},keep-{p}.{},,,{},{},\n",
                t(p),
                100 + p,
                total / 2,
                total
            ));
            data.push_str(&format!(
                "{},tcp4 10.0.0.2:{}<->198.51.100.{p}:443,en0,Established,{},{},\n",
                t(p),
                50000 + p,
                total / 2,
                total
            ));
        }
        // New processes, sockets and remotes in every frame: new names all the time. Frame 2
        // (held in auto mode) brings many, so the table fills while its rows are held. Each
        // sends more than its socket row accounts for, so its held process row has an event.
        for k in 0..if frame == 1 { 30 } else { 1 } {
            let pid = 1000 + 100 * frame + k;
            // 100 kB more than its socket: the process row's own event (the pending row).
            let total = 105_000 + pid;
            data.push_str(&format!("{},tmp-{frame}-{k}.{pid},,,10,{total},\n", t(9)));
            data.push_str(&format!(
                "{},udp4 10.0.0.2:{}<->203.0.{}.{}:53,en0,,10,{},\n",
                t(9),
                20000 + pid,
                frame,
                k,
                5000 + pid
            ));
        }
    }
    for mode in [NettopMode::Cumulative, NettopMode::Auto] {
        let (want, want_notes, all) = with_name_limit(&data, mode, 1 << 20);
        let (got, got_notes, kept) = with_name_limit(&data, mode, 8);
        assert!(want.len() > 200, "{}", want.len());
        assert_eq!(got, want, "{mode:?}");
        assert_eq!(got_notes, want_notes, "{mode:?}");
        // Names were dropped: the compactions happened.
        assert!(all > 200 && kept < all, "{kept} of {all} names kept");
    }
}

/// A parse with its ids read back as text, to compare parses made with different [`Names`].
fn shown(what: Option<&What>, names: &Names) -> String {
    match what {
        None => "none".to_string(),
        Some(What::Process { name, pid }) => format!("process {} {pid}", names.text(*name)),
        Some(What::Socket {
            proto,
            desc,
            remote,
        }) => format!(
            "socket {proto:?} {} {:?}",
            names.text(*desc),
            remote.map(|r| names.text(r).to_string())
        ),
    }
}

/// The cache (and its guess of the next row from the last frame's order) gives every cell the
/// parse `name_cell` gives it: in the same order frame after frame, in another order, with a
/// cell repeated, new cells, cells that do not parse, and after the cache is forgotten.
#[test]
fn cached_name_cells_parse_as_uncached_whatever_the_order() {
    let a = "mDNSResponder.360";
    let b = "udp4 *:5353<->*:*";
    let c = "tcp4 192.168.3.190:58488<->17.57.146.138:5223";
    let d = "Google Chrome H.3320";
    let e = "tcp6 fe80::1.50000<->2a00:1450:4001:80b::200e.443";
    let bad = "no pid here";
    let frames: [&[&str]; 6] = [
        &[a, b, c, d],
        &[a, b, c, d],
        &[a, c, b, d, d],
        &[a, bad, b, e, c],
        &[d, c, b, a, e],
        &[a, b, c, d, e, bad, a],
    ];
    let mut cells = Cells::default();
    for round in 0..2 {
        for (f, frame) in frames.iter().enumerate() {
            for cell in frame.iter() {
                let mut names = Names::default();
                let want = shown(name_cell(cell, &mut names).as_ref(), &names);
                let got = cached_name_cell(&mut cells, cell).copied();
                assert_eq!(
                    shown(got.as_ref(), &cells.names),
                    want,
                    "round {round}, frame {f}, cell {cell:?}"
                );
            }
            if f == 3 {
                cells.forget_parses();
            }
        }
    }
}

/// A socket first listed in a glitched row is not remembered either: in the next frame it is new,
/// measured from the frame before (delta mode, whose rows are per interval), not from the glitch.
#[test]
fn a_new_socket_s_glitched_row_is_not_its_first_sample() {
    let capture = "\
time,,interface,state,bytes_in,bytes_out,
00:39:45.364011,python3.6101,,,10,20,
00:39:45.359621,udp4 192.168.1.56:50000<->203.0.113.9:9999,en0,,10,20,
time,,interface,state,bytes_in,bytes_out,
00:39:46.364011,python3.6101,,,10,20,
00:39:46.359621,udp4 192.168.1.56:50000<->203.0.113.9:9999,en0,,10,20,
00:39:46.359700,udp4 192.168.1.56:50001<->203.0.113.9:9,en0,,0,18446744073709551615,
time,,interface,state,bytes_in,bytes_out,
00:39:47.364011,python3.6101,,,10,520,
00:39:47.359621,udp4 192.168.1.56:50000<->203.0.113.9:9999,en0,,10,20,
00:39:47.359700,udp4 192.168.1.56:50001<->203.0.113.9:9,en0,,0,500,
";
    let (ev, st) = csv(capture, anchored(NettopMode::Delta));
    assert_eq!(st.reasons().get("counter glitch"), Some(&1), "{st:?}");
    let new: Vec<&Traffic> = ev
        .iter()
        .map(traffic)
        .filter(|t| t.remote.as_deref() == Some("203.0.113.9:9"))
        .collect();
    assert_eq!(new.len(), 1, "{ev:?}");
    assert_eq!(new[0].bytes_out, 500);
    // From frame 2's first row, not from the glitched row (00:39:46.359700).
    assert_eq!(new[0].start, ts("2025-08-07T00:39:46.364011Z"));
}

/// A counter key keeps its parts apart and whole: process and socket keys of the same pid and
/// name differ, as do sockets at different places; the name comes back, and renumbering changes
/// only the name.
#[test]
fn counter_keys_keep_their_parts() {
    let mut names = Names::with_limit(8);
    let (a, b, c) = (names.intern("a"), names.intern("b"), names.intern("c"));
    for pid in [0, 1, 4242, i32::MAX, -1, i32::MIN] {
        let keys = [
            Key::process(pid, a),
            Key::process(pid, b),
            Key::socket(pid, a, 0),
            Key::socket(pid, a, 1),
            Key::socket(pid, b, 0),
            Key::socket(pid, a, u32::MAX),
            Key::process(pid.wrapping_add(1), a),
        ];
        for (i, k) in keys.iter().enumerate() {
            for (j, l) in keys.iter().enumerate() {
                assert_eq!(i == j, k == l, "{k:?} against {l:?}");
            }
        }
        assert_eq!(Key::socket(pid, b, 7).name(), b);
        assert_eq!(Key::process(pid, a).name(), a);
    }
    // Keep c and a, drop b: the ids move, the texts stay with them.
    let r = names.compact([c, a]);
    let moved = Key::socket(-5, c, 3).renumbered(&r);
    assert_eq!(names.text(moved.name()).as_ref(), "c");
    assert_eq!(moved, Key::socket(-5, moved.name(), 3));
    // Every bit of the place is kept.
    let last = Key::socket(-5, c, u32::MAX).renumbered(&r);
    assert_eq!(last, Key::socket(-5, moved.name(), u32::MAX));
    assert_ne!(moved, Key::process(-5, moved.name()));
    let kept = Key::process(9, a).renumbered(&r);
    assert_eq!(names.text(kept.name()).as_ref(), "a");
    assert_eq!(kept, Key::process(9, kept.name()));
}
