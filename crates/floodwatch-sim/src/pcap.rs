//! Packet captures for tests and benchmarks: legacy pcap and pcapng, including Apple's `tcpdump -k`
//! (PKTAP) additions: the Process Information Block (`0x80000001`) and the EPB options naming it.
//!
//! No real PKTAP capture is public (shared/corpus/pcapng/PROVENANCE.md), so these writers follow the
//! block layout of Apple libpcap's `pcap/pcap-ng.h` byte for byte: 32-bit aligned bodies and options,
//! the block length repeated at the end, and every field of a section in that section's byte order.

/// Byte order of a pcapng section (or of a legacy pcap file).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endian {
    Little,
    Big,
}

impl Endian {
    fn u16(self, v: u16) -> [u8; 2] {
        match self {
            Endian::Little => v.to_le_bytes(),
            Endian::Big => v.to_be_bytes(),
        }
    }
    fn u32(self, v: u32) -> [u8; 4] {
        match self {
            Endian::Little => v.to_le_bytes(),
            Endian::Big => v.to_be_bytes(),
        }
    }
    fn i64(self, v: i64) -> [u8; 8] {
        match self {
            Endian::Little => v.to_le_bytes(),
            Endian::Big => v.to_be_bytes(),
        }
    }
}

pub const LINKTYPE_NULL: u16 = 0;
pub const LINKTYPE_ETHERNET: u16 = 1;
pub const LINKTYPE_RAW: u16 = 101;
/// libpcap's LINKTYPE_PKTAP (Darwin's DLT_PKTAP is 149 in memory, 258 in files).
pub const LINKTYPE_PKTAP: u16 = 258;

pub const PCAPNG_BT_PIB: u32 = 0x8000_0001;
/// EPB option: index of the packet's Process Information Block in the section.
pub const EPB_PIB_INDEX: u16 = 0x8001;
/// EPB option: index of the effective (delegated) process's PIB.
pub const EPB_E_PIB_INDEX: u16 = 0x8003;
/// EPB `epb_flags` direction bits.
pub const EPB_FLAG_INBOUND: u32 = 0x1;
pub const EPB_FLAG_OUTBOUND: u32 = 0x2;

/// Options of one Enhanced Packet Block.
#[derive(Clone, Copy, Debug, Default)]
pub struct EpbOptions {
    pub flags: Option<u32>,
    pub pib_index: Option<u32>,
    pub e_pib_index: Option<u32>,
}

/// Builds a pcapng file in memory: sections, interfaces, process blocks and packets, in call order.
pub struct PcapngWriter {
    buf: Vec<u8>,
    endian: Endian,
    /// Timestamp units per second of each interface of the current section.
    units: Vec<u64>,
}

