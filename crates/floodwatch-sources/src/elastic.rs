//! Elastic Defend (Endpoint) ECS documents (shared/docs/telemetry-formats.md §7), datasets
//! `endpoint.events.process` and `endpoint.events.network`, as NDJSON or pretty-printed objects
//! (the package's `sample_event.json`). Fields may be nested objects or flat dotted keys
//! (`"process.pid": 1`), or a mix: [`field`] finds either.
//!
//! - process: `exec` (and `start`, the Windows/Linux spelling in the package sample) → Exec, `fork`
//!   → Fork (parent from `process.parent.*`), `end` → Exit (`process.exit_code`),
//!   `already_running` → ProcessSeen.
//! - network with byte counts (`disconnect_received` carries the connection's totals) → Traffic:
//!   the endpoint's side is `source` for an outbound connection and `destination` for an inbound
//!   one (`network.direction` ingress/inbound, or `connection_accepted`), since ECS names the
//!   initiator `source`. The totals arrive at the end of a connection whose start is not given, so
//!   the sample is instantaneous (`start` = `@timestamp`), like a connection summary.
//! - `connection_attempted` without bytes → Connect (`event.outcome` success/failure when given).
//! - Anything else (file, library, DNS lookups, ...) is skipped by dataset/action.
//!
//! Host: `host.hostname` (else `host.name`) unless `--host` forces one.
//!
//! Out of scope: a document from a Windows or Linux host (`host.os.type`, else `.platform`, else
//! `.family`, naming an OS other than macOS) is skipped as "non-macOS host (<os>)" and counted per
//! OS in the file's notes: AN0971 is a macOS analytic, and a Windows process must not be judged as
//! a Mac one (no tty, SIDs for users, other launch chains). A document naming no OS is taken as a
//! Mac's (the macOS package documents `host.os` but older exports may drop it).

use crate::wire::json::{self, cut, host_port, HostNames, Obj};
use crate::{Parsed, RecordParser, Reject, RejectReason, SourceCtx};
use floodwatch_core::event::{Connect, Event, EventKind, ProcInfo, Proto, Signing, Traffic};
use floodwatch_core::time::parse_rfc3339;
use floodwatch_core::Ts;
use serde_json::Value;
use std::sync::Arc;

/// `path` ("process.parent.pid") in `o`, whether stored nested, flat-dotted, or partly each.
pub fn field<'a>(o: &'a Obj, path: &str) -> Option<&'a Value> {
    if let Some(v) = o.get(path) {
        return Some(v);
    }
    let mut rest = path;
    let mut at = 0;
    while let Some(i) = rest.find('.') {
        let head = &path[..at + i];
        if let Some(Value::Object(sub)) = o.get(head) {
            if let Some(v) = field(sub, &path[at + i + 1..]) {
                return Some(v);
            }
        }
        at += i + 1;
        rest = &path[at..];
    }
    None
}

fn text<'a>(o: &'a Obj, path: &str) -> Option<&'a str> {
    // ECS keyword fields may be arrays (`event.category: ["process"]`): the first element.
    match field(o, path)? {
        Value::String(s) => Some(s.as_str()),
        Value::Array(a) => a.first()?.as_str(),
        _ => None,
    }
    .filter(|s| !s.is_empty())
}

fn has_text(o: &Obj, path: &str, want: &str) -> bool {
    match field(o, path) {
        Some(Value::String(s)) => s == want,
        Some(Value::Array(a)) => a.iter().any(|v| v.as_str() == Some(want)),
        _ => false,
    }
}

