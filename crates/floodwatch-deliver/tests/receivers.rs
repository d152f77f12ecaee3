//! Each transport against a real receiver on loopback, started by the test: UDP, TCP and unix
//! syslog listeners whose messages must parse as RFC 5424 (with the `syslog_rfc5424` parser), and
//! an HTTP receiver that is down, then fails once, then recovers.

use floodwatch_core::alert::Severity;
use floodwatch_core::Ts;
use floodwatch_deliver::syslog::{SyslogConfig, SyslogSink, Transport};
use floodwatch_deliver::webhook::{signature, WebhookConfig, WebhookSink};
use floodwatch_deliver::{Deliver, Finding};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, UdpSocket};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use syslog_rfc5424::{SyslogFacility, SyslogSeverity};

/// A host name and command line an attacker chose: quotes, `]`, a bidi override, a newline.
const HOSTILE_HOST: &str = "mac \"01\"]\u{202e}\n";
const BODY: &str = r#"{"finding_info":{"uid":"a1"},"cmd":"curl \"<script>alert(1)</script>\" ]"}"#;

fn finding<'a>(id: &'a str, body: &'a str) -> Finding<'a> {
    Finding {
        id,
        time: Ts::from_secs(1_757_919_652),
        host: HOSTILE_HOST,
        severity: Severity::High,
        kind: "alert",
        body,
    }
}

fn check_5424(text: &str, id: &str) {
    let m = syslog_rfc5424::parse_message(text).unwrap_or_else(|e| panic!("{e:?}: {text:?}"));
    assert_eq!(m.version, 1);
    assert_eq!(m.facility, SyslogFacility::LOG_LOCAL0);
    assert_eq!(m.severity, SyslogSeverity::SEV_ERR);
    assert_eq!(m.timestamp, Some(1_757_919_652));
    // The header keeps printable ASCII only; the structured data keeps the name, escaped.
    assert_eq!(m.hostname.as_deref(), Some("mac_\"01\"]__"));
    assert_eq!(m.appname.as_deref(), Some("floodwatch"));
    assert_eq!(m.msgid.as_deref(), Some("alert"));
    assert_eq!(
        m.sd.find_tuple("floodwatch@32473", "id")
            .map(|s| s.as_str()),
        Some(id)
    );
    assert_eq!(
        m.sd.find_tuple("floodwatch@32473", "host")
            .map(|s| s.as_str()),
        Some(HOSTILE_HOST)
    );
    assert_eq!(
        m.sd.find_tuple("floodwatch@32473", "severity")
            .map(|s| s.as_str()),
        Some("high")
    );
    assert_eq!(m.msg.trim_start_matches('\u{feff}'), BODY);
}

#[test]
fn syslog_over_udp_parses_as_rfc5424() {
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    rx.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut sink = SyslogSink::new(SyslogConfig::new(Transport::Udp(
        rx.local_addr().unwrap().to_string(),
    )))
    .unwrap();
    for id in ["a1", "a2"] {
        sink.deliver(&finding(id, BODY)).unwrap();
    }
    let mut buf = vec![0u8; 65536];
    for id in ["a1", "a2"] {
        let n = rx.recv(&mut buf).unwrap();
        check_5424(std::str::from_utf8(&buf[..n]).unwrap(), id);
    }
    assert_eq!(sink.stats().delivered, 2);
}

#[test]
fn syslog_over_tcp_is_octet_counted_rfc5424() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let got = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut all = String::new();
        s.read_to_string(&mut all).unwrap();
        all
    });
    let mut sink = SyslogSink::new(SyslogConfig::new(Transport::Tcp(addr))).unwrap();
    for id in ["t1", "t2", "t3"] {
        sink.deliver(&finding(id, BODY)).unwrap();
    }
    drop(sink);
    let all = got.join().unwrap();
    // RFC 6587 octet counting: `LEN SP MSG`, back to back.
    let mut rest = all.as_str();
    let mut ids = Vec::new();
    while !rest.is_empty() {
        let (len, tail) = rest.split_once(' ').unwrap();
        let len: usize = len.parse().unwrap();
        let (msg, tail) = tail.split_at(len);
        let m = syslog_rfc5424::parse_message(msg).unwrap();
        ids.push(m.sd.find_tuple("floodwatch@32473", "id").unwrap().clone());
        check_5424(msg, ids.last().unwrap());
        rest = tail;
    }
    assert_eq!(ids, ["t1", "t2", "t3"]);
}