impl Default for PcapngWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl PcapngWriter {
    pub fn new() -> Self {
        PcapngWriter {
            buf: Vec::new(),
            endian: Endian::Little,
            units: Vec::new(),
        }
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// A block of `block_type` with `body` (padded here to 32 bits) and the trailing length.
    pub fn block(&mut self, block_type: u32, body: &[u8]) {
        let e = self.endian;
        let padded = body.len().div_ceil(4) * 4;
        let total = (12 + padded) as u32;
        self.buf.extend_from_slice(&e.u32(block_type));
        self.buf.extend_from_slice(&e.u32(total));
        self.buf.extend_from_slice(body);
        self.buf.resize(self.buf.len() + padded - body.len(), 0);
        self.buf.extend_from_slice(&e.u32(total));
    }

    fn option(&self, out: &mut Vec<u8>, code: u16, value: &[u8]) {
        out.extend_from_slice(&self.endian.u16(code));
        out.extend_from_slice(&self.endian.u16(value.len() as u16));
        out.extend_from_slice(value);
        out.resize(out.len().div_ceil(4) * 4, 0);
    }

    fn end_options(&self, out: &mut Vec<u8>) {
        self.option(out, 0, &[]);
    }

    /// Starts a section in `endian` byte order: interface and PIB numbering start again.
    pub fn section(&mut self, endian: Endian) {
        self.endian = endian;
        self.units.clear();
        let mut body = Vec::new();
        body.extend_from_slice(&endian.u32(0x1A2B_3C4D));
        body.extend_from_slice(&endian.u16(1));
        body.extend_from_slice(&endian.u16(0));
        body.extend_from_slice(&endian.i64(-1));
        self.block(0x0A0D_0D0A, &body);
    }

    /// An interface; `tsresol_pow10` is `if_tsresol` (None: the default, microseconds).
    pub fn interface(&mut self, linktype: u16, tsresol_pow10: Option<u8>) {
        let e = self.endian;
        let mut body = Vec::new();
        body.extend_from_slice(&e.u16(linktype));
        body.extend_from_slice(&e.u16(0));
        body.extend_from_slice(&e.u32(262_144));
        if let Some(r) = tsresol_pow10 {
            self.option(&mut body, 9, &[r]);
            self.end_options(&mut body);
        }
        self.units
            .push(10u64.pow(u32::from(tsresol_pow10.unwrap_or(6))));
        self.block(1, &body);
    }

    /// A Process Information Block: `pid` then PIB_NAME (2), PIB_PATH (3), PIB_UUID (4).
    pub fn process(&mut self, pid: u32, name: &str, path: Option<&str>, uuid: Option<[u8; 16]>) {
        let mut body = Vec::new();
        body.extend_from_slice(&self.endian.u32(pid));
        self.option(&mut body, 2, name.as_bytes());
        if let Some(p) = path {
            self.option(&mut body, 3, p.as_bytes());
        }
        if let Some(u) = uuid {
            self.option(&mut body, 4, &u);
        }
        self.end_options(&mut body);
        self.block(PCAPNG_BT_PIB, &body);
    }

    /// An Enhanced Packet Block at `ts_nanos` (epoch) on interface `if_id`.
    pub fn packet(&mut self, if_id: u32, ts_nanos: i64, frame: &[u8], opts: EpbOptions) {
        let e = self.endian;
        let units = self.units.get(if_id as usize).copied().unwrap_or(1_000_000);
        let ts = (i128::from(ts_nanos) * i128::from(units) / 1_000_000_000) as u64;
        let mut body = Vec::new();
        body.extend_from_slice(&e.u32(if_id));
        body.extend_from_slice(&e.u32((ts >> 32) as u32));
        body.extend_from_slice(&e.u32(ts as u32));
        body.extend_from_slice(&e.u32(frame.len() as u32));
        body.extend_from_slice(&e.u32(frame.len() as u32));
        body.extend_from_slice(frame);
        body.resize(body.len().div_ceil(4) * 4, 0);
        let any = opts.flags.is_some() || opts.pib_index.is_some() || opts.e_pib_index.is_some();
        if let Some(f) = opts.flags {
            self.option(&mut body, 2, &e.u32(f));
        }
        if let Some(i) = opts.pib_index {
            self.option(&mut body, EPB_PIB_INDEX, &e.u32(i));
        }
        if let Some(i) = opts.e_pib_index {
            self.option(&mut body, EPB_E_PIB_INDEX, &e.u32(i));
        }
        if any {
            self.end_options(&mut body);
        }
        self.block(6, &body);
    }
}

/// Builds a legacy pcap file (microsecond or nanosecond timestamps, either byte order).
pub struct PcapWriter {
    buf: Vec<u8>,
    endian: Endian,
    nanos: bool,
}

impl PcapWriter {
    pub fn new(endian: Endian, nanos: bool, linktype: u32) -> Self {
        let magic: u32 = if nanos { 0xA1B2_3C4D } else { 0xA1B2_C3D4 };
        let mut buf = Vec::new();
        buf.extend_from_slice(&endian.u32(magic));
        buf.extend_from_slice(&endian.u16(2));
        buf.extend_from_slice(&endian.u16(4));
        buf.extend_from_slice(&endian.u32(0));
        buf.extend_from_slice(&endian.u32(0));
        buf.extend_from_slice(&endian.u32(262_144));
        buf.extend_from_slice(&endian.u32(linktype));
        PcapWriter { buf, endian, nanos }
    }

