//! Declared floods: what a command line says it will send, before any packet is counted.
//!
//! ICMP from `ping` is invisible to nettop and to the unified log, so for ping the argv and the process
//! lifetime are the evidence: `-f` sends at least 100 packets/s, `-i 0.002` 500/s, `-l N` a preload burst.
//! Rates follow Apple's network_cmds ping.c and the tools' documentation (shared/docs/flood-tools.md).

use floodwatch_core::event::{basename, Proto};

#[derive(Clone, Debug, PartialEq, bitcode::Encode, bitcode::Decode)]
pub struct Declared {
    /// Estimated packets per second while the process lives (None: unbounded or unknown rate).
    pub est_pps: Option<f64>,
    /// Bytes per packet on the wire when known (ping: 28 + payload).
    pub bytes_per_packet: Option<f64>,
    /// A loop or flood mode with no pause: as fast as the machine goes.
    pub unbounded: bool,
    pub proto: Proto,
    /// Human description, e.g. "ping -f (flood: at least 100 packets/s)".
    pub what: String,
}

/// Thresholds the caller decides with: `min_pps` for a rate, `min_urls` for curl globs.
pub fn analyze(basename: &str, args: &[String], min_pps: f64, min_urls: u64) -> Option<Declared> {
    let name = basename.trim_start_matches('-');
    let d = match name {
        "ping" | "ping6" => ping(args),
        "hping" | "hping2" | "hping3" => hping(args),
        "nping" => nping(args),
        "curl" => return curl(args, min_urls),
        n if is_interpreter(n) => script(n, args),
        "sh" | "bash" | "zsh" | "dash" | "ksh" => shell_loop(args),
        "osascript" => osascript(args),
        _ => None,
    }?;
    let hot = d.unbounded || d.est_pps.is_some_and(|r| r >= min_pps);
    hot.then_some(d)
}

/// The protocol a command line says its traffic uses, and how it says so (for the explanation).
#[derive(Clone, Debug, PartialEq, bitcode::Encode, bitcode::Decode)]
pub struct DeclaredProto {
    pub proto: Proto,
    /// e.g. "python -c program opens socket(AF_INET, SOCK_DGRAM)", "ping sends ICMP echo requests".
    pub how: String,
}

/// What protocol the command line declares, for traffic whose source reports none (nettop `-P`
/// process rows, unified-log summaries without one): ping is ICMP, `hping3 --udp` UDP, a python or
/// perl program opening `socket(AF_INET, SOCK_DGRAM)` UDP. None when the command line does not say,
/// or says more than one thing (a program opening both a UDP and a TCP socket). Independent of
/// whether the command line also declares a flood: a UDP sender is UDP at any rate.
pub fn protocol(basename: &str, args: &[String]) -> Option<DeclaredProto> {
    let name = basename.trim_start_matches('-');
    let (proto, how) = match name {
        "ping" | "ping6" | "fping" => (Proto::Icmp, format!("{name} sends ICMP echo requests")),
        "hping" | "hping2" | "hping3" => {
            let (p, mode) = hping_proto(args);
            (p, format!("{name} {mode}"))
        }
        "nping" => {
            let (p, mode) = nping_proto(args);
            (p, format!("nping {mode}"))
        }
        "nc" | "ncat" | "netcat" => {
            // nc's options that take a value, so `-w 5` is not read as flags; `-U` is a Unix socket.
            let opts = getopt(args, "IiMmOPpqsTVwXx");
            if opts.iter().any(|(c, _)| *c == 'U') {
                return None;
            }
            if opts.iter().any(|(c, _)| *c == 'u') || args.iter().any(|a| a == "--udp") {
                (Proto::Udp, format!("{name} -u (UDP)"))
            } else {
                (Proto::Tcp, format!("{name} without -u (TCP)"))
            }
        }
        "iperf" | "iperf3" => {
            if args.iter().skip(1).any(|a| a == "-u" || a == "--udp") {
                (Proto::Udp, format!("{name} -u (UDP)"))
            } else {
                (Proto::Tcp, format!("{name} without -u (TCP)"))
            }
        }
        n if is_interpreter(n) => {
            let code = inline_code(args)?;
            let (p, what) = script_proto(&code)?;
            (p, format!("{} program opens {what}", interpreter_lang(n)))
        }
        _ => return None,
    };
    Some(DeclaredProto { proto, how })
}

