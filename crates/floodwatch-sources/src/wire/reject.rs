//! Why a record is rejected: one list of reasons for every format, so that the same failure counts
//! under the same reason whether it came from eslogger, nettop, a capture or any other source. The
//! reason is the category the summary counts by; what is format-specific (which field, what value,
//! which byte) goes in the reject's `detail`.

use std::borrow::Cow;
use std::fmt;

/// The reject categories. [`RejectReason::as_str`] is the text the summary counts and prints, so
/// it is stable: changing one changes every report that counts it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RejectReason {
    // Framing: any text format.
    /// A record over `input.max_line_bytes`: a line, or a multi-line JSON object.
    LineTooLong,
    /// The input ends inside its last record: a last line without newline that does not parse, or
    /// a JSON array never closed.
    TruncatedLastLine,
    /// A text record holding a NUL byte: binary garbage inside a text file (no text format has a
    /// raw NUL; Zeek escapes it as `\x00`).
    BinaryData,

    // Record content: any format.
    /// Not JSON at all, or broken JSON (including text where a JSON record was expected).
    InvalidJson,
    /// A JSON value of the wrong type (a string where a number or an object must be).
    WrongType,
    MissingField,
    /// A value of the right type that cannot be used: a number cell that is not a number, an id
    /// out of range, an empty event object.
    BadValue,
    /// A time that does not parse or does not fit.
    BadTimestamp,
    /// A table row (Zeek TSV, nettop) that fits no header: before any header, a wrong number of
    /// fields, no name cell.
    BadRow,
    /// A counter beyond what its interval could carry (`input.nettop_max_bytes_per_s`): a nettop
    /// counter reading 2^64-1 for a frame, a Zeek conn.log count near 2^64.
    CounterGlitch,

    // Captures: the record is a pcap packet record or a pcapng block.
    /// No pcap or pcapng file header (or one this reader does not read).
    NotACapture,
    /// The file ends inside a packet record or block.
    TruncatedRecord,
    /// A record whose length or layout cannot be read; the rest of the file may be lost with it.
    CorruptRecord,
    /// A packet naming an interface its section does not describe.
    UnknownInterface,
    /// A packet naming a process information block its section does not have.
    PibIndexOutOfRange,
    /// A packet captured shorter than its link-layer header.
    TruncatedFrame,
    /// A link-layer header (PKTAP) whose own length is impossible.
    CorruptFrame,
    /// A packet captured shorter than its IP header.
    TruncatedIpHeader,
    CorruptIpHeader,
    /// Binary capture bytes handed to a text record parser (a `FileSource` never does).
    BinaryFormat,
}

impl RejectReason {
    pub fn as_str(self) -> &'static str {
        use RejectReason::*;
        match self {
            LineTooLong => "line too long",
            TruncatedLastLine => "truncated last line",
            BinaryData => "binary data",
            InvalidJson => "invalid JSON",
            WrongType => "wrong type",
            MissingField => "missing field",
            BadValue => "bad value",
            BadTimestamp => "bad timestamp",
            BadRow => "bad row",
            CounterGlitch => "counter glitch",
            NotACapture => "not a capture",
            TruncatedRecord => "truncated record",
            CorruptRecord => "corrupt record",
            UnknownInterface => "unknown interface",
            PibIndexOutOfRange => "PIB index out of range",
            TruncatedFrame => "truncated frame",
            CorruptFrame => "corrupt frame",
            TruncatedIpHeader => "truncated IP header",
            CorruptIpHeader => "corrupt IP header",
            BinaryFormat => "binary format",
        }
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// [`FileStats::reject`](crate::FileStats::reject) counts by text: the engine's own rejects (out of
/// order, timestamp out of range) are counted in the same table.
impl From<RejectReason> for Cow<'static, str> {
    fn from(r: RejectReason) -> Self {
        Cow::Borrowed(r.as_str())
    }
}

/// A record that should have been usable but is not: counted, located and reported.
#[derive(Clone, Debug, PartialEq)]
pub struct Reject {
    /// The category, used for counting.
    pub reason: RejectReason,
    /// Specifics for the user (which field, what value).
    pub detail: String,
}

impl Reject {
    pub fn new(reason: RejectReason, detail: impl Into<String>) -> Self {
        Reject {
            reason,
            detail: detail.into(),
        }
    }
}
