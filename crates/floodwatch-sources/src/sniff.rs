//! Format detection from content (shared/docs/telemetry-formats.md §8), never from the file name.

use crate::Format;
use serde_json::{Map, Value};

/// How many bytes of a file's head are looked at.
pub const HEAD_BYTES: usize = 256 * 1024;

#[derive(Debug, PartialEq, Eq)]
pub enum Sniffed {
    Telemetry(Format),
    /// Recognized but not read by this version, or not telemetry at all: listed as skipped, not fatal.
    NotTelemetry(String),
}

pub fn sniff(head: &[u8]) -> Sniffed {
    use Sniffed::*;
    if head.is_empty() {
        return NotTelemetry("empty file".into());
    }
    // Captures by magic number (§8 step 1): pcapng's section header, then pcap in either byte
    // order with microsecond or nanosecond timestamps.
    if head.starts_with(&[0x0A, 0x0D, 0x0D, 0x0A]) {
        return Telemetry(Format::Pcapng);
    }
    match head.get(..4) {
        Some([0xD4, 0xC3, 0xB2, 0xA1] | [0xA1, 0xB2, 0xC3, 0xD4])
        | Some([0x4D, 0x3C, 0xB2, 0xA1] | [0xA1, 0xB2, 0x3C, 0x4D]) => {
            return Telemetry(Format::Pcap)
        }
        Some([0x34, 0xCD, 0xB2, 0xA1] | [0xA1, 0xB2, 0xCD, 0x34]) => {
            return NotTelemetry("modified (Kuznetzov) pcap capture (not read)".into())
        }
        _ => {}
    }
    // A bad line inside good telemetry must not make the whole file unrecognizable: decode lossily and
    // call it binary only when it has NUL bytes or is mostly not text.
    if head.contains(&0) {
        return NotTelemetry("binary (NUL bytes)".into());
    }
    let lossy = String::from_utf8_lossy(head);
    let replaced = lossy
        .chars()
        .filter(|c| *c == char::REPLACEMENT_CHARACTER)
        .count();
    if replaced * 10 > lossy.chars().count().max(1) {
        return NotTelemetry("binary or not UTF-8 text".into());
    }
    let text: &str = &lossy;
    let trimmed = text.trim_start();
    // Zeek TSV: `#separator` first (btest baselines put a `###` comment before it); conn logs only.
    let zeek_head = trimmed.starts_with("#separator")
        || (trimmed.starts_with("###") && trimmed.contains("\n#separator"));
    if zeek_head {
        return if text.contains("#path\tconn") {
            Telemetry(Format::ZeekTsv)
        } else {
            NotTelemetry("Zeek TSV log other than conn.log (not read by this version)".into())
        };
    }
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let Some(mut first) = lines.next() else {
        return NotTelemetry("blank file".into());
    };
    // `log stream` prints a preamble before its output.
    if first.starts_with("Filtering the log data") {
        match lines.next() {
            Some(l) => first = l,
            None => return NotTelemetry("unified log preamble without records".into()),
        }
    }
    let first_trim = first.trim_start();
    if first_trim.starts_with('[') {
        let after = &text[text.find('[').unwrap_or(0)..];
        if after.contains("\"eventMessage\"") || after.contains("\"eventType\"") {
            return Telemetry(Format::UnifiedLogJson);
        }
        return NotTelemetry("JSON array without unified log keys".into());
    }
    if let Some(f) = sniff_nettop_header(first) {
        return Telemetry(f);
    }
    if first_trim.starts_with('{') {
        return sniff_json_line(first, text);
    }
    NotTelemetry(format!(
        "unrecognized text (first line starts {:?})",
        first.chars().take(40).collect::<String>()
    ))
}

