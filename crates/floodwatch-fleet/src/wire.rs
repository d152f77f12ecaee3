//! What travels on the fleet's subjects, versioned.
//!
//! Every message body starts with `FW`, the wire version, and its kind (`Z` an event frame, `E` one
//! not compressed, `F` a finding), then the bitcode encoding of the normalized types themselves
//! (zstd-compressed for `Z`: a frame shrinks several times, which the server stores and every link
//! carries, and the server's cost follows bytes, not events) ([`Frame`] of
//! [`Event`]s, [`FindingMsg`] of an [`Alert`] or [`NetworkFinding`]): compact, and no second model
//! of an event to keep in step. Bitcode has no schema of its own, so [`WIRE_VERSION`] is bumped
//! whenever one of these types changes shape; a message of another version is refused (counted,
//! never guessed at).
//!
//! A host's name is also a subject token (`floodwatch.events.<token>`): [`host_token`] keeps
//! letters, digits, `-` and `_` and writes every other byte as `%XX`, so any name (dots, spaces,
//! `*`, `>`, non-ASCII) is one valid token. The name itself is in the body and in the
//! `Floodwatch-Host` header.

use floodwatch_core::alert::Alert;
use floodwatch_core::event::Event;
use floodwatch_core::finding::NetworkFinding;
use std::fmt::Write;
use std::sync::Arc;

/// Bumped whenever [`Frame`], [`FindingMsg`] or a type inside them changes shape.
pub const WIRE_VERSION: u8 = 1;

const MAGIC: &[u8; 2] = b"FW";
const KIND_FRAME: u8 = b'E';
const KIND_FRAME_ZSTD: u8 = b'Z';
const KIND_FINDING: u8 = b'F';

/// zstd's fastest level: the publisher (a Mac's agent, or `fleet publish`) pays it on every frame.
const ZSTD_LEVEL: i32 = 1;

/// The most a compressed frame may expand to: far above any frame a publisher makes (the server
/// takes 1 MB messages by default), and a bound on what a hostile message can cost a worker.
const MAX_FRAME_BYTES: u64 = 256 << 20;

/// A run of one host's events, in the engine's order.
#[derive(Clone, Debug, Default, bitcode::Encode, bitcode::Decode)]
pub struct Frame {
    pub host: String,
    /// The host's files (its sources), by the index events name in `origin.file`: on a host's
    /// first frame, and again whenever they change; empty means as before.
    pub files: Vec<FileRef>,
    pub events: Vec<Event>,
    /// The host's stream ends after these events (a published collection): the worker finishes
    /// the host as a hunt finishes it (open episodes end, final states go out).
    pub end: bool,
}

/// A file (or an agent's source) as evidence names it, with its format's name.
#[derive(Clone, Debug, PartialEq, Eq, bitcode::Encode, bitcode::Decode)]
pub struct FileRef {
    pub path: String,
    pub format: String,
}

/// One finding state on `floodwatch.findings.<host>`.
#[derive(Clone, Debug, bitcode::Encode, bitcode::Decode)]
pub enum FindingMsg {
    Alert(Box<Alert>),
    Network(Box<NetworkFinding>),
    /// An agent's health finding (its OCSF JSON line).
    Health(String),
}

impl FindingMsg {
    pub fn host(&self) -> &str {
        match self {
            FindingMsg::Alert(a) => &a.host,
            FindingMsg::Network(n) => &n.host,
            FindingMsg::Health(_) => "",
        }
    }
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("not a floodwatch message (no FW header)")]
    NotOurs,
    #[error("wire version {found}, this build reads version {WIRE_VERSION}")]
    Version { found: u8 },
    #[error("a {found:?} message where a {expected:?} was expected")]
    Kind { expected: char, found: char },
    #[error("the body does not decode: {0}")]
    Body(String),
}

fn header(kind: u8) -> Vec<u8> {
    vec![MAGIC[0], MAGIC[1], WIRE_VERSION, kind]
}

fn body(bytes: &[u8], kind: u8) -> Result<&[u8], WireError> {
    let head = bytes.get(..4).ok_or(WireError::NotOurs)?;
    if &head[..2] != MAGIC {
        return Err(WireError::NotOurs);
    }
    if head[2] != WIRE_VERSION {
        return Err(WireError::Version { found: head[2] });
    }
    if head[3] != kind {
        return Err(WireError::Kind {
            expected: kind as char,
            found: head[3] as char,
        });
    }
    Ok(&bytes[4..])
}