/// hping's mode: `-1`/`--icmp`, `-2`/`--udp`, `-0`/`--rawip`, else TCP (`-S`, `-A`, ... or no flag).
fn hping_proto(args: &[String]) -> (Proto, &'static str) {
    for a in args.iter().skip(1) {
        match a.as_str() {
            "-1" | "--icmp" => return (Proto::Icmp, "--icmp (ICMP mode)"),
            "-2" | "--udp" => return (Proto::Udp, "--udp (UDP mode)"),
            "-0" | "--rawip" => return (Proto::Other, "--rawip (raw IP mode)"),
            _ => {}
        }
    }
    (Proto::Tcp, "in TCP mode (the default)")
}

/// nping's probe mode: `--udp`, `--icmp`, `--arp`, `--tcp`/`--tcp-connect`; TCP when none is given.
fn nping_proto(args: &[String]) -> (Proto, &'static str) {
    for a in args.iter().skip(1) {
        match a.as_str() {
            "--udp" => return (Proto::Udp, "--udp (UDP probes)"),
            "--icmp" => return (Proto::Icmp, "--icmp (ICMP probes)"),
            "--arp" => return (Proto::Other, "--arp (ARP probes)"),
            "--tcp" | "--tcp-connect" => return (Proto::Tcp, "--tcp (TCP probes)"),
            _ => {}
        }
    }
    (Proto::Tcp, "in TCP probe mode (the default)")
}

fn interpreter_lang(n: &str) -> &'static str {
    if n.starts_with("python") {
        "python -c"
    } else if n.starts_with("perl") {
        "perl -e"
    } else if n.starts_with("ruby") {
        "ruby -e"
    } else if n == "node" {
        "node -e"
    } else {
        "php -r"
    }
}

/// The one protocol an inline program's sockets use, with a canonical description (never the
/// program's own text: it is attacker-controlled). None when it names none, or more than one.
fn script_proto(code: &str) -> Option<(Proto, String)> {
    let mut found: Vec<(Proto, String)> = socket_calls(code);
    // Constructors and constants that say the protocol without a socket(...) call.
    let perl_proto = |want: &str| {
        code.match_indices("Proto").any(|(i, _)| {
            let rest = code[i + 5..].trim_start();
            let rest = rest
                .strip_prefix("=>")
                .or_else(|| rest.strip_prefix(','))
                .unwrap_or("")
                .trim_start()
                .trim_start_matches(['\'', '"']);
            rest.get(..want.len())
                .is_some_and(|w| w.eq_ignore_ascii_case(want))
        })
    };
    if perl_proto("udp") {
        found.push((Proto::Udp, "an IO::Socket with Proto => 'udp'".to_string()));
    }
    if perl_proto("tcp") {
        found.push((Proto::Tcp, "an IO::Socket with Proto => 'tcp'".to_string()));
    }
    if code.contains("UDPSocket") {
        found.push((Proto::Udp, "a UDPSocket".to_string()));
    }
    if code.contains("TCPSocket") {
        found.push((Proto::Tcp, "a TCPSocket".to_string()));
    }
    if code.contains("dgram.createSocket") || code.contains("require('dgram')") {
        found.push((Proto::Udp, "a dgram (UDP) socket".to_string()));
    }
    if code.contains("create_connection(") {
        found.push((Proto::Tcp, "socket.create_connection (TCP)".to_string()));
    }
    if code.contains("IPPROTO_UDP") {
        found.push((Proto::Udp, "a socket with IPPROTO_UDP".to_string()));
    }
    if code.contains("scapy") || code.contains("sendp(") || code.contains("sendpfast") {
        for (layer, p) in [
            ("UDP(", Proto::Udp),
            ("ICMP(", Proto::Icmp),
            ("TCP(", Proto::Tcp),
        ] {
            if code.contains(layer) {
                found.push((p, format!("scapy {layer}) packets")));
            }
        }
    }
    // A type named outside a socket(...) call (perl `Type => SOCK_DGRAM`, python `type=...` on
    // another line) still says it.
    if found.is_empty() {
        if code.contains("SOCK_DGRAM") {
            found.push((Proto::Udp, "a SOCK_DGRAM (UDP) socket".to_string()));
        } else if code.contains("SOCK_STREAM") {
            found.push((Proto::Tcp, "a SOCK_STREAM (TCP) socket".to_string()));
        }
    }
    let first = found.first()?.0;
    if found.iter().any(|(p, _)| *p != first) {
        return None;
    }
    found.into_iter().next()
}