/// nettop headers: CSV `time,,interface,...` / `,bytes_in,bytes_out,`; fixed width `... bytes_in   bytes_out`.
pub fn sniff_nettop_header(line: &str) -> Option<Format> {
    if line.contains("bytes_in") && line.contains("bytes_out") {
        if line.contains(',') {
            let mut fields = line.split(',');
            let f0 = fields.next().unwrap_or("");
            let f1 = fields.next().unwrap_or("x");
            if f0 == "time" && f1.is_empty() || f0.is_empty() {
                return Some(Format::NettopCsv);
            }
        } else if line.contains("  ") {
            return Some(Format::NettopFixed);
        }
    }
    None
}

fn has(m: &Map<String, Value>, k: &str) -> bool {
    m.contains_key(k)
}

fn classify(m: &Map<String, Value>) -> Option<Format> {
    if has(m, "schema_version")
        && has(m, "event_type")
        && has(m, "event")
        && (has(m, "global_seq_num") || has(m, "mach_time"))
    {
        return Some(Format::Eslogger);
    }
    if (has(m, "eventMessage") || has(m, "eventType"))
        && (has(m, "processImagePath") || has(m, "subsystem"))
        && has(m, "timestamp")
    {
        return Some(Format::UnifiedLogNdjson);
    }
    if has(m, "name")
        && (has(m, "hostIdentifier") || has(m, "hostname"))
        && has(m, "calendarTime")
        && (has(m, "columns") || has(m, "snapshot") || has(m, "diffResults"))
    {
        return Some(Format::Osquery);
    }
    None
}

/// Jamf Protect: telemetry `header.event_name` `AUE_*`; alerts `eventType` `GP*` with `match`,
/// bare or wrapped in `input` (§8 comes to these after Zeek).
fn is_jamf(m: &Map<String, Value>) -> bool {
    let aue = m
        .get("header")
        .and_then(|h| h.get("event_name"))
        .and_then(Value::as_str)
        .is_some_and(|n| n.starts_with("AUE_"));
    let alert = |m: &Map<String, Value>| {
        m.get("eventType")
            .and_then(Value::as_str)
            .is_some_and(|t| t.starts_with("GP"))
            && has(m, "match")
    };
    aue || alert(m) || m.get("input").and_then(Value::as_object).is_some_and(alert)
}

/// Elastic Defend: `@timestamp` and an `endpoint.events.*` dataset (`event.dataset` or
/// `data_stream.dataset`, nested or flat-dotted).
fn is_elastic(m: &Map<String, Value>) -> bool {
    let endpoint = |k: &str| {
        crate::elastic::field(m, k)
            .and_then(Value::as_str)
            .is_some_and(|d| d.starts_with("endpoint.events."))
    };
    has(m, "@timestamp") && (endpoint("event.dataset") || endpoint("data_stream.dataset"))
}

/// A JSON object of a kind that is not classified from a single line's keys alone.
fn classify_other(m: &Map<String, Value>) -> Sniffed {
    if has(m, "uid") && has(m, "id.orig_h") && has(m, "proto") {
        Sniffed::Telemetry(Format::ZeekJson)
    } else if has(m, "uid") && has(m, "id.orig_h") {
        Sniffed::NotTelemetry("Zeek JSON log other than conn.log (not read by this version)".into())
    } else if is_jamf(m) {
        Sniffed::Telemetry(Format::JamfProtect)
    } else if is_elastic(m) {
        Sniffed::Telemetry(Format::ElasticDefend)
    } else {
        let keys: Vec<&str> = m.keys().take(6).map(String::as_str).collect();
        Sniffed::NotTelemetry(format!("JSON lines of an unknown kind (keys {keys:?})"))
    }
}