/// A frame's bytes. Every event's host is the frame's: it is sent once, not per event.
pub fn encode_frame(mut frame: Frame) -> Vec<u8> {
    let empty: Arc<str> = Arc::from("");
    for ev in &mut frame.events {
        ev.host = empty.clone();
    }
    let plain = bitcode::encode(&frame);
    match zstd::bulk::compress(&plain, ZSTD_LEVEL) {
        Ok(z) => {
            let mut out = header(KIND_FRAME_ZSTD);
            out.extend_from_slice(&z);
            out
        }
        Err(_) => {
            let mut out = header(KIND_FRAME);
            out.extend_from_slice(&plain);
            out
        }
    }
}

/// A frame from its bytes, with a decoder of its own (see [`FrameDecoder`] for many frames).
pub fn decode_frame(bytes: &[u8]) -> Result<Frame, WireError> {
    FrameDecoder::default().decode(bytes)
}

/// Decodes frame after frame with the same zstd context, plain-text buffer and bitcode buffers: a
/// zstd context is about 100 KiB of zeroed memory, and making one per frame (with a fresh output
/// buffer) cost a worker a fifth of its time in page clearing and zeroed allocations.
#[derive(Default)]
pub struct FrameDecoder {
    zstd: Option<zstd::bulk::Decompressor<'static>>,
    plain: Vec<u8>,
    bitcode: bitcode::Buffer,
}

impl FrameDecoder {
    pub fn decode(&mut self, bytes: &[u8]) -> Result<Frame, WireError> {
        let mut frame: Frame = match body(bytes, KIND_FRAME_ZSTD) {
            Ok(z) => {
                self.inflate(z)?;
                self.bitcode.decode(&self.plain)
            }
            Err(WireError::Kind { .. }) => self.bitcode.decode(body(bytes, KIND_FRAME)?),
            Err(e) => return Err(e),
        }
        .map_err(|e| WireError::Body(e.to_string()))?;
        let host: Arc<str> = Arc::from(frame.host.as_str());
        for ev in &mut frame.events {
            ev.host = host.clone();
        }
        Ok(frame)
    }

    /// `z` decompressed into `self.plain`, refusing more than [`MAX_FRAME_BYTES`] before
    /// allocating it.
    fn inflate(&mut self, z: &[u8]) -> Result<(), WireError> {
        let zstd_err = |e: std::io::Error| WireError::Body(format!("zstd: {e}"));
        let too_big = || WireError::Body(format!("it expands past {MAX_FRAME_BYTES} bytes"));
        self.plain.clear();
        match zstd::zstd_safe::get_frame_content_size(z) {
            // Our publishers' frames (one-shot compression) say their size.
            Ok(Some(n)) => {
                if n > MAX_FRAME_BYTES {
                    return Err(too_big());
                }
                let d = match &mut self.zstd {
                    Some(d) => d,
                    None => self
                        .zstd
                        .insert(zstd::bulk::Decompressor::new().map_err(zstd_err)?),
                };
                self.plain.reserve(n as usize);
                let got = d
                    .decompress_to_buffer(z, &mut self.plain)
                    .map_err(zstd_err)?;
                if got as u64 != n {
                    return Err(WireError::Body(format!(
                        "zstd: {got} bytes where the frame says {n}"
                    )));
                }
            }
            // A streamed frame says nothing of its size: read it with a bound.
            Ok(None) => {
                use std::io::Read;
                zstd::stream::read::Decoder::new(z)
                    .and_then(|d| d.take(MAX_FRAME_BYTES + 1).read_to_end(&mut self.plain))
                    .map_err(zstd_err)?;
                if self.plain.len() as u64 > MAX_FRAME_BYTES {
                    return Err(too_big());
                }
            }
            Err(_) => return Err(WireError::Body("zstd: not a zstd frame".into())),
        }
        // Big frames' buffers are not kept for ever.
        if self.plain.capacity() > 64 << 20 && self.plain.len() < 16 << 20 {
            self.plain.shrink_to(16 << 20);
        }
        Ok(())
    }
}

pub fn encode_finding(f: &FindingMsg) -> Vec<u8> {
    let mut out = header(KIND_FINDING);
    out.extend_from_slice(&bitcode::encode(f));
    out
}