/// `socket(...)` calls: python `socket.socket(socket.AF_INET, socket.SOCK_DGRAM)` or `socket(2, 2)`,
/// perl `socket(S, PF_INET, SOCK_DGRAM, 17)` or `socket(my $s, 2, 2, 0)`. The type decides: by name
/// with any family, by number only with a known family number (2 AF_INET; 30 AF_INET6 on macOS, 10 on
/// Linux), so an unrelated `socket(a, 2)` is not read as one.
fn socket_calls(code: &str) -> Vec<(Proto, String)> {
    let mut out = Vec::new();
    for (i, _) in code.match_indices("socket") {
        let rest = code[i + 6..].trim_start();
        let Some(inner) = rest.strip_prefix('(') else {
            continue;
        };
        let Some(end) = inner.find(')') else {
            continue;
        };
        let mut args: Vec<&str> = inner[..end]
            .split(',')
            .map(|a| {
                let a = a.trim();
                // keyword arguments (python family=..., type=...) and module prefixes
                let a = a.rsplit_once('=').map_or(a, |(_, v)| v.trim());
                a.rsplit(['.', ':']).next().unwrap_or(a)
            })
            .filter(|a| !a.is_empty())
            .collect();
        let is_family = |a: &str| {
            matches!(
                a,
                "AF_INET" | "AF_INET6" | "PF_INET" | "PF_INET6" | "2" | "10" | "30"
            )
        };
        // perl's first argument is the handle
        if args.len() >= 3 && !is_family(args[0]) {
            args.remove(0);
        }
        if args.is_empty() {
            // python socket.socket(): AF_INET, SOCK_STREAM
            if code[..i].ends_with("socket.") && inner[..end].trim().is_empty() {
                out.push((
                    Proto::Tcp,
                    "socket.socket() (SOCK_STREAM by default)".to_string(),
                ));
            }
            continue;
        }
        let family = args.first().copied().unwrap_or("");
        let ty = args.get(1).copied().unwrap_or(family);
        let fam_name = match family {
            "AF_INET6" | "PF_INET6" | "10" | "30" => "AF_INET6",
            _ => "AF_INET",
        };
        let numeric_ok = is_family(family);
        let proto_arg = args.get(2).copied().unwrap_or("");
        let (p, ty_name) = match ty {
            "SOCK_DGRAM" => (Proto::Udp, "SOCK_DGRAM"),
            "2" if numeric_ok => (Proto::Udp, "SOCK_DGRAM"),
            "SOCK_STREAM" => (Proto::Tcp, "SOCK_STREAM"),
            "1" if numeric_ok => (Proto::Tcp, "SOCK_STREAM"),
            "SOCK_RAW" => (raw_proto(proto_arg), "SOCK_RAW"),
            "3" if numeric_ok => (raw_proto(proto_arg), "SOCK_RAW"),
            _ => continue,
        };
        let numbers = if family.chars().all(|c| c.is_ascii_digit()) && ty.len() == 1 {
            format!("socket({family}, {ty}) = ")
        } else {
            String::new()
        };
        out.push((p, format!("{numbers}socket({fam_name}, {ty_name})")));
    }
    out
}

/// A raw socket's protocol argument: ICMP (1, or 58 for ICMPv6) or something else.
fn raw_proto(a: &str) -> Proto {
    match a {
        "IPPROTO_ICMP" | "IPPROTO_ICMPV6" | "1" | "58" => Proto::Icmp,
        _ => Proto::Other,
    }
}

fn is_interpreter(n: &str) -> bool {
    n.starts_with("python")
        || n.starts_with("perl")
        || n.starts_with("ruby")
        || n == "node"
        || n == "php"
}

/// Splits getopt-style arguments: yields (flag, value) for flags in `with_value`, (flag, None) otherwise.
/// Handles clustered flags (`-fq`) and attached values (`-i0.01`).
fn getopt<'a>(args: &'a [String], with_value: &str) -> Vec<(char, Option<&'a str>)> {
    let mut out = Vec::new();
    let mut i = 1;
    while i < args.len() {
        let a = args[i].as_str();
        if a == "--" {
            break;
        }
        if let Some(cluster) = a
            .strip_prefix('-')
            .filter(|c| !c.is_empty() && !c.starts_with('-'))
        {
            for (pos, c) in cluster.char_indices() {
                if with_value.contains(c) {
                    let rest = &cluster[pos + c.len_utf8()..];
                    if !rest.is_empty() {
                        out.push((c, Some(rest)));
                    } else {
                        i += 1;
                        out.push((c, args.get(i).map(String::as_str)));
                    }
                    break;
                }
                out.push((c, None));
            }
        }
        i += 1;
    }
    out
}