fn sniff_json_line(first: &str, head: &str) -> Sniffed {
    // Try the first few complete lines: the first one may be truncated or garbage.
    let complete: Vec<&str> = if head.ends_with('\n') {
        head.lines().collect()
    } else {
        let mut v: Vec<&str> = head.lines().collect();
        v.pop();
        v
    };
    for line in complete.iter().filter(|l| !l.trim().is_empty()).take(20) {
        if let Ok(Value::Object(m)) = serde_json::from_str::<Value>(line) {
            return match classify(&m) {
                Some(f) => Sniffed::Telemetry(f),
                None => classify_other(&m),
            };
        }
    }
    // Pretty-printed objects (Jamf samples, Elastic's sample events) span lines: read the first
    // JSON value of the head as a stream.
    if let Some(Ok(Value::Object(m))) = serde_json::Deserializer::from_str(head)
        .into_iter::<Value>()
        .next()
    {
        if let Some(f) = classify(&m) {
            return Sniffed::Telemetry(f);
        }
        if let s @ Sniffed::Telemetry(_) = classify_other(&m) {
            return s;
        }
    }
    // No complete parsable line within the head (a very long first record): decide on key names.
    let probe = first;
    let k = |s: &str| probe.contains(&format!("\"{s}\""));
    if k("schema_version") && k("event_type") && k("event") {
        return Sniffed::Telemetry(Format::Eslogger);
    }
    if k("eventMessage") && k("timestamp") {
        return Sniffed::Telemetry(Format::UnifiedLogNdjson);
    }
    if k("hostIdentifier") && k("calendarTime") {
        return Sniffed::Telemetry(Format::Osquery);
    }
    // A first object larger than the head: decide on the head's key names.
    let h = |s: &str| head.contains(s);
    if h("\"event_name\"") && h("\"AUE_") {
        return Sniffed::Telemetry(Format::JamfProtect);
    }
    if h("\"@timestamp\"") && h("\"endpoint.events.") {
        return Sniffed::Telemetry(Format::ElasticDefend);
    }
    Sniffed::NotTelemetry("JSON without a recognizable first record".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_every_real_sample_from_content() {
        let corpus = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/corpus");
        let cases = [
            (
                "eslogger/mullvad_eslogger_v9_v10_v11.ndjson",
                Format::Eslogger,
            ),
            (
                "eslogger/macmonitor_fixture_eslogger-exit_v10_sanitized.jsonl",
                Format::Eslogger,
            ),
            (
                "nettop/netglass_nettop_L1_J_conn_rows_macos26.csv",
                Format::NettopCsv,
            ),
            (
                "nettop/whichway_nettop_P_x_l2_fixedwidth.txt",
                Format::NettopFixed,
            ),
            (
                "unifiedlog/elastic_macos_network_activity.ndjson",
                Format::UnifiedLogNdjson,
            ),
            (
                "unifiedlog/elastic_macos_authentication_loginwindow.ndjson",
                Format::UnifiedLogNdjson,
            ),
            (
                "unifiedlog/elastic_macos_process_execution_monitoring.ndjson",
                Format::UnifiedLogNdjson,
            ),
            (
                "osquery/elastic_test-osquery_first3lines.ndjson",
                Format::Osquery,
            ),
        ];
        for (file, want) in cases {
            let data = std::fs::read(format!("{corpus}/{file}")).unwrap();
            assert_eq!(sniff(&data), Sniffed::Telemetry(want), "{file}");
        }
    }

    #[test]
    fn captures_by_magic_number_not_name() {
        let pcapng = [
            0x0A, 0x0D, 0x0D, 0x0A, 0x1C, 0, 0, 0, 0x4D, 0x3C, 0x2B, 0x1A,
        ];
        assert_eq!(sniff(&pcapng), Sniffed::Telemetry(Format::Pcapng));
        for magic in [
            [0xD4, 0xC3, 0xB2, 0xA1],
            [0xA1, 0xB2, 0xC3, 0xD4],
            [0x4D, 0x3C, 0xB2, 0xA1],
            [0xA1, 0xB2, 0x3C, 0x4D],
        ] {
            let mut head = magic.to_vec();
            head.extend([2, 0, 4, 0, 0, 0, 0, 0]);
            assert_eq!(sniff(&head), Sniffed::Telemetry(Format::Pcap), "{magic:x?}");
        }
        assert!(matches!(
            sniff(&[0x34, 0xCD, 0xB2, 0xA1, 2, 0]),
            Sniffed::NotTelemetry(_)
        ));
        let corpus = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/corpus");
        let real = std::fs::read(format!("{corpus}/pcap/CIC-DDoS-2019-SynFlood.pcap")).unwrap();
        assert_eq!(sniff(&real[..HEAD_BYTES]), Sniffed::Telemetry(Format::Pcap));
    }

    #[test]
    fn jamf_and_elastic_from_content_pretty_or_one_per_line() {
        let jamf_line =
            r#"{"header":{"event_name":"AUE_EXECVE","time_seconds_epoch":1},"subject":{}}"#;
        assert_eq!(
            sniff(jamf_line.as_bytes()),
            Sniffed::Telemetry(Format::JamfProtect)
        );
        let pretty =
            "{\n  \"subject\": {},\n  \"header\": {\n    \"event_name\": \"AUE_FORK\"\n  }\n}";
        assert_eq!(
            sniff(pretty.as_bytes()),
            Sniffed::Telemetry(Format::JamfProtect)
        );
        let alert = r#"{"eventType":"GPProcessEvent","match":{},"related":{}}"#;
        assert_eq!(
            sniff(alert.as_bytes()),
            Sniffed::Telemetry(Format::JamfProtect)
        );
        let wrapped = r#"{"caid":"x","input":{"eventType":"GPUnifiedLogEvent","match":{}}}"#;
        assert_eq!(
            sniff(wrapped.as_bytes()),
            Sniffed::Telemetry(Format::JamfProtect)
        );
        let flat =
            r#"{"@timestamp":"2025-01-01T00:00:00Z","event.dataset":"endpoint.events.process"}"#;
        assert_eq!(
            sniff(flat.as_bytes()),
            Sniffed::Telemetry(Format::ElasticDefend)
        );
        let nested = r#"{"@timestamp":"2025-01-01T00:00:00Z","data_stream":{"dataset":"endpoint.events.network"}}"#;
        assert_eq!(
            sniff(nested.as_bytes()),
            Sniffed::Telemetry(Format::ElasticDefend)
        );
        // Other ECS data (not Elastic Defend) and a header-less AUE-ish object are not these.
        let other = r#"{"@timestamp":"2025-01-01T00:00:00Z","event":{"dataset":"system.auth"}}"#;
        assert!(matches!(sniff(other.as_bytes()), Sniffed::NotTelemetry(_)));
        let not_aue = r#"{"header":{"event_name":"EXECVE"}}"#;
        assert!(matches!(
            sniff(not_aue.as_bytes()),
            Sniffed::NotTelemetry(_)
        ));
    }

    #[test]
    fn non_telemetry_is_named_not_fatal() {
        assert!(matches!(sniff(b""), Sniffed::NotTelemetry(_)));
        assert!(matches!(sniff(b"hello world\n"), Sniffed::NotTelemetry(_)));
        assert!(matches!(sniff(b"{\"a\":1}\n"), Sniffed::NotTelemetry(_)));
        assert!(matches!(sniff(b"\x0A\x0D\x0D"), Sniffed::NotTelemetry(_)));
        assert!(matches!(
            sniff(b"#separator \\x09\n#fields\tts\n"),
            Sniffed::NotTelemetry(_)
        ));
        assert_eq!(
            sniff(b"Filtering the log data using \"x\"\n[{\n \"eventMessage\" : \"m\"\n}]\n"),
            Sniffed::Telemetry(Format::UnifiedLogJson)
        );
        assert_eq!(
            sniff(b",bytes_in,bytes_out,\n"),
            Sniffed::Telemetry(Format::NettopCsv)
        );
    }
}
