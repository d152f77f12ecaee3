//! The cells of a row, whatever the layout: the name cell (`Name.pid` process or `proto
//! local<->remote` socket) and byte counts.

use super::{FastMap, Name, What};
use crate::wire::text::trim;
use crate::{Reject, RejectReason};
use floodwatch_core::event::Proto;
use std::sync::Arc;

/// Name cells remembered with their parse (a capture repeats the same names every frame); the memory
/// is dropped and rebuilt when there are more distinct ones than this.
const MAX_CACHED_CELLS: usize = 16_384;

/// [`name_cell`], remembered by the cell's text. Inlined: returned through memory, the clone was
/// read back in wider pieces than it was written, and every row stalled on it.
#[inline]
pub(super) fn cached_name_cell(cache: &mut FastMap<Box<str>, What>, cell: &str) -> Option<What> {
    if let Some(what) = cache.get(cell) {
        return Some(what.clone());
    }
    cache_new_cell(cache, cell)
}

/// The miss path of [`cached_name_cell`], out of line.
#[inline(never)]
fn cache_new_cell(cache: &mut FastMap<Box<str>, What>, cell: &str) -> Option<What> {
    let what = name_cell(cell)?;
    if cache.len() >= MAX_CACHED_CELLS {
        cache.clear();
    }
    cache.insert(cell.into(), what.clone());
    Some(what)
}

/// `Name.pid` (split on the last dot: names contain dots) or `proto local<->remote`.
pub(super) fn name_cell(cell: &str) -> Option<What> {
    let cell = cell.trim();
    if let Some((proto, endpoints)) = cell.split_once(' ') {
        if let Some((_, remote)) = endpoints.split_once("<->") {
            if proto.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Some(What::Socket {
                    proto: socket_proto(proto),
                    desc: Name::new(cell.into()),
                    remote: remote_endpoint(remote.trim()).map(Arc::from),
                });
            }
        }
    }
    let (name, pid) = cell.rsplit_once('.')?;
    if name.is_empty() || pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(What::Process {
        name: Name::new(name.into()),
        pid: pid.parse().ok()?,
    })
}

fn socket_proto(p: &str) -> Proto {
    if p.starts_with("tcp") {
        Proto::Tcp
    } else if p.starts_with("udp") {
        Proto::Udp
    } else if p.starts_with("quic") {
        Proto::Quic
    } else {
        Proto::Other
    }
}

/// None for wildcards (`*:*`, `*.*`, `*.5353`); IPv6 `addr.port` becomes `[addr]:port` so every remote
/// reads host:port like IPv4 (`17.57.146.138:5223`) and hostnames (`one.one.one.one:443`).
fn remote_endpoint(r: &str) -> Option<String> {
    if r.is_empty() || r.starts_with('*') {
        return None;
    }
    if r.matches(':').count() >= 2 {
        if let Some((host, port)) = r.rsplit_once('.') {
            if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) {
                return Some(format!("[{host}]:{port}"));
            }
        }
    }
    Some(r.to_string())
}

/// A byte count: digits, or a number with a unit as nettop prints without `-x` (`1.5 MiB`).
/// Empty and `-` mean "no value" (0), anything else is an error.
pub(super) fn count_cell(what: &str, cell: &str) -> Result<u64, Reject> {
    let c = trim(cell);
    if c.is_empty() || c == "-" {
        return Ok(0);
    }
    // The usual cell, digits only, in two words (`parse` checks a sign and multiplies with an
    // overflow check per digit: a tenth of a row); longer or other cells go to `parse`.
    if let Some(v) = crate::wire::swar::digits_16(c.as_bytes()) {
        return Ok(v);
    }
    if let Ok(v) = c.parse::<u64>() {
        return Ok(v);
    }
    let bad = || {
        Reject::new(
            RejectReason::BadValue,
            format!("{what} {c:?} is not a byte count"),
        )
    };
    let split = c
        .find(|ch: char| !(ch.is_ascii_digit() || ch == '.'))
        .ok_or_else(bad)?;
    let v: f64 = c[..split].parse().map_err(|_| bad())?;
    let scale = match c[split..].trim() {
        "B" => 1.0,
        "KiB" | "KB" | "K" => 1024.0,
        "MiB" | "MB" | "M" => 1024.0 * 1024.0,
        "GiB" | "GB" | "G" => 1024.0 * 1024.0 * 1024.0,
        "TiB" | "TB" | "T" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return Err(bad()),
    };
    let n = (v * scale).round();
    if n.is_finite() && n >= 0.0 && n < u64::MAX as f64 {
        Ok(n as u64)
    } else {
        Err(bad())
    }
}