fn ping(args: &[String]) -> Option<Declared> {
    // macOS ping options that take a value: b c G g h i k K l M m p S s t W z
    let opts = getopt(args, "bcGghikKlMmpSstWz");
    let mut flood = false;
    let mut interval: Option<f64> = None;
    let mut preload: Option<u64> = None;
    let mut size: f64 = 56.0;
    for (f, v) in &opts {
        match f {
            'f' => flood = true,
            'i' => interval = v.and_then(|s| s.parse().ok()),
            'l' => preload = v.and_then(|s| s.parse().ok()),
            's' => size = v.and_then(|s| s.parse().ok()).unwrap_or(56.0),
            _ => {}
        }
    }
    let bytes = Some(28.0 + size);
    if flood {
        return Some(Declared {
            est_pps: Some(100.0),
            bytes_per_packet: bytes,
            unbounded: false,
            proto: Proto::Icmp,
            what: format!("ping -f (flood: at least 100 packets/s{})", size_note(size)),
        });
    }
    if let Some(n) = preload.filter(|&n| n >= 100) {
        return Some(Declared {
            est_pps: Some(n as f64),
            bytes_per_packet: bytes,
            unbounded: false,
            proto: Proto::Icmp,
            what: format!(
                "ping -l {n} (preload burst of {n} packets{})",
                size_note(size)
            ),
        });
    }
    let pps = match interval {
        Some(i) if i <= 0.0 => None,
        Some(i) => Some(1.0 / i),
        None => Some(1.0),
    };
    Some(Declared {
        est_pps: pps,
        bytes_per_packet: bytes,
        unbounded: interval.is_some_and(|i| i <= 0.0),
        proto: Proto::Icmp,
        what: match interval {
            Some(i) if i <= 0.0 => "ping -i 0 (no wait between packets)".to_string(),
            Some(i) => format!("ping -i {i} ({:.0} packets/s{})", 1.0 / i, size_note(size)),
            None => format!("ping (1 packet/s{})", size_note(size)),
        },
    })
}

fn size_note(size: f64) -> String {
    if size > 56.0 {
        format!(", {size:.0}-byte payload")
    } else {
        String::new()
    }
}

fn hping(args: &[String]) -> Option<Declared> {
    let proto = hping_proto(args).0;
    let mut pps: Option<f64> = Some(1.0);
    let mut unbounded = false;
    let mut what = String::from("hping3");
    let mut i = 1;
    while i < args.len() {
        let a = args[i].as_str();
        match a {
            "--flood" => {
                unbounded = true;
                what = "hping3 --flood (as fast as possible)".into();
            }
            "--fast" => pps = Some(10.0),
            "--faster" => pps = Some(100.0),
            "-i" | "--interval" => {
                i += 1;
                pps = args.get(i).and_then(|v| hping_interval(v));
            }
            _ if a.starts_with("-i") && a.len() > 2 => pps = hping_interval(&a[2..]),
            _ => {}
        }
        i += 1;
    }
    if !unbounded {
        if let Some(r) = pps {
            what = format!("hping3 at {r:.0} packets/s");
        }
    }
    Some(Declared {
        est_pps: if unbounded { None } else { pps },
        bytes_per_packet: None,
        unbounded,
        proto,
        what,
    })
}

/// hping's `-i uX` (microseconds) or `-i X` (seconds).
fn hping_interval(v: &str) -> Option<f64> {
    if let Some(us) = v.strip_prefix('u') {
        let us: f64 = us.parse().ok()?;
        return Some(if us <= 0.0 { 1e6 } else { 1e6 / us });
    }
    let s: f64 = v.parse().ok()?;
    (s > 0.0).then(|| 1.0 / s)
}

