//! The input layer: a path or a stream → text bytes ready to sniff and frame. Rotated telemetry is
//! usually compressed, so gzip and zstd are decompressed transparently, told by their magic bytes
//! (never by the file name); bzip2, xz and zip are refused with a reason instead of being called
//! binary. A UTF-8 byte order mark is dropped here, so sniffing and the first record see the same text
//! whatever the format.
//!
//! Offsets handed to [`open_at`] are in the decoded, BOM-less text (what the framers count).

use std::fs::File;
use std::io::{self, BufRead, BufReader, Cursor, Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::{Arc, OnceLock};

/// The UTF-8 byte order mark some Windows-side tools write first.
pub const BOM: &[u8] = b"\xEF\xBB\xBF";
/// Enough bytes to tell every magic number below apart.
const MAGIC_BYTES: usize = 10;
/// Read buffer: large, so nearly every line lies whole in it (framing hands those out without a copy).
pub const BUF_BYTES: usize = 256 * 1024;

/// How an input's bytes are encoded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Encoding {
    #[default]
    Plain,
    Gzip,
    Zstd,
}

impl Encoding {
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Plain => "plain",
            Encoding::Gzip => "gzip",
            Encoding::Zstd => "zstd",
        }
    }

    /// Compressed data can only be read from its start: no seeking to a segment or to the tail.
    pub fn seekable(self) -> bool {
        self == Encoding::Plain
    }
}

/// Why an input is not read: it could not be, or it is refused (a compression this version does not
/// decode).
#[derive(Debug)]
pub enum OpenError {
    Io(io::Error),
    Refused(String),
}

impl From<io::Error> for OpenError {
    fn from(e: io::Error) -> Self {
        OpenError::Io(e)
    }
}

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpenError::Io(e) => write!(f, "cannot read: {e}"),
            OpenError::Refused(why) => f.write_str(why),
        }
    }
}

/// The encoding told by the first bytes (up to [`MAGIC_BYTES`]), or why the input is refused.
pub fn encoding(magic: &[u8]) -> Result<Encoding, String> {
    if magic.starts_with(&[0x1F, 0x8B]) {
        return Ok(Encoding::Gzip);
    }
    if magic.starts_with(&[0x28, 0xB5, 0x2F, 0xFD]) {
        return Ok(Encoding::Zstd);
    }
    if magic.starts_with(&[0xFD, b'7', b'z', b'X', b'Z', 0x00]) {
        return Err(
            "xz-compressed: decompress first (unxz), or recompress with gzip or zstd".into(),
        );
    }
    // `BZh` + block size digit, then a block or end-of-stream magic when that much is there: a text
    // line that happens to start with "BZh" is not taken for bzip2.
    if let [b'B', b'Z', b'h', b'1'..=b'9', rest @ ..] = magic {
        let block = [0x31, 0x41, 0x59, 0x26, 0x53, 0x59];
        let end = [0x17, 0x72, 0x45, 0x38, 0x50, 0x90];
        if rest.len() < 6 || rest.starts_with(&block) || rest.starts_with(&end) {
            return Err(
                "bzip2-compressed: decompress first (bunzip2), or recompress with gzip or zstd"
                    .into(),
            );
        }
    }
    if magic.starts_with(b"PK\x03\x04") {
        return Err("zip archive: extract it first".into());
    }
    Ok(Encoding::Plain)
}

/// A decode error met after the start, kept for the file's summary (the bytes decoded before it are
/// read; the rest is lost). Shared with the reader that meets it.
#[derive(Clone, Debug, Default)]
pub struct Damage(Arc<OnceLock<String>>);

impl Damage {
    /// The note for the summary, if decoding ended early.
    pub fn note(&self) -> Option<String> {
        self.0.get().cloned()
    }

    /// The first damage met is the one reported.
    fn set(&self, note: String) {
        let _ = self.0.set(note);
    }
}

