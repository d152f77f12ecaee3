//! Shared harness for the floodwatch fuzz targets.

use std::io::Read;
use std::sync::{Arc, OnceLock};

use floodwatch_sources::{ClockHints, FileSource, Format, SourceCtx};

static INPUT: OnceLock<floodwatch_core::config::Input> = OnceLock::new();

/// The context the unit tests use (`testutil::ctx` in floodwatch-sources), with the default input config.
pub fn ctx() -> SourceCtx {
    SourceCtx {
        file_id: 0,
        path: Arc::from("fuzz-input"),
        host: Arc::from("fuzzhost"),
        host_forced: false,
        clock: ClockHints::default(),
        // `Config::default()` parses the built-in TOML: once per process, not once per input.
        input: INPUT
            .get_or_init(|| floodwatch_core::config::Config::default().input)
            .clone(),
    }
}

/// Reads `data` as `format` through a `FileSource`, draining `next_events` until it ends or errors.
pub fn drain(data: &[u8], format: Format) {
    let mut src = FileSource::new(data, format, ctx());
    let mut out = Vec::new();
    loop {
        match src.next_events(&mut out) {
            Ok(true) => {
                // Keep memory flat on long inputs; the events are what a sink would take.
                out.clear();
            }
            Ok(false) | Err(_) => break,
        }
    }
    let _ = src.last_record();
    let _ = src.utc_offset();
}

/// At most this many decoded bytes are read from one input (a gzip/zstd bomb must not exhaust memory).
pub const DECODE_CAP: u64 = 16 * 1024 * 1024;

/// The decompression layer: magic-byte detection, gzip/zstd decoding, BOM stripping; read to the end
/// (capped), and the damage note asked for.
pub fn decode(data: &[u8]) {
    let Ok(mut decoded) = floodwatch_sources::input::decode(std::io::Cursor::new(data.to_vec()))
    else {
        return;
    };
    let head = decoded.read_head(4096);
    if head.is_err() {
        return;
    }
    let mut sink = Vec::new();
    let _ = (&mut decoded.reader).take(DECODE_CAP).read_to_end(&mut sink);
    let _ = decoded.damage.note();
    let _ = decoded.encoding.seekable();
}
