//! RFC 5424 syslog: one message per finding, over UDP (RFC 5426), TCP with octet counting
//! (RFC 6587 §3.4.1) or a unix datagram socket (`/var/run/syslog` on macOS, `/dev/log` on Linux).
//!
//! `<PRI>1 TIMESTAMP HOSTNAME floodwatch PROCID MSGID [SD-ID id="…" severity="…" host="…"] BOM{json}`
//!
//! The host name comes from telemetry (an attacker may have chosen it): the header field keeps only
//! printable ASCII (anything else becomes `_`), and structured-data values escape `"`, `\` and `]`
//! as RFC 5424 §6.3.3 says. Syslog has no acknowledgement: a message the transport refuses is
//! counted as dropped; the webhook and file sinks are the ones that never lose a finding.

use crate::{Deliver, DeliverError, DeliverStats, Finding};
use floodwatch_core::alert::Severity;
use std::io::Write;
use std::net::{TcpStream, UdpSocket};
#[cfg(unix)]
use std::os::unix::net::UnixDatagram;
use std::time::Duration;

/// Where the messages go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Transport {
    /// `host:port`, one datagram per message.
    Udp(String),
    /// `host:port`, octet-counted frames on one connection (reopened when it breaks).
    Tcp(String),
    /// A unix datagram socket's path.
    Unix(String),
}

#[derive(Clone, Debug)]
pub struct SyslogConfig {
    pub transport: Transport,
    /// Syslog facility (RFC 5424 §6.2.1): 16 (local0) unless configured.
    pub facility: u8,
    pub app_name: String,
    /// The structured-data id: `name@PEN`. The default uses 32473, the private enterprise number
    /// RFC 5612 reserves for examples; an organisation with its own PEN should set its own.
    pub sd_id: String,
}

impl SyslogConfig {
    pub fn new(transport: Transport) -> Self {
        SyslogConfig {
            transport,
            facility: 16,
            app_name: "floodwatch".into(),
            sd_id: "floodwatch@32473".into(),
        }
    }
}

enum Conn {
    Udp(UdpSocket),
    Tcp(Option<TcpStream>, String),
    #[cfg(unix)]
    Unix(UnixDatagram),
}

pub struct SyslogSink {
    cfg: SyslogConfig,
    conn: Conn,
    stats: DeliverStats,
}

const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

impl SyslogSink {
    pub fn new(cfg: SyslogConfig) -> Result<Self, DeliverError> {
        if cfg.facility > 23 {
            return Err(DeliverError::Config(format!(
                "syslog facility {} is not 0-23",
                cfg.facility
            )));
        }
        let conn = match &cfg.transport {
            Transport::Udp(addr) => {
                let s = UdpSocket::bind(if addr.starts_with('[') {
                    "[::]:0"
                } else {
                    "0.0.0.0:0"
                })
                .map_err(|e| DeliverError::io("syslog: opening a UDP socket", e))?;
                s.connect(addr)
                    .map_err(|e| DeliverError::io(format!("syslog: UDP to {addr}"), e))?;
                Conn::Udp(s)
            }
            Transport::Tcp(addr) => Conn::Tcp(None, addr.clone()),
            #[cfg(unix)]
            Transport::Unix(path) => {
                let s = UnixDatagram::unbound()
                    .map_err(|e| DeliverError::io("syslog: opening a unix socket", e))?;
                s.connect(path)
                    .map_err(|e| DeliverError::io(format!("syslog: unix socket {path}"), e))?;
                Conn::Unix(s)
            }
            #[cfg(not(unix))]
            Transport::Unix(_) => {
                return Err(DeliverError::Config(
                    "syslog: unix sockets need a unix system".into(),
                ))
            }
        };
        Ok(SyslogSink {
            cfg,
            conn,
            stats: DeliverStats::default(),
        })
    }

