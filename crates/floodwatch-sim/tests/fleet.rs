//! The labelled fleet: every file it writes reads back through the real sniffing and parsers with no
//! rejected line (but the one deliberately truncated line), nettop rows are dated inside the simulated
//! day, every family is labelled with its verdict, labels round-trip, and a seed gives the same bytes.

mod common;
use common::dir_bytes;
use floodwatch_core::config::Config;
use floodwatch_core::time::{days_from_civil, NANOS_PER_SEC};
use floodwatch_core::Ts;
use floodwatch_sim::{
    read_labels, write_fleet, write_labels, FleetSpec, Label, ATTACK_FAMILIES, BENIGN_FAMILIES,
    ROBUSTNESS_FAMILIES,
};
use floodwatch_sources::{sniff, ClockHints, FileSource, Format, Sniffed, SourceCtx};
use regex::Regex;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// Enough attack hosts for every attack family once, and every role.
fn spec() -> FleetSpec {
    FleetSpec {
        hosts: 18,
        seed: 4,
        attack_hosts: ATTACK_FAMILIES.len(),
        ..FleetSpec::default()
    }
}

struct Written {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    labels: Vec<Label>,
}

fn written() -> &'static Written {
    static W: OnceLock<Written> = OnceLock::new();
    W.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("fleet");
        let labels = write_fleet(&dir, &spec()).unwrap();
        Written {
            _tmp: tmp,
            dir,
            labels,
        }
    })
}

fn host_dirs(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    v.sort();
    v
}

