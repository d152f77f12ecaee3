//! Endpoints: `host:port` strings as each source writes them, and the hosts a command line names.

// Splitting a `host:port` moved to core: the OCSF sink splits evidence endpoints the same way.
pub use floodwatch_core::event::split_endpoint;

/// The host a command-line word names, without scheme, user, port or path:
/// `http://u@[::1]:8080/x` → `::1`, `203.0.113.10:80` → `203.0.113.10`, `ping` → `ping`.
pub fn host_in_word(word: &str) -> &str {
    let s = word.split_once("://").map_or(word, |(_, r)| r);
    let s = s.split(['/', '?', '#']).next().unwrap_or(s);
    let s = s.rsplit_once('@').map_or(s, |(_, h)| h);
    split_endpoint(s).0
}

/// Destination hosts a command line names: IP literals, alone or as a URL's host (`curl
/// http://203.0.113.10/ping`, `hping3 -S --flood 192.168.50.4`).
pub fn hosts_in_argv(args: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for a in args.iter().skip(1) {
        let h = host_in_word(a);
        if h.parse::<std::net::IpAddr>().is_ok() && !out.iter().any(|o| o == h) {
            out.push(h.to_string());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_split_by_shape() {
        assert_eq!(split_endpoint("1.2.3.4:443"), ("1.2.3.4", Some(443)));
        assert_eq!(split_endpoint("[fe80::1]:53"), ("fe80::1", Some(53)));
        assert_eq!(
            split_endpoint("fe80::1%awdl0.52214"),
            ("fe80::1%awdl0", Some(52214))
        );
        assert_eq!(split_endpoint("fc00::1"), ("fc00::1", None));
        assert_eq!(split_endpoint("::ffff:1.2.3.4"), ("::ffff:1.2.3.4", None));
        assert_eq!(
            split_endpoint("IPv4#1a2b3c4d:80"),
            ("IPv4#1a2b3c4d", Some(80))
        );
        assert_eq!(split_endpoint("10.0.0.1"), ("10.0.0.1", None));
    }

    #[test]
    fn command_lines_name_hosts() {
        let a = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            hosts_in_argv(&a(&["hping3", "-S", "--flood", "192.168.50.4"])),
            vec!["192.168.50.4"]
        );
        assert_eq!(
            hosts_in_argv(&a(&["curl", "-s", "http://203.0.113.10:8080/ping?x=1"])),
            vec!["203.0.113.10"]
        );
        assert_eq!(
            hosts_in_argv(&a(&["curl", "http://[fd00::5]/x"])),
            vec!["fd00::5"]
        );
        assert!(hosts_in_argv(&a(&["ping", "-c", "3", "example.com"])).is_empty());
    }
}