fn nping(args: &[String]) -> Option<Declared> {
    let mut pps = Some(1.0);
    let mut endless = false;
    let proto = nping_proto(args).0;
    let mut i = 1;
    while i < args.len() {
        match args[i].as_str() {
            "--rate" => {
                i += 1;
                pps = args.get(i).and_then(|v| v.parse().ok());
            }
            "--delay" => {
                i += 1;
                pps = args.get(i).and_then(|v| parse_delay(v)).map(|d| {
                    if d <= 0.0 {
                        1e6
                    } else {
                        1.0 / d
                    }
                });
            }
            "-c" | "--count" => {
                i += 1;
                endless = args.get(i).map(String::as_str) == Some("0");
            }
            _ => {}
        }
        i += 1;
    }
    let rate = pps.unwrap_or(1.0);
    Some(Declared {
        est_pps: Some(rate),
        bytes_per_packet: None,
        unbounded: false,
        proto,
        what: format!(
            "nping at {rate:.0} probes/s{}",
            if endless { ", endless (-c 0)" } else { "" }
        ),
    })
}

/// nping delays: "1ms", "0.5", "2s".
fn parse_delay(v: &str) -> Option<f64> {
    if let Some(ms) = v.strip_suffix("ms") {
        return ms.parse::<f64>().ok().map(|x| x / 1000.0);
    }
    if let Some(s) = v.strip_suffix('s') {
        return s.parse().ok();
    }
    v.parse().ok()
}

fn curl(args: &[String], min_urls: u64) -> Option<Declared> {
    let mut parallel = false;
    let mut parallel_max: u64 = 50;
    let mut urls: u64 = 0;
    let mut config_file: Option<&str> = None;
    let mut globoff = false;
    let mut i = 1;
    while i < args.len() {
        let a = args[i].as_str();
        match a {
            "-Z" | "--parallel" => parallel = true,
            "--parallel-max" => {
                i += 1;
                parallel_max = args.get(i).and_then(|v| v.parse().ok()).unwrap_or(50);
            }
            "-K" | "--config" => {
                i += 1;
                config_file = args.get(i).map(String::as_str);
            }
            "-g" | "--globoff" => globoff = true,
            _ if a.starts_with('-')
                && !a.starts_with("--")
                && a.len() > 2
                && a[1..].contains('Z')
                && !a.contains('=') =>
            {
                parallel = true
            }
            _ if !a.starts_with('-')
                && (a.contains("://") || a.contains('[') || a.contains('{')) =>
            {
                urls = urls.saturating_add(if globoff { 1 } else { glob_count(a) });
            }
            _ => {}
        }
        i += 1;
    }
    let parallel_note = if parallel {
        format!(", parallel up to {parallel_max}")
    } else {
        String::new()
    };
    if urls >= min_urls {
        return Some(Declared {
            est_pps: None,
            bytes_per_packet: None,
            unbounded: true,
            proto: Proto::Tcp,
            what: format!("curl over {urls} URLs from globs{parallel_note}"),
        });
    }
    if let Some(f) = config_file {
        if parallel {
            return Some(Declared {
                est_pps: None,
                bytes_per_packet: None,
                unbounded: true,
                proto: Proto::Tcp,
                what: format!(
                    "curl -Z -K {f} (parallel transfers from a config file{parallel_note})"
                ),
            });
        }
    }
    None
}

/// Number of URLs a curl glob expands to: `[1-1000]` ranges (with `:step`) and `{a,b}` sets multiply.
pub fn glob_count(url: &str) -> u64 {
    let mut total: u64 = 1;
    let b = url.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'[' => {
                if let Some(end) = url[i..].find(']') {
                    let inner = &url[i + 1..i + end];
                    total = total.saturating_mul(range_count(inner));
                    i += end;
                }
            }
            b'{' => {
                if let Some(end) = url[i..].find('}') {
                    let n = url[i + 1..i + end].split(',').count() as u64;
                    total = total.saturating_mul(n.max(1));
                    i += end;
                }
            }
            _ => {}
        }
        i += 1;
    }
    total
}

fn range_count(inner: &str) -> u64 {
    let (range, step) = match inner.split_once(':') {
        Some((r, s)) => (r, s.parse::<u64>().unwrap_or(1).max(1)),
        None => (inner, 1),
    };
    let Some((a, z)) = range.split_once('-') else {
        return 1;
    };
    if let (Ok(a), Ok(z)) = (a.parse::<u64>(), z.parse::<u64>()) {
        return z.saturating_sub(a) / step + 1;
    }
    let (a, z) = (
        a.chars().next().unwrap_or('a'),
        z.chars().next().unwrap_or('a'),
    );
    ((z as u64).saturating_sub(a as u64)) / step + 1
}

