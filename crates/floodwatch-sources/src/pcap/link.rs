//! Link layers: Ethernet (with VLAN tags), BSD loopback, raw IP, Linux cooked capture, and PKTAP
//! (handed to [`super::pktap`]). Anything that is not IP is skipped by name.

use super::ip::{decode_ip, Packet};
use super::pktap::{decode_pktap, Pktap};
use super::{be16, u32_at};
use crate::RejectReason;
use std::borrow::Cow;

const LINKTYPE_NULL: i32 = 0;
const LINKTYPE_ETHERNET: i32 = 1;
/// DLT_RAW as Darwin/BSD number it in memory (12; OpenBSD 14); files say 101.
const DLT_RAW_BSD: i32 = 12;
const DLT_RAW_OPENBSD: i32 = 14;
const LINKTYPE_RAW: i32 = 101;
const LINKTYPE_LOOP: i32 = 108;
const LINKTYPE_LINUX_SLL: i32 = 113;
/// Darwin's DLT_PKTAP (149) as found in a file written without the LINKTYPE mapping.
const DLT_PKTAP_DARWIN: i32 = 149;
const LINKTYPE_IPV4: i32 = 228;
const LINKTYPE_IPV6: i32 = 229;
const LINKTYPE_PKTAP: i32 = 258;

/// The outcome of decoding one captured frame.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Decoded {
    Ip(Packet),
    /// Not IP traffic (ARP, LLDP, ...): skipped with this reason.
    NotIp(Cow<'static, str>),
    /// Should have been IP but cannot be read: rejected.
    Bad(RejectReason, String),
}

/// Decodes a frame of `linktype`; `pktap` receives the PKTAP header's facts when there is one.
pub(super) fn decode_link(linktype: i32, data: &[u8], pktap: &mut Pktap, depth: u8) -> Decoded {
    match linktype {
        LINKTYPE_ETHERNET => decode_ethernet(data),
        LINKTYPE_NULL | LINKTYPE_LOOP => {
            // BSD loopback: the address family in the capturing host's order (DLT_NULL) or network
            // order (LOOP); AF_INET is 2 everywhere, AF_INET6 is 30 on Darwin, 24/28 on other BSDs,
            // 10 on Linux.
            let (Some(le), Some(be)) = (u32_at(data, 0, false), u32_at(data, 0, true)) else {
                return Decoded::Bad(
                    RejectReason::TruncatedFrame,
                    "loopback header under 4 bytes".into(),
                );
            };
            let family = if le < 256 { le } else { be };
            match family {
                2 | 10 | 24 | 28 | 30 => decode_ip(&data[4..]),
                f => Decoded::NotIp(format!("loopback address family {f}").into()),
            }
        }
        LINKTYPE_RAW | DLT_RAW_BSD | DLT_RAW_OPENBSD | LINKTYPE_IPV4 | LINKTYPE_IPV6 => {
            decode_ip(data)
        }
        LINKTYPE_LINUX_SLL => match be16(data, 14) {
            Some(0x0800 | 0x86DD) => decode_ip(&data[16..]),
            Some(t) => Decoded::NotIp(format!("ethertype 0x{t:04x}").into()),
            None => Decoded::Bad(
                RejectReason::TruncatedFrame,
                "Linux cooked header under 16 bytes".into(),
            ),
        },
        LINKTYPE_PKTAP | DLT_PKTAP_DARWIN if depth == 0 => decode_pktap(data, pktap),
        other => Decoded::NotIp(format!("link type {other} not decoded").into()),
    }
}

fn decode_ethernet(data: &[u8]) -> Decoded {
    let mut at = 12;
    // Up to two VLAN tags (802.1Q, 802.1ad QinQ).
    for _ in 0..3 {
        let Some(t) = be16(data, at) else {
            return Decoded::Bad(
                RejectReason::TruncatedFrame,
                format!("Ethernet header ({} bytes)", data.len()),
            );
        };
        match t {
            0x8100 | 0x88A8 => at += 4,
            0x0800 | 0x86DD => return decode_ip(&data[at + 2..]),
            0x0806 => return Decoded::NotIp("ARP".into()),
            t => return Decoded::NotIp(format!("ethertype 0x{t:04x}").into()),
        }
    }
    Decoded::NotIp("more than two VLAN tags".into())
}
