//! The capture's records: the pcap file header and packet records, and the pcapng blocks
//! (section headers, interface descriptions, Apple's process information blocks, enhanced packets).
//! Each record is counted, and a broken one is rejected with its index; only a record whose length
//! cannot be trusted ends the file.

use super::aggregate::account;
use super::link::decode_link;
use super::pktap::Pktap;
use super::{u32_at, CaptureReader, ProcessTag, State, Step, MAX_RECORD_BYTES};
use crate::stats::FileStats;
use crate::RejectReason;
use floodwatch_core::event::Event;
use floodwatch_core::time::NANOS_PER_SEC;
use floodwatch_core::Ts;
use pcap_parser::pcapng::{
    parse_enhancedpacketblock_be, parse_enhancedpacketblock_le, parse_interfacedescriptionblock_be,
    parse_interfacedescriptionblock_le, parse_processinformationblock_be,
    parse_processinformationblock_le, parse_sectionheaderblock, EnhancedPacketBlock, PcapNGOption,
};
use pcap_parser::traits::PcapNGPacketBlock;
use std::io::{self, BufRead};

pub const PCAPNG_BT_PIB: u32 = 0x8000_0001;
const BT_SHB: u32 = 0x0A0D_0D0A;
const BT_IDB: u32 = 1;
const BT_SPB: u32 = 3;
const BT_EPB: u32 = 6;
/// EPB options (pcapng `epb_flags`, Apple `PIB_INDEX`, `E_PIB_INDEX`).
const OPT_EPB_FLAGS: u16 = 2;
const OPT_EPB_PIB_INDEX: u16 = 0x8001;
const OPT_EPB_E_PIB_INDEX: u16 = 0x8003;
/// PIB options.
const OPT_PIB_NAME: u16 = 2;
const OPT_PIB_PATH: u16 = 3;

struct Interface {
    linktype: i32,
    /// Timestamp units per second (None: an `if_tsresol` that fits no integer).
    units: Option<u64>,
    offset_secs: i64,
}

impl Interface {
    fn ts(&self, high: u32, low: u32) -> Option<Ts> {
        let units = u128::from(self.units?);
        let raw = (u128::from(high) << 32) | u128::from(low);
        let secs = i64::try_from(raw / units).ok()?;
        let nanos = ((raw % units) * 1_000_000_000 / units) as i64;
        let secs = secs.checked_add(self.offset_secs)?;
        Some(Ts(secs.checked_mul(NANOS_PER_SEC)?.checked_add(nanos)?))
    }
}

/// `if_tsresol`: 10^-n seconds, or 2^-n when the high bit is set.
fn ts_units(r: u8) -> Option<u64> {
    if r & 0x80 == 0 {
        10u64.checked_pow(u32::from(r))
    } else {
        1u64.checked_shl(u32::from(r & 0x7F))
            .filter(|_| r & 0x7F < 64)
    }
}

/// One pcapng section: its byte order, interfaces and process blocks (both numbered from 0 in the
/// order they appear, and reset by the next section header).
pub(super) struct Section {
    be: bool,
    interfaces: Vec<Interface>,
    processes: Vec<ProcessTag>,
}

impl<R: BufRead> CaptureReader<R> {
    pub(super) fn pcap_header(&mut self, stats: &mut FileStats) -> io::Result<Step> {
        self.buf.clear();
        let got = self.fill(24)?;
        let header = pcap_parser::pcap::parse_pcap_header(&self.buf)
            .ok()
            .map(|(_, h)| h);
        match header {
            Some(h) if got == 24 && !h.is_modified_format() => {
                self.state = State::Pcap {
                    be: h.is_bigendian(),
                    nanos: h.is_nanosecond_precision(),
                    linktype: h.network.0,
                };
                Ok(Step::More)
            }
            _ => {
                let (reason, detail) = if got < 4 {
                    (RejectReason::NotACapture, format!("{got} bytes"))
                } else if header.as_ref().is_some_and(|h| h.is_modified_format()) {
                    (
                        RejectReason::NotACapture,
                        "modified (Kuznetzov) pcap is not read".to_string(),
                    )
                } else if header.is_some() || got < 24 && pcap_magic(&self.buf) {
                    (
                        RejectReason::TruncatedRecord,
                        format!("pcap file header: {got} of 24 bytes"),
                    )
                } else {
                    (
                        RejectReason::NotACapture,
                        "no pcap magic number".to_string(),
                    )
                };
                stats.records += 1;
                stats.reject(0, reason.into(), detail);
                Ok(Step::End)
            }
        }
    }

