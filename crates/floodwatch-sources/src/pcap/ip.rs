//! IPv4 and IPv6 headers (extension headers skipped) and the TCP/UDP fields the engine uses:
//! destination port and TCP flags, when the capture kept them.

use super::be16;
use super::link::Decoded;
use crate::RejectReason;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// What the engine needs of one IP packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Packet {
    pub(super) src: IpAddr,
    pub(super) dst: IpAddr,
    pub(super) ip_proto: u8,
    /// Destination port (TCP/UDP whose header was captured).
    pub(super) dst_port: Option<u16>,
    pub(super) tcp_flags: Option<u8>,
    /// The packet answers another's: an ICMP echo reply or error, a TCP RST or SYN/ACK.
    pub(super) answer: bool,
    /// The IP length (header + payload) as sent, even when the capture cut the packet short.
    pub(super) ip_len: u32,
}

pub(super) fn decode_ip(d: &[u8]) -> Decoded {
    match d.first().map(|b| b >> 4) {
        Some(4) => decode_ipv4(d),
        Some(6) => decode_ipv6(d),
        Some(v) => Decoded::Bad(RejectReason::CorruptIpHeader, format!("IP version {v}")),
        None => Decoded::Bad(RejectReason::TruncatedFrame, "no IP header".into()),
    }
}

fn decode_ipv4(d: &[u8]) -> Decoded {
    if d.len() < 20 {
        return Decoded::Bad(
            RejectReason::TruncatedIpHeader,
            format!("IPv4 header: {} of 20 bytes", d.len()),
        );
    }
    let ihl = usize::from(d[0] & 0x0F) * 4;
    if ihl < 20 {
        return Decoded::Bad(
            RejectReason::CorruptIpHeader,
            format!("IPv4 header length {ihl}"),
        );
    }
    let total = be16(d, 2).unwrap_or(0);
    let frag_offset = be16(d, 6).unwrap_or(0) & 0x1FFF;
    let ip_proto = d[9];
    let src = Ipv4Addr::new(d[12], d[13], d[14], d[15]);
    let dst = Ipv4Addr::new(d[16], d[17], d[18], d[19]);
    // Segmentation offload shows total length 0 in local captures: fall back to what was captured.
    let ip_len = if total == 0 {
        d.len() as u32
    } else {
        u32::from(total)
    };
    // Later fragments carry no transport header.
    let l4 = if frag_offset == 0 { d.get(ihl..) } else { None };
    Decoded::Ip(transport(
        IpAddr::V4(src),
        IpAddr::V4(dst),
        ip_proto,
        l4,
        ip_len,
    ))
}

fn decode_ipv6(d: &[u8]) -> Decoded {
    if d.len() < 40 {
        return Decoded::Bad(
            RejectReason::TruncatedIpHeader,
            format!("IPv6 header: {} of 40 bytes", d.len()),
        );
    }
    let payload = be16(d, 4).unwrap_or(0);
    let mut next = d[6];
    let mut src = [0u8; 16];
    let mut dst = [0u8; 16];
    src.copy_from_slice(&d[8..24]);
    dst.copy_from_slice(&d[24..40]);
    let ip_len = if payload == 0 {
        d.len() as u32
    } else {
        40 + u32::from(payload)
    };
    let mut at = 40;
    let mut l4 = None;
    // Skip extension headers (hop-by-hop, routing, fragment, destination options) to the transport.
    for _ in 0..8 {
        match next {
            0 | 43 | 60 => {
                let (Some(&n), Some(&len)) = (d.get(at), d.get(at + 1)) else {
                    break;
                };
                next = n;
                at += (usize::from(len) + 1) * 8;
            }
            44 => {
                let (Some(&n), Some(off)) = (d.get(at), be16(d, at + 2)) else {
                    break;
                };
                next = n;
                at += 8;
                if off & 0xFFF8 != 0 {
                    break;
                }
            }
            _ => {
                l4 = d.get(at..);
                break;
            }
        }
    }
    Decoded::Ip(transport(
        IpAddr::V6(Ipv6Addr::from(src)),
        IpAddr::V6(Ipv6Addr::from(dst)),
        next,
        l4,
        ip_len,
    ))
}

/// Ports and TCP flags when the transport header was captured (a short snaplen may cut it: the
/// packet still counts, without them).
fn transport(src: IpAddr, dst: IpAddr, ip_proto: u8, l4: Option<&[u8]>, ip_len: u32) -> Packet {
    let l4 = l4.unwrap_or(&[]);
    let (dst_port, tcp_flags) = match ip_proto {
        6 => (be16(l4, 2), l4.get(13).copied()),
        17 => (be16(l4, 2), None),
        _ => (None, None),
    };
    let answer = match (ip_proto, l4.first()) {
        (6, _) => tcp_flags.is_some_and(|f| f & 0x04 != 0 || f & 0x12 == 0x12),
        (1, Some(&t)) => icmp4_answer(t),
        (58, Some(&t)) => icmp6_answer(t),
        _ => false,
    };
    Packet {
        src,
        dst,
        ip_proto,
        dst_port,
        tcp_flags,
        answer,
        ip_len,
    }
}

/// ICMPv4 types sent in answer to another packet (RFC 792, 950): echo reply, destination unreachable,
/// source quench, redirect, time exceeded, parameter problem, timestamp, information and mask replies.
pub(crate) fn icmp4_answer(t: u8) -> bool {
    matches!(t, 0 | 3 | 4 | 5 | 11 | 12 | 14 | 16 | 18)
}

/// ICMPv6 types sent in answer (RFC 4443): the errors (destination unreachable, packet too big, time
/// exceeded, parameter problem) and echo reply. Neighbour/router advertisements are left out: they are
/// also sent unsolicited, and flooded.
pub(crate) fn icmp6_answer(t: u8) -> bool {
    matches!(t, 1..=4 | 129)
}