/// The inline program of `python -c`, `perl -e`, `ruby -e`, `node -e`, `osascript -e`.
fn inline_code(args: &[String]) -> Option<String> {
    let mut code = String::new();
    let mut i = 1;
    while i < args.len() {
        if matches!(args[i].as_str(), "-c" | "-e" | "-E") {
            if let Some(v) = args.get(i + 1) {
                code.push_str(v);
                code.push('\n');
            }
            i += 1;
        }
        i += 1;
    }
    (!code.is_empty()).then_some(code)
}

fn has_pause(code: &str) -> bool {
    code.contains("sleep") || code.contains("delay ")
}

fn script(name: &str, args: &[String]) -> Option<Declared> {
    let code = inline_code(args)?;
    let looping = code.contains("while True")
        || code.contains("while 1")
        || code.contains("while(1)")
        || code.contains("while (1)")
        || code.contains("for(;;)")
        || code.contains("loop do")
        || code.contains("loop=1")
        || code.contains("srloop")
        || code.contains("sendpfast");
    let sends = code.contains("sendto")
        || code.contains(".send(")
        || code.contains("send(")
        || code.contains("socket");
    if looping && sends && !has_pause(&code) {
        let lang = if name.starts_with("python") {
            "python"
        } else {
            name
        };
        let what = if code.contains("scapy") || code.contains("sendpfast") {
            format!("{lang} one-liner sending scapy packets in a loop")
        } else {
            format!("{lang} one-liner sending on a socket in an endless loop with no pause")
        };
        return Some(Declared {
            est_pps: None,
            bytes_per_packet: None,
            unbounded: true,
            proto: script_proto(&code).map_or(Proto::Unknown, |(p, _)| p),
            what,
        });
    }
    None
}

/// `sh -c 'while true; do curl ...; done'`: an endless loop (not a bounded `for f in a b c`) that runs a
/// network tool with no `sleep`. Judged on shell words, not substrings (`format` is not `for`, `nc` in
/// `sync` is not netcat).
fn shell_loop(args: &[String]) -> Option<Declared> {
    let code = inline_code(args)?;
    let words: Vec<&str> = code
        .split(|c: char| c.is_whitespace() || matches!(c, ';' | '&' | '|' | '(' | ')' | '{' | '}'))
        .filter(|w| !w.is_empty())
        .collect();
    let tool = words.iter().find_map(|w| {
        let base = basename(w);
        ["curl", "ping", "wget", "nc", "hping3", "nping"]
            .into_iter()
            .find(|t| *t == base)
    })?;
    let endless = words.windows(2).any(|w| {
        matches!(
            (w[0], w[1]),
            ("while", "true" | ":" | "[" | "[[" | "1") | ("until", "false")
        )
    }) || code.contains("for ((;;))")
        || code.contains("for((;;))");
    if endless && !words.contains(&"sleep") {
        return Some(Declared {
            est_pps: None,
            bytes_per_packet: None,
            unbounded: true,
            proto: if tool == "ping" {
                Proto::Icmp
            } else {
                Proto::Tcp
            },
            what: format!("endless shell loop running {tool} with no pause"),
        });
    }
    None
}