    /// Reads the next record's fixed-size header (`n` bytes, named `what` in the reject) into `buf`
    /// and counts the record. None: the input ended, cleanly or (rejected) inside the header.
    fn record_header(
        &mut self,
        n: usize,
        what: &str,
        stats: &mut FileStats,
    ) -> io::Result<Option<u64>> {
        self.buf.clear();
        let got = self.fill(n)?;
        if got == 0 {
            return Ok(None);
        }
        self.index += 1;
        stats.records += 1;
        if got < n {
            let detail = format!("{what}: {got} of {n} bytes at end of file");
            stats.reject(self.index, RejectReason::TruncatedRecord.into(), detail);
            return Ok(None);
        }
        Ok(Some(self.index))
    }

    pub(super) fn pcap_record(
        &mut self,
        be: bool,
        nanos: bool,
        linktype: i32,
        out: &mut Vec<Event>,
        stats: &mut FileStats,
    ) -> io::Result<Step> {
        let Some(index) = self.record_header(16, "packet record header", stats)? else {
            return Ok(Step::End);
        };
        let caplen = u32_at(&self.buf, 8, be).unwrap_or(0) as usize;
        if caplen > MAX_RECORD_BYTES {
            let detail = format!(
                "captured length {caplen} over {MAX_RECORD_BYTES} bytes: the rest of the file is not read"
            );
            stats.reject(index, RejectReason::CorruptRecord.into(), detail);
            return Ok(Step::End);
        }
        let got = self.fill(caplen)?;
        if got < caplen {
            let detail = format!("packet data: {got} of {caplen} bytes at end of file");
            stats.reject(index, RejectReason::TruncatedRecord.into(), detail);
            return Ok(Step::End);
        }
        let parsed = if be {
            pcap_parser::pcap::parse_pcap_frame_be(&self.buf)
        } else {
            pcap_parser::pcap::parse_pcap_frame(&self.buf)
        };
        let Ok((_, frame)) = parsed else {
            stats.reject(
                index,
                RejectReason::CorruptRecord.into(),
                "packet record".into(),
            );
            return Ok(Step::More);
        };
        let frac = if nanos {
            i64::from(frame.ts_usec)
        } else {
            i64::from(frame.ts_usec) * 1000
        };
        let ts = Ts(i64::from(frame.ts_sec) * NANOS_PER_SEC + frac);
        let mut pktap = Pktap::default();
        let decoded = decode_link(linktype, frame.data, &mut pktap, 0);
        account(
            &mut self.agg,
            &self.ctx,
            ts,
            index,
            decoded,
            &pktap,
            None,
            out,
            stats,
        );
        Ok(Step::More)
    }

