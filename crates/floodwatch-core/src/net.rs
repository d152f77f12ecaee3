//! Destinations as addresses (the host part from [`split_endpoint`]), address ranges (owned services),
//! which addresses are inside some organization, and the prefix a campaign groups destinations by.

use crate::event::split_endpoint;
use ipnet::IpNet;
use std::net::IpAddr;

/// `10.0.0.0/8`, `2001:db8::/32`, or one address (a /32 or /128).
pub fn parse_cidr(s: &str) -> Option<IpNet> {
    let s = s.trim();
    if let Ok(n) = s.parse::<IpNet>() {
        return Some(n);
    }
    s.parse::<IpAddr>().ok().map(IpNet::from)
}

/// The destination's address, when it is one.
pub fn addr_of(dest: &str) -> Option<IpAddr> {
    split_endpoint(dest).0.parse().ok()
}

/// The group a campaign puts a destination in: its IPv4 /`v4` or IPv6 /`v6` network
/// (`203.0.113.0/24`), the address itself at /32 or /128, or the lowercased name.
pub fn group_key(dest: &str, v4: u8, v6: u8) -> String {
    match addr_of(dest) {
        Some(ip @ IpAddr::V4(_)) if v4 >= 32 => ip.to_string(),
        Some(ip @ IpAddr::V6(_)) if v6 >= 128 => ip.to_string(),
        Some(ip) => {
            let len = if ip.is_ipv4() { v4 } else { v6 };
            IpNet::new(ip, len)
                .map(|n| n.trunc().to_string())
                .unwrap_or_else(|_| ip.to_string())
        }
        None => split_endpoint(dest).0.to_ascii_lowercase(),
    }
}

/// Private, loopback, link-local or unique-local: an address that is inside some organization.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v) => v.is_private() || v.is_loopback() || v.is_link_local(),
        IpAddr::V6(v) => {
            v.is_loopback()
                || (v.segments()[0] & 0xfe00) == 0xfc00
                || (v.segments()[0] & 0xffc0) == 0xfe80
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_of_destinations() {
        let host = |d| split_endpoint(d).0;
        assert_eq!(host("203.0.113.5:443"), "203.0.113.5");
        assert_eq!(host("203.0.113.5"), "203.0.113.5");
        assert_eq!(host("[2001:db8::1]:443"), "2001:db8::1");
        assert_eq!(host("2001:db8::1"), "2001:db8::1");
        assert_eq!(host("example.com:80"), "example.com");
        assert_eq!(host("IPv4#14ad2c93:443"), "IPv4#14ad2c93");
    }

    #[test]
    fn campaign_groups() {
        assert_eq!(group_key("203.0.113.5:443", 24, 64), "203.0.113.0/24");
        assert_eq!(group_key("203.0.113.5", 32, 64), "203.0.113.5");
        assert_eq!(group_key("[2001:db8::1:2]:443", 24, 64), "2001:db8::/64");
        assert_eq!(group_key("API.Example.com:443", 24, 64), "api.example.com");
    }

    #[test]
    fn ranges() {
        let n = parse_cidr("10.0.0.0/8").unwrap();
        assert!(n.contains(&"10.2.3.4".parse::<IpAddr>().unwrap()));
        assert!(!n.contains(&"11.2.3.4".parse::<IpAddr>().unwrap()));
        assert_eq!(parse_cidr("192.0.2.7").unwrap().prefix_len(), 32);
        assert!(parse_cidr("10.0.0.0/33").is_none());
        assert!(parse_cidr("corp").is_none());
        assert!(is_internal("192.168.1.1".parse().unwrap()));
        assert!(!is_internal("203.0.113.9".parse().unwrap()));
    }
}