#[cfg(unix)]
#[test]
fn syslog_over_a_unix_socket_parses_as_rfc5424() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.sock");
    let rx = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
    rx.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut sink = SyslogSink::new(SyslogConfig::new(Transport::Unix(
        path.to_string_lossy().into_owned(),
    )))
    .unwrap();
    sink.deliver(&finding("u1", BODY)).unwrap();
    let mut buf = vec![0u8; 65536];
    let n = rx.recv(&mut buf).unwrap();
    check_5424(std::str::from_utf8(&buf[..n]).unwrap(), "u1");
}

/// What the HTTP receiver saw: (status it answered, delivery id, signature header, body).
type Seen = Arc<Mutex<Vec<(u16, String, String, String)>>>;

/// A minimal HTTP/1.1 receiver on `listener`: answers 503 to its first `fail_first` requests, then
/// 200; one request per connection.
fn receiver(listener: TcpListener, fail_first: usize, seen: Seen) {
    std::thread::spawn(move || {
        for (n, conn) in listener.incoming().enumerate() {
            let Ok(mut conn) = conn else { continue };
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let (mut id, mut sig, mut len) = (String::new(), String::new(), 0usize);
            let mut line = String::new();
            loop {
                line.clear();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                let l = line.trim_end();
                if l.is_empty() {
                    break;
                }
                if let Some((k, v)) = l.split_once(':') {
                    match k.to_ascii_lowercase().as_str() {
                        "x-floodwatch-delivery" => id = v.trim().to_string(),
                        "x-floodwatch-signature" => sig = v.trim().to_string(),
                        "content-length" => len = v.trim().parse().unwrap_or(0),
                        _ => {}
                    }
                }
            }
            let mut body = vec![0u8; len];
            reader.read_exact(&mut body).unwrap();
            let status = if n < fail_first { 503 } else { 200 };
            seen.lock()
                .unwrap()
                .push((status, id, sig, String::from_utf8(body).unwrap()));
            let reason = if status == 200 {
                "OK"
            } else {
                "Service Unavailable"
            };
            let _ = write!(
                conn,
                "HTTP/1.1 {status} {reason}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
        }
    });
}

fn free_port() -> u16 {
    // Bound and released: nothing listens there until the test starts its receiver.
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn config(port: u16, spool: &std::path::Path) -> WebhookConfig {
    let mut cfg = WebhookConfig::new(format!("http://127.0.0.1:{port}/floodwatch"), spool);
    cfg.secret = Some("s3cret".into());
    cfg.timeout = Duration::from_secs(5);
    cfg.backoff_min = Duration::from_millis(100);
    cfg.backoff_max = Duration::from_secs(1);
    cfg
}

fn pump_until(sink: &mut WebhookSink, delivered: u64) {
    let t = Instant::now();
    while sink.stats().delivered < delivered {
        assert!(t.elapsed() < Duration::from_secs(60), "{:?}", sink.stats());
        sink.pump().unwrap();
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn webhook_delivers_each_finding_once_through_a_receiver_down_for_10_s() {
    let spool = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut sink = WebhookSink::new(config(port, spool.path())).unwrap();
    let ids: Vec<String> = (1..=6).map(|i| format!("f{i}")).collect();
    let bodies: Vec<String> = ids
        .iter()
        .map(|id| format!(r#"{{"id":"{id}","cmd":"curl \"x\""}}"#))
        .collect();
    // The receiver is down for the first 10 s: findings come in meanwhile, and wait in the spool.
    let down = Instant::now();
    for (id, body) in ids.iter().zip(&bodies) {
        sink.deliver(&finding(id, body)).unwrap();
        std::thread::sleep(Duration::from_millis(300));
    }
    while down.elapsed() < Duration::from_secs(10) {
        sink.pump().unwrap();
        std::thread::sleep(Duration::from_millis(50));
    }
    let s = sink.stats();
    assert_eq!((s.delivered, s.spooled), (0, 6), "{s:?}");
    assert!(s.failed_attempts >= 2, "{s:?}");
    // Then it comes up, answers 503 once, and 200 after.
    let seen: Seen = Arc::default();
    receiver(
        TcpListener::bind(("127.0.0.1", port)).unwrap(),
        1,
        seen.clone(),
    );
    pump_until(&mut sink, 6);
    let seen = seen.lock().unwrap().clone();
    let accepted: Vec<&str> = seen
        .iter()
        .filter(|(status, ..)| *status == 200)
        .map(|(_, id, ..)| id.as_str())
        .collect();
    // Every finding exactly once, in order; the one that met the 503 was sent again.
    assert_eq!(accepted, ids.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(seen[0].1, "f1");
    assert_eq!(seen[0].0, 503);
    for (_, id, sig, body) in &seen {
        let i = ids.iter().position(|x| x == id).unwrap();
        assert_eq!(body, &bodies[i]);
        assert_eq!(sig, &signature("s3cret", body));
    }
    assert_eq!(sink.stats().spooled, 0);
    assert_eq!(std::fs::read_dir(spool.path()).unwrap().count(), 0);
}

#[test]
fn a_restarted_webhook_sink_sends_what_its_spool_kept() {
    let spool = tempfile::tempdir().unwrap();
    let port = free_port();
    {
        let mut sink = WebhookSink::new(config(port, spool.path())).unwrap();
        for id in ["r1", "r2", "r3"] {
            sink.deliver(&finding(id, BODY)).unwrap();
        }
        assert_eq!(sink.stats().spooled, 3);
        // Dropped as if the agent had died.
    }
    let seen: Seen = Arc::default();
    receiver(
        TcpListener::bind(("127.0.0.1", port)).unwrap(),
        0,
        seen.clone(),
    );
    let mut sink = WebhookSink::new(config(port, spool.path())).unwrap();
    assert_eq!(sink.stats().spooled, 3);
    pump_until(&mut sink, 3);
    let ids: Vec<String> = seen.lock().unwrap().iter().map(|s| s.1.clone()).collect();
    assert_eq!(ids, ["r1", "r2", "r3"]);
}

#[test]
fn a_full_spool_drops_and_counts_instead_of_growing() {
    let spool = tempfile::tempdir().unwrap();
    let mut cfg = config(free_port(), spool.path());
    cfg.spool_max_bytes = 1000;
    let mut sink = WebhookSink::new(cfg).unwrap();
    let body = "x".repeat(200);
    for i in 0..10 {
        sink.deliver(&finding(&format!("o{i}"), &body)).unwrap();
    }
    let s = sink.stats();
    assert_eq!(s.spooled + s.overflowed, 10, "{s:?}");
    assert_eq!(s.spooled, 4, "{s:?}");
    let bytes: u64 = std::fs::read_dir(spool.path())
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    assert!(bytes <= 1000, "{bytes}");
}

#[test]
fn a_receiver_that_refuses_a_finding_for_good_does_not_block_the_rest() {
    let spool = tempfile::tempdir().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // 400 for the first request, 200 after.
    std::thread::spawn(move || {
        for (n, conn) in listener.incoming().enumerate() {
            let Ok(mut conn) = conn else { continue };
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let mut len = 0;
            let mut line = String::new();
            loop {
                line.clear();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim_end().is_empty() {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0u8; len];
            let _ = reader.read_exact(&mut body);
            let status = if n == 0 { "400 Bad Request" } else { "200 OK" };
            let _ = write!(
                conn,
                "HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
        }
    });
    let mut sink = WebhookSink::new(config(port, spool.path())).unwrap();
    for id in ["b1", "b2"] {
        sink.deliver(&finding(id, BODY)).unwrap();
    }
    pump_until(&mut sink, 1);
    let s = sink.stats();
    assert_eq!((s.delivered, s.refused, s.spooled), (1, 1, 0), "{s:?}");
}