/// A decoder whose errors end the input instead of the whole run: a truncated `.gz` (copied while it
/// was being written) keeps what it holds, and the summary says where it broke.
struct Lenient {
    inner: Box<dyn Read + Send>,
    encoding: Encoding,
    decoded: u64,
    ended: bool,
    damage: Damage,
}

impl Read for Lenient {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.ended {
            return Ok(0);
        }
        match self.inner.read(buf) {
            Ok(n) => {
                self.decoded += n as u64;
                Ok(n)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Err(e),
            Err(e) => {
                self.ended = true;
                self.damage.set(format!(
                    "{} data damaged or cut short after {} decoded bytes ({e}): the rest is not read",
                    self.encoding.name(),
                    self.decoded
                ));
                Ok(0)
            }
        }
    }
}

/// An input ready to frame: decoded and without a byte order mark.
pub struct Decoded {
    pub reader: Box<dyn BufRead + Send>,
    pub encoding: Encoding,
    /// Set when the compressed data turns out damaged or cut short while it is read.
    pub damage: Damage,
}

impl Decoded {
    /// Reads up to `limit` bytes of text (the head to sniff), leaving the reader after them.
    pub fn read_head(&mut self, limit: usize) -> io::Result<Vec<u8>> {
        read_up_to(&mut self.reader, limit)
    }
}

/// Reads until `n` bytes or the end of input (a pipe may hand them out a few at a time).
fn read_up_to(r: &mut dyn Read, n: usize) -> io::Result<Vec<u8>> {
    // All of `n` at once (at most a head, 256 KiB): growing from less copied every head of a hunt
    // twice over (0.6% of a fleet hunt in realloc and memcpy). Untouched capacity costs no memory.
    let mut v = Vec::with_capacity(n);
    r.take(n as u64).read_to_end(&mut v)?;
    Ok(v)
}

/// Decodes a stream (a file from its start, a pipe, stdin): its first bytes are looked at once and
/// kept, so nothing is read twice.
pub fn decode<R: Read + Send + 'static>(raw: R) -> Result<Decoded, OpenError> {
    decode_buffered(raw, BUF_BYTES)
}

/// [`decode`] for a stream that is buffered already (the agent's chunks): plain text is read from
/// that buffer as it is, not copied through a second one; compressed input is decoded as by
/// [`decode`].
pub fn decode_buf<R: BufRead + Send + 'static>(mut raw: R) -> Result<Decoded, OpenError> {
    let magic = read_up_to(&mut raw, MAGIC_BYTES)?;
    let encoding = encoding(&magic).map_err(OpenError::Refused)?;
    if encoding != Encoding::Plain {
        return decode(Cursor::new(magic).chain(raw));
    }
    let mut text = Cursor::new(magic).chain(raw);
    let first = read_up_to(&mut text, BOM.len())?;
    let first = if first == BOM { Vec::new() } else { first };
    Ok(Decoded {
        reader: Box::new(Cursor::new(first).chain(text)),
        encoding,
        damage: Damage::default(),
    })
}

/// [`decode`] with a read buffer of `capacity` bytes (a probe that reads little needs no large one).
fn decode_buffered<R: Read + Send + 'static>(
    mut raw: R,
    capacity: usize,
) -> Result<Decoded, OpenError> {
    let magic = read_up_to(&mut raw, MAGIC_BYTES)?;
    let encoding = encoding(&magic).map_err(OpenError::Refused)?;
    let raw = Cursor::new(magic).chain(raw);
    let damage = Damage::default();
    let lenient = |inner: Box<dyn Read + Send>| -> Box<dyn Read + Send> {
        Box::new(Lenient {
            inner,
            encoding,
            decoded: 0,
            ended: false,
            damage: damage.clone(),
        })
    };
    let mut text: Box<dyn Read + Send> = match encoding {
        Encoding::Plain => Box::new(raw),
        // Multi-member: `cat a.gz b.gz` and some rotators write several gzip members back to back.
        Encoding::Gzip => lenient(Box::new(flate2::read::MultiGzDecoder::new(raw))),
        Encoding::Zstd => lenient(Box::new(zstd::stream::read::Decoder::new(raw)?)),
    };
    let first = read_up_to(&mut text, BOM.len())?;
    let first = if first == BOM { Vec::new() } else { first };
    Ok(Decoded {
        reader: Box::new(BufReader::with_capacity(
            capacity,
            Cursor::new(first).chain(text),
        )),
        encoding,
        damage,
    })
}