    pub fn packet(&mut self, ts_nanos: i64, frame: &[u8]) {
        let e = self.endian;
        let secs = ts_nanos.div_euclid(1_000_000_000);
        let frac = ts_nanos.rem_euclid(1_000_000_000);
        let frac = if self.nanos { frac } else { frac / 1000 };
        self.buf.extend_from_slice(&e.u32(secs as u32));
        self.buf.extend_from_slice(&e.u32(frac as u32));
        self.buf.extend_from_slice(&e.u32(frame.len() as u32));
        self.buf.extend_from_slice(&e.u32(frame.len() as u32));
        self.buf.extend_from_slice(frame);
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }
}

// ---- Frames -------------------------------------------------------------------------------------

pub const TCP_SYN: u8 = 0x02;
pub const TCP_RST: u8 = 0x04;
pub const TCP_ACK: u8 = 0x10;

/// A TCP header (20 bytes, no options) with `flags`, followed by `payload` zero bytes.
pub fn tcp(src_port: u16, dst_port: u16, flags: u8, payload: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(20 + payload);
    v.extend_from_slice(&src_port.to_be_bytes());
    v.extend_from_slice(&dst_port.to_be_bytes());
    v.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0x50, flags, 0xFF, 0xFF, 0, 0, 0, 0]);
    v.resize(20 + payload, 0);
    v
}

/// A UDP header followed by `payload` zero bytes.
pub fn udp(src_port: u16, dst_port: u16, payload: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(8 + payload);
    v.extend_from_slice(&src_port.to_be_bytes());
    v.extend_from_slice(&dst_port.to_be_bytes());
    v.extend_from_slice(&((8 + payload) as u16).to_be_bytes());
    v.extend_from_slice(&[0, 0]);
    v.resize(8 + payload, 0);
    v
}

/// An ICMP echo request (type 8; ICMPv6 128 when `v6`) with `payload` bytes, as `ping` sends.
pub fn icmp_echo(v6: bool, id: u16, seq: u16, payload: usize) -> Vec<u8> {
    let mut v = vec![if v6 { 128 } else { 8 }, 0, 0, 0];
    v.extend_from_slice(&id.to_be_bytes());
    v.extend_from_slice(&seq.to_be_bytes());
    v.resize(8 + payload, 0x5A);
    v
}

/// An IPv4 packet (20-byte header, checksum left 0) around `l4`.
pub fn ipv4(src: [u8; 4], dst: [u8; 4], proto: u8, l4: &[u8]) -> Vec<u8> {
    let total = (20 + l4.len()) as u16;
    let mut v = vec![0x45, 0];
    v.extend_from_slice(&total.to_be_bytes());
    v.extend_from_slice(&[0, 1, 0x40, 0, 64, proto, 0, 0]);
    v.extend_from_slice(&src);
    v.extend_from_slice(&dst);
    v.extend_from_slice(l4);
    v
}

/// An IPv6 packet (no extension headers) around `l4`.
pub fn ipv6(src: [u8; 16], dst: [u8; 16], next: u8, l4: &[u8]) -> Vec<u8> {
    let mut v = vec![0x60, 0, 0, 0];
    v.extend_from_slice(&(l4.len() as u16).to_be_bytes());
    v.extend_from_slice(&[next, 64]);
    v.extend_from_slice(&src);
    v.extend_from_slice(&dst);
    v.extend_from_slice(l4);
    v
}

/// An Ethernet II frame carrying `ethertype`.
pub fn ethernet(ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0x02];
    v.extend_from_slice(&ethertype.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

/// A BSD loopback (DLT_NULL) frame: the address family in host (here little-endian) order.
pub fn null_loopback(family: u32, payload: &[u8]) -> Vec<u8> {
    let mut v = family.to_le_bytes().to_vec();
    v.extend_from_slice(payload);
    v
}

/// Darwin's `struct pktap_header` (108 bytes, host = little-endian order) before a frame of
/// link type `dlt`: pid and command name of the sending process, direction in `pth_flags`.
pub fn pktap(pid: i32, comm: &str, dlt: u32, flags: u32, frame: &[u8]) -> Vec<u8> {
    const LEN: usize = 108;
    let mut v = vec![0u8; LEN];
    v[0..4].copy_from_slice(&(LEN as u32).to_le_bytes());
    v[4..8].copy_from_slice(&1u32.to_le_bytes()); // PTH_TYPE_PACKET
    v[8..12].copy_from_slice(&dlt.to_le_bytes());
    v[12..15].copy_from_slice(b"en0");
    v[36..40].copy_from_slice(&flags.to_le_bytes());
    v[52..56].copy_from_slice(&pid.to_le_bytes());
    let c = comm.as_bytes();
    let n = c.len().min(16);
    v[56..56 + n].copy_from_slice(&c[..n]);
    v[84..88].copy_from_slice(&pid.to_le_bytes());
    v.extend_from_slice(frame);
    v
}