fn int(o: &Obj, path: &str) -> Option<i64> {
    match field(o, path)? {
        Value::Number(n) => n.as_i64().or_else(|| n.as_u64().map(|u| u as i64)),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn pid(o: &Obj, path: &str) -> Option<i32> {
    int(o, path).and_then(|v| i32::try_from(v).ok())
}

fn count(o: &Obj, path: &str) -> Option<u64> {
    int(o, path).and_then(|v| u64::try_from(v).ok())
}

/// `process.*` (or `process.parent.*` with `prefix` "process.parent") as a process image.
fn proc_info(o: &Obj, prefix: &str, pid_value: i32) -> ProcInfo {
    let f = |k: &str| format!("{prefix}.{k}");
    let args = field(o, &f("args"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect::<Vec<_>>()
        })
        .filter(|a| !a.is_empty())
        // Without `args`, the command line split on spaces is the best argv there is.
        .or_else(|| {
            text(o, &f("command_line")).map(|c| c.split_whitespace().map(str::to_string).collect())
        });
    ProcInfo {
        pid: pid_value,
        path: text(o, &f("executable")).map(Arc::from),
        args: args.map(Arc::from),
        cwd: text(o, &f("working_directory")).map(Arc::from),
        signing: Signing {
            signing_id: text(o, &f("code_signature.signing_id")).map(Arc::from),
            team_id: text(o, &f("code_signature.team_id")).map(Arc::from),
            platform_binary: None,
            cs_flags: None,
        },
        ..ProcInfo::default()
    }
}

fn proto_of(transport: Option<&str>) -> Proto {
    match transport.map(str::to_ascii_lowercase).as_deref() {
        Some("tcp") => Proto::Tcp,
        Some("udp") => Proto::Udp,
        Some("icmp" | "ipv6-icmp" | "icmpv6") => Proto::Icmp,
        Some(_) => Proto::Other,
        None => Proto::Unknown,
    }
}

fn endpoint(o: &Obj, side: &str) -> Option<String> {
    let host = text(o, &format!("{side}.ip")).or_else(|| text(o, &format!("{side}.address")))?;
    Some(host_port(host, int(o, &format!("{side}.port"))))
}

/// The host's OS as the document names it, when that is not macOS.
fn foreign_os(o: &Obj) -> Option<String> {
    let os = text(o, "host.os.type")
        .or_else(|| text(o, "host.os.platform"))
        .or_else(|| text(o, "host.os.family"))?
        .to_ascii_lowercase();
    let mac = matches!(
        os.as_str(),
        "macos" | "darwin" | "macosx" | "mac os x" | "osx"
    );
    (!mac).then(|| cut(&os))
}

/// Distinct foreign OS names counted for the notes; others are added to the last one's count.
const MAX_FOREIGN_OS: usize = 8;

pub struct ElasticParser {
    ctx: SourceCtx,
    hosts: HostNames,
    /// Documents skipped as from a non-macOS host, per OS name.
    foreign: Vec<(String, u64)>,
}

impl ElasticParser {
    pub fn new(ctx: SourceCtx) -> Self {
        ElasticParser {
            ctx,
            hosts: HostNames::default(),
            foreign: Vec::new(),
        }
    }

    fn process(&self, o: &Obj, action: &str) -> Result<Option<EventKind>, Reject> {
        let pid_value = pid(o, "process.pid")
            .ok_or_else(|| Reject::new(RejectReason::MissingField, "process.pid"))?;
        let mut p = proc_info(o, "process", pid_value);
        p.ppid = pid(o, "process.parent.pid");
        p.username = text(o, "user.name").map(str::to_string);
        // macOS/Linux user ids are numbers; a Windows SID is not a uid.
        p.uid = text(o, "user.id").and_then(|u| u.parse().ok());
        Ok(Some(match action {
            "exec" | "start" => EventKind::Exec {
                instigator: None,
                target: Box::new(p),
            },
            "fork" => {
                let ppid = p
                    .ppid
                    .ok_or_else(|| Reject::new(RejectReason::MissingField, "process.parent.pid"))?;
                let mut parent = proc_info(o, "process.parent", ppid);
                parent.uid = p.uid;
                parent.username = p.username.clone();
                EventKind::Fork {
                    parent: Box::new(parent),
                    child: Box::new(p),
                }
            }
            "end" => {
                let status = int(o, "process.exit_code").and_then(|c| i32::try_from(c).ok());
                EventKind::Exit {
                    process: Box::new(p),
                    status,
                }
            }
            "already_running" => EventKind::ProcessSeen(Box::new(p)),
            _ => return Ok(None),
        }))
    }

    fn network(&self, o: &Obj, action: &str, ts: Ts) -> Result<Option<EventKind>, Reject> {
        let pid = pid(o, "process.pid");
        let proto = proto_of(text(o, "network.transport"));
        let inbound = action == "connection_accepted"
            || matches!(
                text(o, "network.direction"),
                Some("ingress" | "inbound" | "incoming")
            );
        let (us, them) = if inbound {
            ("destination", "source")
        } else {
            ("source", "destination")
        };
        let bytes_out = count(o, &format!("{us}.bytes"));
        let bytes_in = count(o, &format!("{them}.bytes"));
        let uid = text(o, "user.id").and_then(|u| u.parse().ok());
        let path = text(o, "process.executable").map(str::to_string);
        if bytes_out.is_none() && bytes_in.is_none() {
            if action != "connection_attempted" {
                return Ok(None);
            }
            let success = match text(o, "event.outcome") {
                Some("success") => Some(true),
                Some("failure") => Some(false),
                _ => None,
            };
            return Ok(Some(EventKind::Connect(Box::new(Connect {
                pid,
                process_path: path,
                uid,
                proto,
                remote: endpoint(o, them),
                success,
                invalid_utf8: false,
            }))));
        }
        Ok(Some(EventKind::Traffic(Box::new(Traffic {
            pid,
            process_name: text(o, "process.name").map(Arc::from),
            process_path: path,
            uid,
            start: ts,
            proto,
            remote: endpoint(o, them).map(Arc::from),
            bytes_out: bytes_out.unwrap_or(0),
            bytes_in: bytes_in.unwrap_or(0),
            packets_out: count(o, &format!("{us}.packets")),
            packets_in: count(o, &format!("{them}.packets")),
            new_connections: u32::from(action == "connection_attempted"),
            local: text(o, &format!("{us}.ip")).map(str::to_string),
            syn_out: None,
            answers_out: 0,
            invalid_utf8: false,
        }))))
    }
}

impl RecordParser for ElasticParser {
    fn parse(&mut self, record: &str, line: u64, out: &mut Vec<Event>) -> Result<Parsed, Reject> {
        let o = &json::object(record)?;
        if let Some(os) = foreign_os(o) {
            let why = format!("non-macOS host ({os})");
            let full = self.foreign.len() >= MAX_FOREIGN_OS;
            match self.foreign.iter().position(|(n, _)| *n == os) {
                Some(i) => self.foreign[i].1 += 1,
                None if !full => self.foreign.push((os, 1)),
                None => {
                    if let Some((_, n)) = self.foreign.last_mut() {
                        *n += 1;
                    }
                }
            }
            return Ok(Parsed::Skipped(why.into()));
        }
        let stamp = text(o, "@timestamp")
            .ok_or_else(|| Reject::new(RejectReason::MissingField, "@timestamp"))?;
        let ts = parse_rfc3339(stamp).ok_or_else(|| {
            Reject::new(RejectReason::BadTimestamp, format!("@timestamp {stamp:?}"))
        })?;
        let dataset = text(o, "event.dataset")
            .or_else(|| text(o, "data_stream.dataset"))
            .unwrap_or("");
        let action = text(o, "event.action").unwrap_or("");
        let is = |cat: &str| {
            has_text(o, "event.category", cat) || dataset == format!("endpoint.events.{cat}")
        };
        let kind = if is("process") {
            self.process(o, action)?
        } else if is("network") {
            self.network(o, action, ts)?
        } else {
            return Ok(Parsed::Skipped(
                format!("Elastic dataset {}", cut(dataset)).into(),
            ));
        };
        let Some(kind) = kind else {
            return Ok(Parsed::Skipped(
                format!("Elastic {} action {}", cut(dataset), cut(action)).into(),
            ));
        };
        let own = text(o, "host.hostname").or_else(|| text(o, "host.name"));
        let host = self.hosts.get(&self.ctx, own);
        out.push(self.ctx.event_on(host, ts, line, kind));
        Ok(Parsed::Events)
    }

    fn notes(&self) -> Vec<String> {
        if self.foreign.is_empty() {
            return Vec::new();
        }
        let total: u64 = self.foreign.iter().map(|(_, n)| n).sum();
        let per: Vec<String> = self
            .foreign
            .iter()
            .map(|(os, n)| format!("{os} {n}"))
            .collect();
        vec![format!(
            "{total} Elastic Defend document{} from non-macOS hosts ({}): out of scope for \
             AN0971, a macOS analytic, so not judged as Mac processes",
            if total == 1 { "" } else { "s" },
            per.join(", ")
        )]
    }
}

#[cfg(test)]
mod tests {
    use super::field;
    use crate::testutil::{self, ctx, read_all};
    use crate::{sniff, Format, Sniffed};
    use floodwatch_core::event::{EventKind, Proto};

    fn corpus(name: &str) -> Vec<u8> {
        testutil::corpus(&format!("elastic_defend/{name}"))
    }

    /// The document with its `host.os` relabelled macOS (a derived document): the package's only
    /// real samples are from a Windows host, and they still show how nested fields are read.
    fn as_mac(data: &[u8]) -> Vec<u8> {
        String::from_utf8(data.to_vec())
            .unwrap()
            .replace("\"family\": \"windows\"", "\"family\": \"macos\"")
            .replace("\"type\": \"windows\"", "\"type\": \"macos\"")
            .replace("\"platform\": \"windows\"", "\"platform\": \"macos\"")
            .into_bytes()
    }

    /// Real documents from Windows (the package's samples) and Linux (ECS RFC 0030's real exec
    /// event) hosts are out of scope: skipped per file with the OS named, and noted, never events.
    #[test]
    fn real_windows_and_linux_documents_are_out_of_scope() {
        let mut all = Vec::new();
        for f in [
            "endpointpkg_process_sample_event.json",
            "endpointpkg_network_sample_event.json",
            "ecs_rfc0030_linux_exec_event.json",
        ] {
            let data = corpus(f);
            assert_eq!(
                sniff(&data),
                Sniffed::Telemetry(Format::ElasticDefend),
                "{f}"
            );
            all.extend(data);
            all.push(b'\n');
        }
        let (ev, st) = read_all(&all, Format::ElasticDefend, ctx("w.json"));
        assert!(ev.is_empty());
        assert_eq!((st.records, st.skipped, st.rejected), (3, 3, 0));
        assert_eq!(
            st.reasons().get("skipped: non-macOS host (windows)"),
            Some(&2)
        );
        assert_eq!(
            st.reasons().get("skipped: non-macOS host (linux)"),
            Some(&1)
        );
        assert_eq!(
            st.notes,
            ["3 Elastic Defend documents from non-macOS hosts (windows 2, linux 1): out of scope \
              for AN0971, a macOS analytic, so not judged as Mac processes"]
        );
        // A macOS host (and one naming no OS) is read.
        let (ev, _) = read_all(MACOS.as_bytes(), Format::ElasticDefend, ctx("m"));
        assert!(!ev.is_empty());
    }

    #[test]
    fn real_package_samples_nested_and_pretty_printed() {
        let data = as_mac(&corpus("endpointpkg_process_sample_event.json"));
        assert_eq!(sniff(&data), Sniffed::Telemetry(Format::ElasticDefend));
        let (ev, st) = read_all(&data, Format::ElasticDefend, ctx("p.json"));
        assert_eq!((st.records, st.events, st.rejected), (1, 1, 0));
        let EventKind::Exec { target, .. } = &ev[0].kind else {
            panic!("{}", ev[0].kind.name())
        };
        assert_eq!((target.pid, target.ppid), (2772, Some(600)));
        assert_eq!(
            target.path.as_deref(),
            Some("C:\\Windows\\System32\\svchost.exe")
        );
        assert_eq!(
            target.args.as_ref().map(|a| a.join(" ")).as_deref(),
            Some("C:\\Windows\\System32\\svchost.exe -k WerSvcGroup")
        );
        assert_eq!(target.username.as_deref(), Some("SYSTEM"));
        assert_eq!(target.uid, None, "a SID is not a uid");
        assert_eq!(&*ev[0].host, "data-viz-win-1");
        assert_eq!(ev[0].ts.0, 1_649_098_388_657_898_600);

        let data = as_mac(&corpus("endpointpkg_network_sample_event.json"));
        assert_eq!(sniff(&data), Sniffed::Telemetry(Format::ElasticDefend));
        let (ev, st) = read_all(&data, Format::ElasticDefend, ctx("n.json"));
        assert_eq!((st.records, st.events, st.rejected), (1, 1, 0));
        let EventKind::Traffic(t) = &ev[0].kind else {
            panic!()
        };
        assert_eq!(t.pid, Some(580));
        assert_eq!(t.proto, Proto::Tcp);
        assert_eq!(t.remote.as_deref(), Some("64.233.191.95:443"));
        assert_eq!((t.bytes_out, t.bytes_in), (498, 4923));
        assert_eq!(t.local.as_deref(), Some("10.201.0.32"));
        assert_eq!(t.process_name.as_deref(), Some("GCEWindowsAgent.exe"));
        assert_eq!(t.new_connections, 0);
    }

    /// Synthetic macOS documents in the documented field set (no real macOS document is public):
    /// nested exec, flat-dotted fork, end, a connection attempt without bytes, an inbound
    /// connection with bytes, a file event, a broken line and a document without a pid.
    const MACOS: &str = concat!(
        r#"{"@timestamp":"2025-09-15T07:00:00.123456Z","event":{"dataset":"endpoint.events.process","category":["process"],"action":"exec","type":["start"]},"host":{"hostname":"mac-01","os":{"type":"macos"}},"process":{"pid":4242,"parent":{"pid":4200},"executable":"/sbin/ping","args":["ping","-f","198.51.100.7"],"command_line":"ping -f 198.51.100.7","code_signature":{"signing_id":"com.apple.ping","team_id":""}},"user":{"name":"alice","id":"501"}}"#,
        "\n",
        r#"{"@timestamp":"2025-09-15T07:00:00.100Z","event.dataset":"endpoint.events.process","event.category":"process","event.action":"fork","host.hostname":"mac-01","process.pid":4242,"process.parent.pid":4200,"process.parent.executable":"/bin/zsh","process.executable":"/bin/zsh","user.id":"501"}"#,
        "\n",
        r#"{"@timestamp":"2025-09-15T07:00:09Z","data_stream":{"dataset":"endpoint.events.process"},"event":{"action":"end","category":"process"},"process":{"pid":4242,"exit_code":2}}"#,
        "\n",
        r#"{"@timestamp":"2025-09-15T07:00:01Z","data_stream.dataset":"endpoint.events.network","event":{"category":["network"],"action":"connection_attempted","outcome":"success"},"network":{"transport":"udp","direction":"egress"},"source":{"ip":"10.0.0.5","port":50000},"destination":{"ip":"2001:db8::7","port":53},"process":{"pid":777,"executable":"/usr/bin/python3"},"user":{"id":"501"}}"#,
        "\n",
        r#"{"@timestamp":"2025-09-15T07:00:02Z","event":{"dataset":"endpoint.events.network","category":"network","action":"connection_accepted"},"network":{"transport":"tcp","direction":"ingress"},"source":{"ip":"203.0.113.9","port":40000,"bytes":100,"packets":3},"destination":{"ip":"10.0.0.5","port":22,"bytes":9000,"packets":9},"process":{"pid":88,"name":"sshd"}}"#,
        "\n",
        r#"{"@timestamp":"2025-09-15T07:00:03Z","event":{"dataset":"endpoint.events.file","category":["file"],"action":"creation"}}"#,
        "\n",
        r#"{"@timestamp":"2025-09-15T07:00:04Z","event":{"dataset":"endpoint.events.process","#,
        "\n",
        r#"{"@timestamp":"2025-09-15T07:00:05Z","event":{"dataset":"endpoint.events.process","action":"exec"},"process":{"executable":"/bin/ls"}}"#,
        "\n",
    );

    #[test]
    fn synthetic_macos_ndjson_flat_and_nested() {
        assert_eq!(
            sniff(MACOS.as_bytes()),
            Sniffed::Telemetry(Format::ElasticDefend)
        );
        let (ev, st) = read_all(MACOS.as_bytes(), Format::ElasticDefend, ctx("m.ndjson"));
        assert_eq!(
            (st.records, st.events, st.skipped, st.rejected),
            (8, 5, 1, 2)
        );
        let kinds: Vec<&str> = ev.iter().map(|e| e.kind.name()).collect();
        assert_eq!(kinds, ["exec", "fork", "exit", "connect", "traffic"]);
        let EventKind::Exec { target, .. } = &ev[0].kind else {
            panic!()
        };
        assert_eq!(
            (target.pid, target.ppid, target.uid),
            (4242, Some(4200), Some(501))
        );
        assert_eq!(target.signing.signing_id.as_deref(), Some("com.apple.ping"));
        assert_eq!(target.signing.team_id, None);
        assert_eq!(target.args.as_ref().unwrap().len(), 3);
        assert_eq!(ev[0].ts.0, 1_757_919_600_123_456_000);
        let EventKind::Fork { parent, child } = &ev[1].kind else {
            panic!()
        };
        assert_eq!((parent.pid, child.pid), (4200, 4242));
        assert_eq!(parent.path.as_deref(), Some("/bin/zsh"));
        let EventKind::Exit { status, .. } = &ev[2].kind else {
            panic!()
        };
        assert_eq!(*status, Some(2));
        assert_eq!(&*ev[2].host, "testhost", "no host in the document");
        let EventKind::Connect(c) = &ev[3].kind else {
            panic!()
        };
        assert_eq!(
            (c.pid, c.proto, c.success),
            (Some(777), Proto::Udp, Some(true))
        );
        assert_eq!(c.remote.as_deref(), Some("[2001:db8::7]:53"));
        // Inbound: the endpoint is the destination, its bytes out are destination.bytes.
        let EventKind::Traffic(t) = &ev[4].kind else {
            panic!()
        };
        assert_eq!((t.bytes_out, t.bytes_in), (9000, 100));
        assert_eq!((t.packets_out, t.packets_in), (Some(9), Some(3)));
        assert_eq!(t.remote.as_deref(), Some("203.0.113.9:40000"));
        assert_eq!(t.local.as_deref(), Some("10.0.0.5"));
        let rejects: Vec<(u64, &str)> = st
            .samples
            .iter()
            .map(|s| (s.line, s.reason.as_str()))
            .collect();
        assert_eq!(rejects, [(7, "invalid JSON"), (8, "missing field")]);
        assert_eq!(
            st.reasons()
                .get("skipped: Elastic dataset endpoint.events.file"),
            Some(&1)
        );
    }

    #[test]
    fn field_finds_nested_flat_and_mixed() {
        let v: serde_json::Value =
            serde_json::from_str(r#"{"a":{"b.c":1,"x":{"y":2}},"a.x.z":3,"p.q":{"r":4}}"#).unwrap();
        let o = v.as_object().unwrap();
        assert_eq!(field(o, "a.b.c").and_then(|v| v.as_i64()), Some(1));
        assert_eq!(field(o, "a.x.y").and_then(|v| v.as_i64()), Some(2));
        assert_eq!(field(o, "a.x.z").and_then(|v| v.as_i64()), Some(3));
        assert_eq!(field(o, "p.q.r").and_then(|v| v.as_i64()), Some(4));
        assert_eq!(field(o, "a.q"), None);
    }
}