    pub(super) fn pcapng_block(
        &mut self,
        out: &mut Vec<Event>,
        stats: &mut FileStats,
    ) -> io::Result<Step> {
        let Some(index) = self.record_header(8, "block header", stats)? else {
            return Ok(Step::End);
        };
        let is_shb = self.buf[..4] == BT_SHB.to_le_bytes();
        let be = if is_shb {
            // The section's byte order is its byte-order magic's.
            if self.fill(4)? < 4 {
                stats.reject(
                    index,
                    RejectReason::TruncatedRecord.into(),
                    "section header at end of file".into(),
                );
                return Ok(Step::End);
            }
            match self.buf[8..12] {
                [0x4D, 0x3C, 0x2B, 0x1A] => false,
                [0x1A, 0x2B, 0x3C, 0x4D] => true,
                _ => {
                    let detail = "section header without the byte-order magic".to_string();
                    let reason = if index == 1 {
                        RejectReason::NotACapture
                    } else {
                        RejectReason::CorruptRecord
                    };
                    stats.reject(index, reason.into(), detail);
                    return Ok(Step::End);
                }
            }
        } else {
            match &self.state {
                State::Pcapng(Some(s)) => s.be,
                _ => {
                    let detail = "first block is not a pcapng section header".to_string();
                    stats.reject(index, RejectReason::NotACapture.into(), detail);
                    return Ok(Step::End);
                }
            }
        };
        let block_type = u32_at(&self.buf, 0, be).unwrap_or(0);
        let len = u32_at(&self.buf, 4, be).unwrap_or(0) as usize;
        if len < 12 || len & 3 != 0 || len > MAX_RECORD_BYTES || len < self.buf.len() {
            // The next block cannot be found without a valid length.
            let detail = format!(
                "block type 0x{block_type:08x} length {len}: the rest of the file is not read"
            );
            stats.reject(index, RejectReason::CorruptRecord.into(), detail);
            return Ok(Step::End);
        }
        let have = self.buf.len();
        let got = self.fill(len - have)?;
        if got < len - have {
            let detail = format!(
                "block type 0x{block_type:08x}: {} of {len} bytes at end of file",
                have + got
            );
            stats.reject(index, RejectReason::TruncatedRecord.into(), detail);
            return Ok(Step::End);
        }
        let buf = std::mem::take(&mut self.buf);
        self.block(block_type, be, &buf, index, out, stats);
        self.buf = buf;
        Ok(Step::More)
    }

    /// One whole pcapng block. Only the blocks used are parsed; the others are skipped by length.
    fn block(
        &mut self,
        block_type: u32,
        be: bool,
        buf: &[u8],
        index: u64,
        out: &mut Vec<Event>,
        stats: &mut FileStats,
    ) {
        let corrupt = |stats: &mut FileStats, what: &str| {
            let detail = format!("{what} block does not parse");
            stats.reject(index, RejectReason::CorruptRecord.into(), detail);
        };
        match block_type {
            BT_SHB => {
                if parse_sectionheaderblock(buf).is_err() {
                    return corrupt(stats, "section header");
                }
                self.state = State::Pcapng(Some(Section {
                    be,
                    interfaces: Vec::new(),
                    processes: Vec::new(),
                }));
                stats.skip("pcapng section header".into());
            }
            BT_IDB => {
                let parsed = if be {
                    parse_interfacedescriptionblock_be(buf)
                } else {
                    parse_interfacedescriptionblock_le(buf)
                };
                let Ok((_, idb)) = parsed else {
                    return corrupt(stats, "interface description");
                };
                if let State::Pcapng(Some(s)) = &mut self.state {
                    s.interfaces.push(Interface {
                        linktype: idb.linktype.0,
                        units: ts_units(idb.if_tsresol),
                        offset_secs: idb.if_tsoffset,
                    });
                }
                stats.skip("pcapng interface description".into());
            }
            PCAPNG_BT_PIB => {
                let parsed = if be {
                    parse_processinformationblock_be(buf)
                } else {
                    parse_processinformationblock_le(buf)
                };
                let Ok((_, pib)) = parsed else {
                    return corrupt(stats, "process information");
                };
                let text = |code: u16| {
                    option(&pib.options, code)
                        .map(|v| {
                            String::from_utf8_lossy(v)
                                .trim_end_matches('\0')
                                .to_string()
                        })
                        .filter(|s| !s.is_empty())
                };
                let tag = ProcessTag {
                    // "As reported by the OS, may wrap": kept as the kernel's pid_t.
                    pid: pib.process_id as i32,
                    name: text(OPT_PIB_NAME),
                    path: text(OPT_PIB_PATH),
                };
                if let State::Pcapng(Some(s)) = &mut self.state {
                    s.processes.push(tag);
                }
                stats.skip("pcapng process information".into());
            }
            BT_EPB => {
                let parsed = if be {
                    parse_enhancedpacketblock_be(buf)
                } else {
                    parse_enhancedpacketblock_le(buf)
                };
                let Ok((_, epb)) = parsed else {
                    return corrupt(stats, "enhanced packet");
                };
                self.epb(&epb, be, index, out, stats);
            }
            BT_SPB => stats.skip("pcapng simple packet (no timestamp)".into()),
            t => stats.skip(format!("pcapng block type 0x{t:08x}").into()),
        }
    }