/// Opens a file from its start, decoded.
pub fn open(path: &Path) -> Result<Decoded, OpenError> {
    decode(File::open(path)?)
}

/// Opens a file at `offset` of its decoded text (where a segment starts). A plain file is seeked
/// (past its byte order mark, which the offset does not count); compressed data cannot be, so it is
/// decoded from its start and the bytes before `offset` are dropped.
pub fn open_at(path: &Path, offset: u64) -> Result<Decoded, OpenError> {
    open_buffered(path, offset, BUF_BYTES)
}

fn open_buffered(path: &Path, offset: u64, capacity: usize) -> Result<Decoded, OpenError> {
    let mut f = File::open(path)?;
    if offset == 0 {
        return decode_buffered(f, capacity);
    }
    let magic = read_up_to(&mut f, MAGIC_BYTES)?;
    let encoding = encoding(&magic).map_err(OpenError::Refused)?;
    if encoding == Encoding::Plain {
        let bom = if magic.starts_with(BOM) { BOM.len() } else { 0 };
        f.seek(SeekFrom::Start(offset + bom as u64))?;
        return Ok(Decoded {
            reader: Box::new(BufReader::with_capacity(capacity, f)),
            encoding,
            damage: Damage::default(),
        });
    }
    f.rewind()?;
    let mut d = decode_buffered(f, capacity)?;
    io::copy(&mut (&mut d.reader).take(offset), &mut io::sink())?;
    Ok(d)
}

/// Up to `limit` bytes of a file's decoded text from `offset` (a head to sniff or probe), and its
/// encoding.
pub fn read_at(path: &Path, offset: u64, limit: usize) -> Result<(Vec<u8>, Encoding), OpenError> {
    let mut d = open_buffered(path, offset, limit.clamp(1, BUF_BYTES))?;
    Ok((d.read_head(limit)?, d.encoding))
}