fn osascript(args: &[String]) -> Option<Declared> {
    let code = inline_code(args)?;
    if code.contains("repeat")
        && code.contains("do shell script")
        && (code.contains("curl") || code.contains("ping"))
        && !has_pause(&code)
    {
        return Some(Declared {
            est_pps: None,
            bytes_per_packet: None,
            unbounded: true,
            proto: Proto::Tcp,
            what: "osascript repeat loop running a network tool through do shell script".into(),
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> Vec<String> {
        s.split(' ').map(str::to_string).collect()
    }

    fn d(s: &str) -> Option<Declared> {
        let v = a(s);
        let base = v[0].rsplit('/').next().unwrap().to_string();
        analyze(&base, &v, 50.0, 1000)
    }

    #[test]
    fn ping_flags() {
        assert_eq!(
            d("/sbin/ping -f -q 198.51.100.7").unwrap().est_pps,
            Some(100.0)
        );
        assert_eq!(d("/sbin/ping -fq 198.51.100.7").unwrap().proto, Proto::Icmp);
        assert_eq!(d("ping -i 0.002 10.0.0.1").unwrap().est_pps, Some(500.0));
        assert_eq!(d("ping -i0.01 10.0.0.1").unwrap().est_pps, Some(100.0));
        assert!(d("ping -l 1000 -c 1000 10.0.0.1").is_some());
        // not floods
        assert!(d("/sbin/ping 10.0.0.1").is_none());
        assert!(d("/sbin/ping -c 3 -i 1 10.0.0.1").is_none());
        assert!(d("ping -i 0.1 10.0.0.1").is_none());
        assert!(d("ping -s 1472 -c 5 10.0.0.1").is_none());
    }

    #[test]
    fn hping_nping_curl() {
        assert!(d("hping3 --flood -S -p 80 10.0.0.1").unwrap().unbounded);
        assert_eq!(
            d("hping3 -1 -i u1000 10.0.0.1").unwrap().est_pps,
            Some(1000.0)
        );
        assert!(d("hping3 -S 10.0.0.1").is_none());
        assert_eq!(
            d("nping --rate 5000 -c 0 --udp 10.0.0.1").unwrap().est_pps,
            Some(5000.0)
        );
        assert!(d("nping 10.0.0.1").is_none());
        assert!(d("curl -Z --parallel-max 200 http://203.0.113.5/[1-100000]").is_some());
        assert_eq!(glob_count("http://x/[1-100]/{a,b,c}"), 300);
        assert_eq!(glob_count("http://x/[1-100:10]"), 10);
        assert_eq!(glob_count("http://x/[a-z]"), 26);
        assert!(d("curl -s -o /dev/null http://203.0.113.10/ping").is_none());
        assert!(d("curl -Z -K urls.txt").is_some());
    }

    /// The protocol rule on argv as eslogger gives it (argv[0] as typed, the program one element).
    fn proto(argv: &[&str]) -> Option<(Proto, String)> {
        let v: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
        let base = v[0].rsplit('/').next().unwrap_or("").to_string();
        protocol(&base, &v).map(|d| (d.proto, d.how))
    }

    #[test]
    fn protocol_from_the_command_line() {
        let py = |code: &str| proto(&["/usr/bin/python3", "-c", code]);
        let pl = |code: &str| proto(&["/usr/bin/perl", "-e", code]);
        for (code, want) in [
            (
                "import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\nwhile True: s.sendto(b'x'*1400,('198.51.100.9',53))",
                "python -c program opens socket(AF_INET, SOCK_DGRAM)",
            ),
            (
                "import socket as k;s=k.socket(2,2)\nfor _ in range(10**9): s.sendto(b'A'*1400,('198.51.100.9',9))",
                "python -c program opens socket(2, 2) = socket(AF_INET, SOCK_DGRAM)",
            ),
            (
                "from socket import *; s=socket(AF_INET6, SOCK_DGRAM); [s.sendto(b'x',('2001:db8::1',9)) for _ in iter(int,1)]",
                "python -c program opens socket(AF_INET6, SOCK_DGRAM)",
            ),
            (
                "import socket; s=socket.socket(family=socket.AF_INET, type=socket.SOCK_DGRAM)",
                "python -c program opens socket(AF_INET, SOCK_DGRAM)",
            ),
        ] {
            assert_eq!(py(code), Some((Proto::Udp, want.to_string())), "{code}");
        }
        assert_eq!(
            pl(
                r#"use IO::Socket::INET; my $s = IO::Socket::INET->new(PeerAddr => "198.51.100.30:9999", Proto => "udp") or die; while (1) { $s->send("A" x 1400) }"#
            ),
            Some((
                Proto::Udp,
                "perl -e program opens an IO::Socket with Proto => 'udp'".into()
            ))
        );
        assert_eq!(
            pl("use Socket; socket(S, PF_INET, SOCK_DGRAM, getprotobyname('udp')); send(S, 'x', 0, $a) while 1").map(|p| p.0),
            Some(Proto::Udp)
        );
        assert_eq!(pl("socket(my $s, 2, 2, 17)").map(|p| p.0), Some(Proto::Udp));
        assert_eq!(
            py("import socket; s=socket.socket(); s.connect(('10.0.0.1',80))").map(|p| p.0),
            Some(Proto::Tcp)
        );
        assert_eq!(
            py("import socket; s=socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)").map(|p| p.0),
            Some(Proto::Icmp)
        );
        // Says nothing, or two different things: no protocol.
        assert_eq!(py("print('hello')"), None);
        assert_eq!(
            py("import urllib.request as u; u.urlopen('http://x/')"),
            None
        );
        assert_eq!(
            py("import socket; a=socket.socket(2,2); b=socket.socket(2,1)"),
            None
        );
        assert_eq!(pl("my $n = socket_count(2, 2);"), None);
        assert_eq!(proto(&["/usr/bin/python3", "/opt/x/send.py"]), None);
        // Tools.
        assert_eq!(proto(&["ping", "-f", "10.0.0.1"]).unwrap().0, Proto::Icmp);
        assert_eq!(proto(&["/sbin/ping6", "fe80::1"]).unwrap().0, Proto::Icmp);
        for (argv, want) in [
            (&["hping3", "--udp", "-p", "53", "10.0.0.1"][..], Proto::Udp),
            (&["hping3", "-2", "10.0.0.1"][..], Proto::Udp),
            (&["hping3", "--icmp", "10.0.0.1"][..], Proto::Icmp),
            (&["hping3", "-1", "10.0.0.1"][..], Proto::Icmp),
            (&["hping3", "-S", "-p", "80", "10.0.0.1"][..], Proto::Tcp),
            (&["hping3", "10.0.0.1"][..], Proto::Tcp),
            (&["nping", "--udp", "-p", "53", "10.0.0.1"][..], Proto::Udp),
            (&["nping", "--icmp", "10.0.0.1"][..], Proto::Icmp),
            (&["nping", "--tcp", "-p", "80", "10.0.0.1"][..], Proto::Tcp),
            (&["nc", "-uv", "10.0.0.1", "53"][..], Proto::Udp),
            (&["nc", "-w", "5", "10.0.0.1", "80"][..], Proto::Tcp),
            (
                &["iperf3", "-c", "10.0.0.1", "-u", "-b", "1G"][..],
                Proto::Udp,
            ),
        ] {
            assert_eq!(proto(argv).map(|p| p.0), Some(want), "{argv:?}");
        }
        assert_eq!(
            proto(&["hping3", "--udp", "10.0.0.1"]).unwrap().1,
            "hping3 --udp (UDP mode)"
        );
        assert_eq!(proto(&["nc", "-U", "/tmp/s"]), None);
        assert_eq!(proto(&["/usr/bin/curl", "http://x/"]), None);
        // A declared flood carries the same rule's protocol.
        let v: Vec<String> = [
            "python3",
            "-c",
            "import socket as k;s=k.socket(2,2)\nwhile 1: s.sendto(b'A',('198.51.100.9',9))",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            analyze("python3", &v, 50.0, 1000).unwrap().proto,
            Proto::Udp
        );
    }

    #[test]
    fn scripts() {
        let py = vec![
            "/usr/bin/python3".to_string(),
            "-c".to_string(),
            "import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\nwhile True: s.sendto(b'x'*1400,('198.51.100.9',53))".to_string(),
        ];
        let r = analyze("python3", &py, 50.0, 1000).unwrap();
        assert_eq!(r.proto, Proto::Udp);
        let slow = vec![
            "python3".into(),
            "-c".into(),
            "import socket,time\nwhile True: s.sendto(b'x',a); time.sleep(5)".into(),
        ];
        assert!(analyze("python3", &slow, 50.0, 1000).is_none());
        let sh = vec![
            "/bin/sh".into(),
            "-c".into(),
            "while true; do curl -s http://t/ >/dev/null; done".into(),
        ];
        assert!(analyze("sh", &sh, 50.0, 1000).is_some());
        let sh_slow = vec![
            "/bin/sh".into(),
            "-c".into(),
            "while true; do curl -s http://t/; sleep 60; done".into(),
        ];
        assert!(analyze("sh", &sh_slow, 50.0, 1000).is_none());
        let sh_c = |code: &str| {
            analyze(
                "sh",
                &["/bin/sh".into(), "-c".into(), code.into()],
                50.0,
                1000,
            )
        };
        // Bounded loops and look-alike words are not endless floods.
        assert!(sh_c("for h in a b c; do /usr/bin/curl -s https://$h/health; done").is_none());
        assert!(sh_c("while true; do rsync --format x /a /b; done").is_none());
        assert!(
            sh_c("while :; do /sbin/ping -c 1 10.0.0.1; done")
                .unwrap()
                .proto
                == Proto::Icmp
        );
        assert!(sh_c("until false; do nc -u 10.0.0.1 53 </dev/zero; done").is_some());
        assert!(sh_c("for ((;;)); do curl http://t/; done").is_some());
        let osa = vec![
            "osascript".into(),
            "-e".into(),
            "repeat\ndo shell script \"curl -s http://t/\"\nend repeat".into(),
        ];
        assert!(analyze("osascript", &osa, 50.0, 1000).is_some());
    }
}