    fn send(&mut self, msg: &str) -> std::io::Result<()> {
        match &mut self.conn {
            Conn::Udp(s) => s.send(msg.as_bytes()).map(|_| ()),
            #[cfg(unix)]
            Conn::Unix(s) => s.send(msg.as_bytes()).map(|_| ()),
            Conn::Tcp(stream, addr) => {
                let frame = format!("{} {msg}", msg.len());
                // One reconnect: a receiver that restarted closed the old connection.
                for attempt in 0..2 {
                    if stream.is_none() {
                        let s = TcpStream::connect(addr.as_str())?;
                        s.set_write_timeout(Some(WRITE_TIMEOUT))?;
                        *stream = Some(s);
                    }
                    let Some(s) = stream.as_mut() else { continue };
                    match s.write_all(frame.as_bytes()).and_then(|_| s.flush()) {
                        Ok(()) => return Ok(()),
                        Err(e) if attempt == 1 => return Err(e),
                        Err(_) => *stream = None,
                    }
                }
                Ok(())
            }
        }
    }
}

impl Deliver for SyslogSink {
    fn deliver(&mut self, f: &Finding<'_>) -> Result<(), DeliverError> {
        let msg = format_5424(&self.cfg, f, std::process::id());
        match self.send(&msg) {
            Ok(()) => {
                self.stats.delivered += 1;
                Ok(())
            }
            Err(e) => {
                self.stats.failed_attempts += 1;
                self.stats.overflowed += 1;
                Err(DeliverError::io(
                    format!("syslog: finding {} not sent (dropped)", f.id),
                    e,
                ))
            }
        }
    }

    fn stats(&self) -> DeliverStats {
        self.stats
    }
}

/// Syslog severity (RFC 5424 table 2) of a finding's severity.
fn syslog_severity(s: Severity) -> u8 {
    match s {
        Severity::Critical => 2,
        Severity::High => 3,
        Severity::Medium => 4,
        Severity::Low => 5,
        Severity::Informational => 6,
    }
}

/// A header field: printable US-ASCII only (RFC 5424 §6), at most `max` bytes, `-` when empty.
fn header_field(text: &str, max: usize) -> String {
    let s: String = text
        .chars()
        .map(|c| if ('!'..='~').contains(&c) { c } else { '_' })
        .take(max)
        .collect();
    if s.is_empty() {
        "-".into()
    } else {
        s
    }
}

/// A structured-data parameter value: `"`, `\` and `]` escaped (RFC 5424 §6.3.3).
fn sd_value(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '"' | '\\' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The whole message for a finding.
pub fn format_5424(cfg: &SyslogConfig, f: &Finding<'_>, procid: u32) -> String {
    let pri = u16::from(cfg.facility) * 8 + u16::from(syslog_severity(f.severity));
    format!(
        "<{pri}>1 {ts} {host} {app} {procid} {msgid} [{sd} id=\"{id}\" severity=\"{sev}\" host=\"{h}\"] \u{feff}{body}",
        ts = f.time.to_rfc3339_millis(),
        host = header_field(f.host, 255),
        app = header_field(&cfg.app_name, 48),
        msgid = header_field(f.kind, 32),
        sd = header_field(&cfg.sd_id, 32).replace(['=', ']', '"'], "_"),
        id = sd_value(f.id),
        sev = f.severity.as_str(),
        h = sd_value(f.host),
        body = f.body,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use floodwatch_core::Ts;

    #[test]
    fn header_fields_are_printable_ascii_and_values_escaped() {
        assert_eq!(header_field("mac 01\u{202e}\n", 255), "mac_01__");
        assert_eq!(header_field("", 255), "-");
        assert_eq!(header_field(&"x".repeat(300), 255).len(), 255);
        assert_eq!(sd_value(r#"a"b\c]d"#), r#"a\"b\\c\]d"#);
        let cfg = SyslogConfig::new(Transport::Udp("127.0.0.1:514".into()));
        let f = Finding {
            id: "1c6f",
            time: Ts::from_secs(1_757_919_652),
            host: "mac-01",
            severity: Severity::High,
            kind: "alert",
            body: "{}",
        };
        let msg = format_5424(&cfg, &f, 42);
        // local0 (16) * 8 + error (3) = 131.
        assert!(
            msg.starts_with("<131>1 2025-09-15T07:00:52.000Z mac-01 floodwatch 42 alert [floodwatch@32473 id=\"1c6f\""),
            "{msg}"
        );
        assert!(msg.ends_with("] \u{feff}{}"), "{msg}");
    }
}