fn file_names(d: &Path) -> BTreeSet<String> {
    std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

struct Read {
    stats: floodwatch_sources::FileStats,
    first: Option<Ts>,
    last: Option<Ts>,
    offset: Option<i32>,
}

/// Reads one file as a hunt does (sniffed from content) and checks its events: the host is the
/// folder's, and time never runs back by more than the reorder slack.
fn read(path: &Path, host: &str, clock: ClockHints, want: Format) -> Read {
    let data = std::fs::read(path).unwrap();
    let Sniffed::Telemetry(format) = sniff(&data) else {
        panic!("{} not recognized: {:?}", path.display(), sniff(&data));
    };
    assert_eq!(format, want, "{}", path.display());
    let ctx = SourceCtx {
        file_id: 0,
        path: Arc::from(path.display().to_string()),
        host: Arc::from(host),
        host_forced: false,
        clock,
        input: Config::default().input,
    };
    let mut src = FileSource::new(&data[..], format, ctx);
    let mut out = Vec::new();
    while src.next_events(&mut out).unwrap() {}
    let slack = 30 * NANOS_PER_SEC;
    let mut latest = Ts::MIN;
    for ev in &out {
        assert_eq!(
            &*ev.host,
            host,
            "{}: host of {:?}",
            path.display(),
            ev.origin
        );
        assert!(
            ev.ts.0 >= latest.0.saturating_sub(slack),
            "{}: line {} goes back in time ({} after {})",
            path.display(),
            ev.origin.line,
            ev.ts,
            latest
        );
        latest = latest.max(ev.ts);
    }
    assert!(!out.is_empty(), "{}: no events", path.display());
    assert_eq!(out.len() as u64, src.stats.events);
    Read {
        first: out.iter().map(|e| e.ts).min(),
        last: out.iter().map(|e| e.ts).max(),
        offset: src.utc_offset(),
        stats: src.stats,
    }
}

#[test]
fn every_file_parses_with_no_rejected_line_but_the_truncated_ones() {
    let w = written();
    let s = spec();
    let day = (s.start, s.start.add_secs(s.duration_s));
    let truncated: BTreeSet<&str> = w
        .labels
        .iter()
        .filter(|l| l.family == "truncated-last-line")
        .map(|l| l.host.as_str())
        .collect();
    assert!(!truncated.is_empty());
    let mut files = 0;
    for d in host_dirs(&w.dir) {
        let host = d.file_name().unwrap().to_string_lossy().into_owned();
        let names = file_names(&d);
        // Dated sources first: they anchor nettop's dateless rows, as in a hunt.
        let mut span: Option<(Ts, Ts)> = None;
        let mut offset = None;
        for (name, format) in [
            ("eslogger.jsonl", Format::Eslogger),
            ("osquery.log", Format::Osquery),
            ("unifiedlog.ndjson", Format::UnifiedLogNdjson),
        ] {
            if !names.contains(name) {
                continue;
            }
            let r = read(&d.join(name), &host, ClockHints::default(), format);
            let st = &r.stats;
            if name == "eslogger.jsonl" && truncated.contains(host.as_str()) {
                assert_eq!(st.rejected, 1, "{host}: {:?}", st.reasons());
                assert_eq!(st.reasons().get("truncated last line"), Some(&1), "{host}");
            } else {
                assert_eq!(st.rejected, 0, "{host}/{name}: {:#?}", st.samples);
            }
            if format == Format::Eslogger {
                assert_eq!(
                    st.records,
                    st.events + st.skipped + st.rejected + st.carried
                );
            }
            let (a, b) = (r.first.unwrap(), r.last.unwrap());
            assert!(
                a >= day.0 && b <= day.1.add_secs(600),
                "{host}/{name}: {a} .. {b}"
            );
            span = Some(span.map_or((a, b), |(x, y)| (x.min(a), y.max(b))));
            offset = offset.or(r.offset);
            files += 1;
        }
        let (reference, reference_end) = span.expect("a dated source");
        let clock = ClockHints {
            reference: Some(reference),
            reference_end: Some(reference_end),
            utc_offset: offset,
            ..ClockHints::default()
        };
        let r = read(&d.join("nettop.csv"), &host, clock, Format::NettopCsv);
        let st = &r.stats;
        assert_eq!(st.rejected, 0, "{host}/nettop.csv: {:#?}", st.samples);
        assert_eq!(
            st.records,
            st.events + st.skipped + st.rejected + st.carried
        );
        // Dated into the simulated day (a misdated row would land a day off).
        let (a, b) = (r.first.unwrap(), r.last.unwrap());
        assert!(
            a >= day.0 && b <= day.1.add_secs(600),
            "{host}/nettop.csv dated {a} .. {b}"
        );
        files += 1;
    }
    assert!(
        files >= 3 * spec().hosts - spec().hosts / 2,
        "{files} files"
    );
}

#[test]
fn every_family_is_labelled_with_its_verdict_and_files_follow_the_role() {
    let w = written();
    let labels = &w.labels;
    assert_eq!(read_labels(&w.dir.join("labels.jsonl")).unwrap(), *labels);
    let mut by_family: BTreeMap<&str, Vec<&Label>> = BTreeMap::new();
    for l in labels {
        by_family.entry(&l.family).or_default().push(l);
    }
    for f in ATTACK_FAMILIES {
        let ls = &by_family[f];
        assert_eq!(ls.len(), 1, "{f}: one attack host each");
        let l = ls[0];
        assert!(l.attack, "{f}");
        assert_eq!(l.should_alert, *f != "low-rate-decoy", "{f}");
        assert!(l.subject_pid.is_some(), "{f}");
        let secs = (l.end.0 - l.start.0) / NANOS_PER_SEC;
        assert!((29..=121).contains(&secs), "{f}: {secs} s");
    }
    for f in BENIGN_FAMILIES {
        let ls = by_family.get(f).unwrap_or_else(|| panic!("no {f}"));
        assert!(ls
            .iter()
            .all(|l| !l.attack && !l.should_alert && l.subject_pid.is_some()));
    }
    for f in ROBUSTNESS_FAMILIES {
        let ls = by_family.get(f).unwrap_or_else(|| panic!("no {f}"));
        assert!(ls
            .iter()
            .all(|l| !l.attack && !l.should_alert && l.subject_pid.is_none()));
    }
    let known: BTreeSet<&str> = ATTACK_FAMILIES
        .iter()
        .chain(BENIGN_FAMILIES)
        .chain(ROBUSTNESS_FAMILIES)
        .copied()
        .collect();
    assert!(by_family.keys().all(|f| known.contains(f)));
    // One attack per attack host, several routine activities on every host.
    let mut per_host: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for l in labels {
        let e = per_host.entry(&l.host).or_default();
        if l.attack {
            e.0 += 1;
        } else if BENIGN_FAMILIES.contains(&l.family.as_str()) {
            e.1 += 1;
        }
    }
    assert_eq!(per_host.len(), spec().hosts);
    assert!(per_host.values().all(|&(a, b)| a <= 1 && b >= 3));
    // The files a host has follow its role (its name's prefix).
    let mut roles = BTreeSet::new();
    for d in host_dirs(&w.dir) {
        let host = d.file_name().unwrap().to_string_lossy().into_owned();
        let role = host.split('-').next().unwrap().to_string();
        let want: &[&str] = match role.as_str() {
            "mbp" => &["eslogger.jsonl", "nettop.csv", "unifiedlog.ndjson"],
            "build" => &["eslogger.jsonl", "nettop.csv"],
            "mini" => &["nettop.csv", "osquery.log", "unifiedlog.ndjson"],
            other => panic!("unknown role prefix {other}"),
        };
        let want: BTreeSet<String> = want.iter().map(|s| s.to_string()).collect();
        assert_eq!(file_names(&d), want, "{host}");
        roles.insert(role);
        let size: u64 = want
            .iter()
            .map(|f| std::fs::metadata(d.join(f)).unwrap().len())
            .sum();
        assert!(size < 15_000_000, "{host}: {size} bytes");
    }
    assert_eq!(roles.len(), 3, "{roles:?}");
    // Activities spread over the day.
    let s = spec();
    let hours: BTreeSet<i64> = labels
        .iter()
        .map(|l| (l.start.0 - s.start.0) / (3_600 * NANOS_PER_SEC))
        .collect();
    assert!(hours.len() >= 18, "{hours:?}");
    assert!(labels.iter().all(|l| l.start >= s.start
        && l.end <= s.start.add_secs(s.duration_s)
        && l.end >= l.start));
}

#[test]
fn labels_round_trip_and_bad_lines_name_their_line() {
    let tmp = tempfile::tempdir().unwrap();
    let t0 = Ts::from_secs(days_from_civil(2025, 9, 16) * 86_400).add_nanos(123_456_789);
    let labels = vec![
        Label {
            host: "mbp-001".into(),
            family: "launchdaemon-curl-loop".into(),
            attack: true,
            should_alert: true,
            subject_pid: Some(4242),
            subject_path: Some("/bin/bash".into()),
            start: t0,
            end: t0.add_secs(45),
            note: "quotes \" and \\ backslash, tab\t, unicode é".into(),
        },
        Label {
            host: "mini-002".into(),
            family: "clock-skew".into(),
            attack: false,
            should_alert: false,
            subject_pid: None,
            subject_path: None,
            start: t0.add_secs(-3_600),
            end: t0.add_secs(80_000),
            note: String::new(),
        },
    ];
    let p = tmp.path().join("labels.jsonl");
    write_labels(&p, &labels).unwrap();
    assert_eq!(read_labels(&p).unwrap(), labels);
    let text = std::fs::read_to_string(&p).unwrap();
    let nanos = Regex::new(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$").unwrap();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let keys: BTreeSet<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            BTreeSet::from([
                "host",
                "family",
                "attack",
                "should_alert",
                "subject_pid",
                "subject_path",
                "start",
                "end",
                "note"
            ])
        );
        assert!(nanos.is_match(v["start"].as_str().unwrap()), "{line}");
        assert!(nanos.is_match(v["end"].as_str().unwrap()), "{line}");
    }
    assert!(text.contains("\"start\":\"2025-09-16T00:00:00.123456789Z\""));
    assert!(text.contains("\"subject_pid\":null,\"subject_path\":null"));

    std::fs::write(
        &p,
        format!("{}\n\n{{\"host\":\"x\"}}\n", text.lines().next().unwrap()),
    )
    .unwrap();
    let e = read_labels(&p).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidData);
    assert!(e.to_string().contains("labels.jsonl:3"), "{e}");
}