    fn epb(
        &mut self,
        epb: &EnhancedPacketBlock<'_>,
        be: bool,
        index: u64,
        out: &mut Vec<Event>,
        stats: &mut FileStats,
    ) {
        let State::Pcapng(Some(section)) = &self.state else {
            // Unreachable (a block before a section header ends the file), but counted anyway.
            return stats.reject(
                index,
                RejectReason::NotACapture.into(),
                "packet outside a section".into(),
            );
        };
        let Some(ifc) = section.interfaces.get(epb.if_id as usize) else {
            let detail = format!(
                "interface {} but the section describes {}",
                epb.if_id,
                section.interfaces.len()
            );
            return stats.reject(index, RejectReason::UnknownInterface.into(), detail);
        };
        let Some(ts) = ifc.ts(epb.ts_high, epb.ts_low) else {
            let detail = "timestamp does not fit the interface's resolution and offset".into();
            return stats.reject(index, RejectReason::BadTimestamp.into(), detail);
        };
        let u32_opt = |code| option(&epb.options, code).and_then(|v| u32_at(v, 0, be));
        // epb_flags bits 0-1: 01 inbound, 10 outbound, 00 unknown.
        if u32_opt(OPT_EPB_FLAGS).is_some_and(|f| f & 0x3 == 0x1) {
            return stats.skip("inbound packet (epb_flags)".into());
        }
        // PIB_INDEX names the process that owns the socket (what nettop and the unified log also
        // report, and what the engine's process tree starts from); E_PIB_INDEX is the process it
        // acts for (nsurlsessiond for an app), a delegation hint. It attributes only packets that
        // lack PIB_INDEX, so a packet still has a process rather than none.
        let pib = u32_opt(OPT_EPB_PIB_INDEX).or_else(|| u32_opt(OPT_EPB_E_PIB_INDEX));
        let process = match pib {
            None => None,
            Some(i) => match section.processes.get(i as usize) {
                Some(p) => Some(p),
                None => {
                    let detail = format!(
                        "packet names process block {i}, the section has {}",
                        section.processes.len()
                    );
                    return stats.reject(index, RejectReason::PibIndexOutOfRange.into(), detail);
                }
            },
        };
        let mut pktap = Pktap::default();
        let decoded = decode_link(ifc.linktype, epb.packet_data(), &mut pktap, 0);
        account(
            &mut self.agg,
            &self.ctx,
            ts,
            index,
            decoded,
            &pktap,
            process,
            out,
            stats,
        );
    }
}

fn pcap_magic(b: &[u8]) -> bool {
    matches!(
        b.get(..4),
        Some(
            [0xD4, 0xC3, 0xB2, 0xA1]
                | [0xA1, 0xB2, 0xC3, 0xD4]
                | [0x4D, 0x3C, 0xB2, 0xA1]
                | [0xA1, 0xB2, 0x3C, 0x4D]
        )
    )
}

/// The value (cut to its declared length) of the first option with `code`.
fn option<'a>(opts: &'a [PcapNGOption<'a>], code: u16) -> Option<&'a [u8]> {
    opts.iter()
        .find(|o| o.code.0 == code)
        .and_then(|o| o.as_bytes().ok())
}