pub fn decode_finding(bytes: &[u8]) -> Result<FindingMsg, WireError> {
    bitcode::decode(body(bytes, KIND_FINDING)?).map_err(|e| WireError::Body(e.to_string()))
}

/// A host name as one subject token: `[A-Za-z0-9_-]` kept, every other byte `%XX`; an empty name is
/// `%`.
pub fn host_token(host: &str) -> String {
    let mut t = String::with_capacity(host.len());
    for b in host.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
            t.push(b as char);
        } else {
            let _ = write!(t, "%{b:02X}");
        }
    }
    if t.is_empty() {
        t.push('%');
    }
    t
}

/// A host name as a header value: printable ASCII kept (but `%`), every other byte `%XX`, so a
/// name cannot break the header block.
pub fn host_header(host: &str) -> String {
    let mut t = String::with_capacity(host.len());
    for b in host.bytes() {
        if (0x20..0x7f).contains(&b) && b != b'%' {
            t.push(b as char);
        } else {
            let _ = write!(t, "%{b:02X}");
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use floodwatch_core::event::{EventKind, Origin, ProcInfo, Traffic};
    use floodwatch_core::Ts;

    fn ev(host: &str, n: i64) -> Event {
        Event {
            ts: Ts::from_secs(1_758_000_000 + n),
            host: Arc::from(host),
            origin: Origin {
                file: 1,
                line: n as u64,
            },
            kind: if n % 2 == 0 {
                EventKind::ProcessSeen(Box::new(ProcInfo {
                    pid: 42,
                    path: Some("/usr/bin/curl".into()),
                    args: Some(["curl".into(), "-d".into(), "x\u{fffd}".into()].into()),
                    ..ProcInfo::default()
                }))
            } else {
                EventKind::Traffic(Box::new(Traffic {
                    pid: Some(42),
                    bytes_out: 1 << 40,
                    remote: Some(Arc::from("203.0.113.7:443")),
                    ..Traffic::default()
                }))
            },
        }
    }

    #[test]
    fn a_frame_round_trips_with_its_host_on_every_event() {
        let host = "mac.corp example*>";
        let f = Frame {
            host: host.into(),
            files: vec![FileRef {
                path: "/var/log/es.jsonl".into(),
                format: "eslogger".into(),
            }],
            events: (0..10).map(|n| ev(host, n)).collect(),
            end: true,
        };
        let bytes = encode_frame(f.clone());
        let back = decode_frame(&bytes).unwrap();
        assert_eq!(back.host, host);
        assert_eq!(back.files, f.files);
        assert!(back.end);
        assert_eq!(back.events.len(), 10);
        for (a, b) in back.events.iter().zip(&f.events) {
            assert_eq!(&*a.host, host);
            assert_eq!(format!("{a:?}"), format!("{b:?}"));
        }
    }

    #[test]
    fn foreign_old_and_cut_messages_are_refused() {
        let bytes = encode_frame(Frame {
            host: "h".into(),
            events: vec![ev("h", 1)],
            ..Frame::default()
        });
        assert_eq!(decode_frame(b"{}").unwrap_err(), WireError::NotOurs);
        let mut old = bytes.clone();
        old[2] = 0;
        assert_eq!(
            decode_frame(&old).unwrap_err(),
            WireError::Version { found: 0 }
        );
        assert!(matches!(
            decode_finding(&bytes).unwrap_err(),
            WireError::Kind { .. }
        ));
        assert!(matches!(
            decode_frame(&bytes[..bytes.len() - 3]).unwrap_err(),
            WireError::Body(_)
        ));
    }

    #[test]
    fn frames_are_compressed_and_an_uncompressed_one_still_reads() {
        let host = "mac-01";
        let f = Frame {
            host: host.into(),
            events: (0..512).map(|n| ev(host, n)).collect(),
            ..Frame::default()
        };
        let z = encode_frame(f.clone());
        assert_eq!(z[3], KIND_FRAME_ZSTD);
        let mut plain = header(KIND_FRAME);
        let mut bare = f.clone();
        for e in &mut bare.events {
            e.host = Arc::from("");
        }
        plain.extend_from_slice(&bitcode::encode(&bare));
        assert!(z.len() * 3 < plain.len(), "{} vs {}", z.len(), plain.len());
        let (a, b) = (decode_frame(&z).unwrap(), decode_frame(&plain).unwrap());
        assert_eq!(format!("{:?}", a.events), format!("{:?}", b.events));
        assert_eq!(a.events.len(), 512);
    }

    #[test]
    fn a_frame_that_expands_without_bound_is_refused() {
        // 300 MiB of zeros compress to a few KiB: a worker stops at its bound.
        let zeros = vec![0u8; 300 << 20];
        let mut bomb = header(KIND_FRAME_ZSTD);
        bomb.extend_from_slice(&zstd::bulk::compress(&zeros, 1).unwrap());
        assert!(bomb.len() < 1 << 20);
        let e = decode_frame(&bomb).unwrap_err();
        assert!(
            matches!(&e, WireError::Body(m) if m.contains("expands past")),
            "{e}"
        );
        let mut garbage = header(KIND_FRAME_ZSTD);
        garbage.extend_from_slice(b"not zstd at all");
        assert!(matches!(decode_frame(&garbage), Err(WireError::Body(_))));
    }

    #[test]
    fn one_decoder_takes_frame_after_frame_whatever_came_before() {
        let frame = |host: &str, n: i64| Frame {
            host: host.into(),
            events: (0..n).map(|i| ev(host, i)).collect(),
            ..Frame::default()
        };
        let (a, b) = (frame("a", 5000), frame("b", 3));
        let (ab, bb) = (encode_frame(a.clone()), encode_frame(b.clone()));
        // Compressed as a stream, with no size in its header (another publisher's way).
        let plain = bitcode::encode(&a);
        let mut streamed = header(KIND_FRAME_ZSTD);
        streamed.extend_from_slice(&zstd::stream::encode_all(&plain[..], 1).unwrap());
        assert!(matches!(
            zstd::zstd_safe::get_frame_content_size(&streamed[4..]),
            Ok(None)
        ));
        // A header that says half of what the frame holds: its 4-byte content size field (a
        // one-shot frame: no window descriptor, no dictionary) rewritten.
        let mut lying = ab.clone();
        let fhd = lying[4 + 4];
        assert_eq!((fhd >> 6, (fhd >> 5) & 1, fhd & 3), (2, 1, 0), "{fhd:#x}");
        let at = 4 + 5;
        let n = u32::from_le_bytes(lying[at..at + 4].try_into().unwrap());
        assert!(n as usize > plain.len() / 2);
        lying[at..at + 4].copy_from_slice(&(n / 2).to_le_bytes());
        let mut garbage = header(KIND_FRAME_ZSTD);
        garbage.extend_from_slice(b"not zstd at all");
        let mut d = FrameDecoder::default();
        let same = |x: &Frame, y: &Frame| {
            x.host == y.host && format!("{:?}", x.events) == format!("{:?}", y.events)
        };
        assert!(same(&d.decode(&ab).unwrap(), &a));
        assert!(same(&d.decode(&bb).unwrap(), &b));
        assert!(d.decode(&garbage).is_err());
        assert!(d.decode(&lying).is_err());
        assert!(same(&d.decode(&streamed).unwrap(), &a));
        assert!(same(&d.decode(&bb).unwrap(), &b));
        assert!(same(&d.decode(&ab).unwrap(), &a));
    }

    #[test]
    fn a_streamed_frame_that_expands_without_bound_is_refused() {
        let zeros = vec![0u8; 300 << 20];
        let mut bomb = header(KIND_FRAME_ZSTD);
        bomb.extend_from_slice(&zstd::stream::encode_all(&zeros[..], 1).unwrap());
        assert!(bomb.len() < 1 << 20);
        let e = FrameDecoder::default().decode(&bomb).unwrap_err();
        assert!(
            matches!(&e, WireError::Body(m) if m.contains("expands past")),
            "{e}"
        );
    }

    #[test]
    fn any_host_name_is_one_subject_token_and_a_safe_header() {
        assert_eq!(host_token("build-mac_07"), "build-mac_07");
        assert_eq!(host_token("a.b c*>"), "a%2Eb%20c%2A%3E");
        assert_eq!(host_token(""), "%");
        assert_eq!(host_token("é"), "%C3%A9");
        assert_eq!(host_header("a.b\r\nX: y"), "a.b%0D%0AX: y");
        assert_eq!(host_header("100%"), "100%25");
        // Distinct names stay distinct.
        assert_ne!(host_token("a.b"), host_token("a%2Eb"));
    }
}