#[test]
fn same_seed_same_bytes_and_benign_only_has_no_attack() {
    let tmp = tempfile::tempdir().unwrap();
    let small = FleetSpec {
        hosts: 5,
        seed: 9,
        attack_hosts: 2,
        ..FleetSpec::default()
    };
    let a = write_fleet(&tmp.path().join("a"), &small).unwrap();
    let b = write_fleet(&tmp.path().join("b"), &small).unwrap();
    assert_eq!(a, b);
    assert!(dir_bytes(&tmp.path().join("a")) == dir_bytes(&tmp.path().join("b")));
    assert_eq!(a.iter().filter(|l| l.attack).count(), 2);
    let other = FleetSpec {
        seed: 10,
        ..small.clone()
    };
    write_fleet(&tmp.path().join("c"), &other).unwrap();
    assert!(dir_bytes(&tmp.path().join("a")) != dir_bytes(&tmp.path().join("c")));

    let benign = FleetSpec {
        benign_only: true,
        ..small
    };
    let l = write_fleet(&tmp.path().join("d"), &benign).unwrap();
    assert!(!l.is_empty() && l.iter().all(|l| !l.attack && !l.should_alert));
}

#[test]
fn default_spec_is_a_day_of_fifty_hosts() {
    let s = FleetSpec::default();
    assert_eq!(
        (s.hosts, s.seed, s.duration_s, s.attack_hosts),
        (50, 1, 86_400, 16)
    );
    assert!(!s.benign_only);
    assert_eq!(
        s.start,
        Ts::from_secs(days_from_civil(2025, 9, 16) * 86_400)
    );
}

