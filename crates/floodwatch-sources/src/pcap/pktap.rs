//! Apple's PKTAP link type (`tcpdump -k` on a pktap interface): a per-packet header carrying the
//! direction and the sending pid and command name, before the packet's own link layer.

use super::link::{decode_link, Decoded};
use super::{u32_at, ProcessTag};
use crate::RejectReason;

/// Direction and process from a PKTAP header.
#[derive(Debug, Default)]
pub(super) struct Pktap {
    pub(super) inbound: bool,
    pub(super) process: Option<ProcessTag>,
}

/// Darwin `struct pktap_header`, host (little-endian) order: pth_length 0, pth_type_next 4, pth_dlt 8,
/// pth_ifname 12..36, pth_flags 36, pth_pid 52, pth_comm 56..76 (MAXCOMLEN+1, NUL-padded).
pub(super) fn decode_pktap(data: &[u8], pktap: &mut Pktap) -> Decoded {
    const PTH_TYPE_PACKET: u32 = 1;
    const PTH_FLAG_DIR_IN: u32 = 0x1;
    let (Some(len), Some(kind), Some(dlt), Some(flags), Some(pid)) = (
        u32_at(data, 0, false),
        u32_at(data, 4, false),
        u32_at(data, 8, false),
        u32_at(data, 36, false),
        u32_at(data, 52, false),
    ) else {
        return Decoded::Bad(
            RejectReason::TruncatedFrame,
            "PKTAP header under 56 bytes".into(),
        );
    };
    let len = len as usize;
    if len < 76 || len > data.len() {
        return Decoded::Bad(
            RejectReason::CorruptFrame,
            format!("PKTAP header length {len} (frame {} bytes)", data.len()),
        );
    }
    if kind != PTH_TYPE_PACKET {
        return Decoded::NotIp(format!("PKTAP record type {kind}").into());
    }
    let comm = &data[56..76];
    let comm = &comm[..comm.iter().position(|&b| b == 0).unwrap_or(comm.len())];
    pktap.inbound = flags & PTH_FLAG_DIR_IN != 0;
    pktap.process = Some(ProcessTag {
        pid: pid as i32,
        name: (!comm.is_empty()).then(|| String::from_utf8_lossy(comm).into_owned()),
        path: None,
    });
    decode_link(dlt as i32, &data[len..], pktap, 1)
}