/// The first `limit` bytes of a file's decoded text (what sniffing and the head probes read), and
/// its encoding.
pub fn read_head(path: &Path, limit: usize) -> Result<(Vec<u8>, Encoding), OpenError> {
    read_at(path, 0, limit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn all(raw: Vec<u8>) -> Result<(Vec<u8>, Encoding, Option<String>), String> {
        let mut d = decode(Cursor::new(raw)).map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        d.reader.read_to_end(&mut out).unwrap();
        Ok((out, d.encoding, d.damage.note()))
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    const TEXT: &[u8] = b"{\"a\":1}\n{\"b\":2}\n";

    /// `decode_buf` (a buffered stream, read from its own buffer) reads what `decode` reads.
    #[test]
    fn decode_buf_reads_what_decode_reads() {
        let buffered = |raw: Vec<u8>| {
            // A buffer of 3 bytes: the magic, the byte order mark and the lines all straddle it.
            let mut d = decode_buf(std::io::BufReader::with_capacity(3, Cursor::new(raw))).unwrap();
            let mut out = Vec::new();
            d.reader.read_to_end(&mut out).unwrap();
            (out, d.encoding)
        };
        let mut bom = BOM.to_vec();
        bom.extend(TEXT);
        let z = zstd::stream::encode_all(TEXT, 3).unwrap();
        for raw in [
            TEXT.to_vec(),
            bom.clone(),
            gzip(TEXT),
            gzip(&bom),
            z,
            b"{}".to_vec(),
            Vec::new(),
        ] {
            let (text, enc, _) = all(raw.clone()).unwrap();
            assert_eq!(buffered(raw), (text, enc));
        }
        let mut lines = decode_buf(Cursor::new(TEXT.to_vec())).unwrap().reader;
        let mut first = Vec::new();
        lines.read_until(b'\n', &mut first).unwrap();
        assert_eq!(first, b"{\"a\":1}\n");
    }

    #[test]
    fn plain_gzip_and_zstd_read_the_same_text() {
        assert_eq!(
            all(TEXT.to_vec()).unwrap(),
            (TEXT.to_vec(), Encoding::Plain, None)
        );
        assert_eq!(
            all(gzip(TEXT)).unwrap(),
            (TEXT.to_vec(), Encoding::Gzip, None)
        );
        let z = zstd::stream::encode_all(TEXT, 3).unwrap();
        assert_eq!(all(z).unwrap(), (TEXT.to_vec(), Encoding::Zstd, None));
        // Two gzip members back to back read as one text.
        let mut two = gzip(&TEXT[..8]);
        two.extend(gzip(&TEXT[8..]));
        assert_eq!(all(two).unwrap().0, TEXT);
        // Shorter than the magic, and empty.
        assert_eq!(all(b"{}".to_vec()).unwrap().0, b"{}");
        assert_eq!(all(Vec::new()).unwrap().0, b"");
    }

    #[test]
    fn a_byte_order_mark_is_dropped_compressed_or_not() {
        let mut bom = BOM.to_vec();
        bom.extend(TEXT);
        assert_eq!(all(bom.clone()).unwrap().0, TEXT);
        assert_eq!(all(gzip(&bom)).unwrap().0, TEXT);
        assert_eq!(all(BOM.to_vec()).unwrap().0, b"");
        // Only at the start.
        let mut inner = TEXT.to_vec();
        inner.extend(BOM);
        assert_eq!(all(inner.clone()).unwrap().0, inner);
    }

    #[test]
    fn bzip2_xz_and_zip_are_refused_by_name() {
        let bz = b"BZh91AY&SY\x00\x00".to_vec();
        assert!(all(bz)
            .unwrap_err()
            .starts_with("bzip2-compressed: decompress first"));
        let xz = b"\xFD7zXZ\x00\x00\x04".to_vec();
        assert!(all(xz)
            .unwrap_err()
            .starts_with("xz-compressed: decompress first"));
        assert!(all(b"PK\x03\x04rest".to_vec())
            .unwrap_err()
            .starts_with("zip archive"));
        // Text that merely starts like bzip2 is text.
        assert_eq!(all(b"BZh9 notes\n".to_vec()).unwrap().1, Encoding::Plain);
    }

    #[test]
    fn damaged_compressed_data_ends_the_input_with_a_note() {
        let big: Vec<u8> = (0..20_000)
            .flat_map(|i| format!("line {i}\n").into_bytes())
            .collect();
        let mut gz = gzip(&big);
        gz.truncate(gz.len() / 2);
        let (out, enc, note) = all(gz).unwrap();
        assert_eq!(enc, Encoding::Gzip);
        assert!(!out.is_empty() && out.len() < big.len());
        assert!(big.starts_with(&out));
        assert!(note
            .unwrap()
            .starts_with("gzip data damaged or cut short after"));
    }

    #[test]
    fn open_at_counts_offsets_in_the_decoded_text() {
        let d = tempfile::tempdir().unwrap();
        let mut bom = BOM.to_vec();
        bom.extend(TEXT);
        for (name, bytes) in [
            ("plain", TEXT.to_vec()),
            ("bom", bom.clone()),
            ("gz", gzip(&bom)),
        ] {
            let p = d.path().join(name);
            std::fs::write(&p, bytes).unwrap();
            let mut r = open_at(&p, 8).unwrap();
            let mut rest = String::new();
            r.reader.read_to_string(&mut rest).unwrap();
            assert_eq!(rest, "{\"b\":2}\n", "{name}");
            assert_eq!(read_head(&p, 5).unwrap().0, b"{\"a\":", "{name}");
            assert_eq!(read_at(&p, 9, 4).unwrap().0, b"\"b\":", "{name}");
        }
    }
}