/// Several days: one folder per host and day in either layout, the same bytes in both; every host on
/// every day (the same hosts, named the same); attacks on the last day only, routine on every day.
#[test]
fn several_days_in_both_layouts() {
    use floodwatch_sim::Layout;
    let tmp = tempfile::tempdir().unwrap();
    let base = FleetSpec {
        hosts: 4,
        seed: 9,
        attack_hosts: 2,
        duration_s: 4 * 3_600,
        start: Ts::from_secs(days_from_civil(2026, 10, 1) * 86_400),
        days: 3,
        ..FleetSpec::default()
    };
    let dates = ["2026-10-01", "2026-10-02", "2026-10-03"];
    let hd = tmp.path().join("hd");
    let dh = tmp.path().join("dh");
    let labels = write_fleet(
        &hd,
        &FleetSpec {
            layout: Layout::HostDate,
            ..base.clone()
        },
    )
    .unwrap();
    let labels_dh = write_fleet(
        &dh,
        &FleetSpec {
            layout: Layout::DateHost,
            ..base.clone()
        },
    )
    .unwrap();
    assert_eq!(labels, labels_dh);
    let hosts: Vec<String> = host_dirs(&hd)
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(hosts.len(), 4);
    for h in &hosts {
        for d in dates {
            let a = hd.join(h).join(d);
            assert!(a.join("nettop.csv").is_file(), "{}", a.display());
            let same = dir_bytes(&a) == dir_bytes(&dh.join(d).join(h));
            assert!(same, "{h} {d}: the layouts differ in content");
        }
    }
    let last_day = Ts::from_secs(days_from_civil(2026, 10, 3) * 86_400);
    let attacks: Vec<&Label> = labels.iter().filter(|l| l.attack).collect();
    assert_eq!(attacks.len(), 2, "{attacks:#?}");
    assert!(attacks.iter().all(|l| l.start >= last_day));
    for h in &hosts {
        for d in 0..3 {
            let from = last_day.add_secs((d - 2) * 86_400);
            assert!(
                labels.iter().any(|l| &l.host == h
                    && !l.attack
                    && l.start >= from
                    && l.start < from.add_secs(86_400)),
                "{h}: no routine on day {d}"
            );
        }
    }
}
