//! The JSON layer every JSON format (eslogger, unified log, osquery, Zeek JSON, Jamf Protect,
//! Elastic Defend) reads through: a string that borrows from the record when it can, a record read
//! as one object, serde errors mapped onto the reject reasons (one map for every format), the host a
//! record names, input names cut for reasons, and `address:port` text.

use crate::{Reject, RejectReason, SourceCtx};
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

pub(crate) type Obj = Map<String, Value>;

/// Distinct host names kept interned (the rest are allocated per event).
const MAX_INTERNED_HOSTS: usize = 4096;
/// Longest input name (event type, query, action, dataset) echoed into a skip reason.
pub(crate) const MAX_NAME_IN_REASON: usize = 64;

/// A JSON string borrowed from the record when it has no escapes, owned when it has (eslogger
/// escapes every `/`: `"\/bin\/ls"`). `Option<Cow<str>>` alone always copies: serde only borrows a
/// `Cow` that is the field's own type, hence this wrapper.
pub(crate) struct JsonStr<'a>(pub(crate) Cow<'a, str>);

impl JsonStr<'_> {
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
    pub(crate) fn to_owned_string(&self) -> String {
        self.0.as_ref().to_owned()
    }
    /// The string, moved out when it is already owned (it had escapes), copied when borrowed.
    pub(crate) fn into_string(self) -> String {
        self.0.into_owned()
    }
}

impl fmt::Debug for JsonStr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for JsonStr<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = JsonStr<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(JsonStr(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(JsonStr(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(JsonStr(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// Maps a serde_json error onto the reject reasons; the message (with its column) is the detail.
pub(crate) fn json_reject(e: serde_json::Error) -> Reject {
    use serde_json::error::Category;
    let detail = e.to_string();
    let reason = match e.classify() {
        Category::Syntax | Category::Eof | Category::Io => RejectReason::InvalidJson,
        Category::Data if detail.starts_with("missing field") => RejectReason::MissingField,
        Category::Data if detail.starts_with("invalid type") => RejectReason::WrongType,
        Category::Data => RejectReason::BadValue,
    };
    Reject::new(reason, detail)
}

/// A record that must be one JSON object.
pub(crate) fn object(record: &str) -> Result<Obj, Reject> {
    match serde_json::from_str(record).map_err(json_reject)? {
        Value::Object(o) => Ok(o),
        _ => Err(Reject::new(RejectReason::WrongType, "not a JSON object")),
    }
}

/// The record with every lone UTF-16 surrogate escape (`\ud800`-`\udfff` not in a high-low
/// pair) replaced by `\ufffd`; None when it has none. serde_json refuses lone surrogates, but they
/// are how a collector may write bytes that are not UTF-8 (an attacker's argv): the record is read
/// lossily instead of being lost.
pub(crate) fn replace_lone_surrogates(record: &str) -> Option<String> {
    let b = record.as_bytes();
    let hex4 = |at: usize| -> Option<u32> {
        let digits = b.get(at..at + 4)?;
        if !digits.iter().all(u8::is_ascii_hexdigit) {
            return None;
        }
        u32::from_str_radix(std::str::from_utf8(digits).ok()?, 16).ok()
    };
    let is_escape = |at: usize| b.get(at) == Some(&b'\\') && b.get(at + 1) == Some(&b'u');
    let mut out = String::new();
    let mut copied = 0;
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            i += 1;
            continue;
        }
        // Any other escape (`\\` included) is two bytes: its second byte is not a backslash
        // that starts an escape.
        let Some(n) = is_escape(i).then(|| hex4(i + 2)).flatten() else {
            i += 2;
            continue;
        };
        let low = |m: u32| (0xDC00..=0xDFFF).contains(&m);
        if (0xD800..=0xDBFF).contains(&n) && is_escape(i + 6) && hex4(i + 8).is_some_and(low) {
            i += 12;
            continue;
        }
        if !(0xD800..=0xDFFF).contains(&n) {
            i += 6;
            continue;
        }
        // `i` is at a backslash, an ASCII byte: a character boundary.
        out.push_str(&record[copied..i]);
        out.push_str("\\ufffd");
        i += 6;
        copied = i;
    }
    if copied == 0 {
        return None;
    }
    out.push_str(&record[copied..]);
    Some(out)
}

/// An input name, cut to what a skip reason may echo.
pub(crate) fn cut(s: &str) -> String {
    s.chars().take(MAX_NAME_IN_REASON).collect()
}

/// `host:port`, `[v6]:port`, or the bare host without a port.
pub(crate) fn host_port(host: &str, port: Option<i64>) -> String {
    match port {
        Some(p) if host.contains(':') => format!("[{host}]:{p}"),
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    }
}

/// The host names records carry, interned: one allocation per host, not per event.
#[derive(Default)]
pub(crate) struct HostNames {
    names: HashMap<Box<str>, Arc<str>>,
}

impl HostNames {
    /// The record's own host (`own`, when given and not empty) unless `--host` forces the file's.
    pub(crate) fn get(&mut self, ctx: &SourceCtx, own: Option<&str>) -> Arc<str> {
        let name = match own.filter(|h| !h.is_empty()) {
            Some(name) if !ctx.host_forced => name,
            _ => return ctx.host.clone(),
        };
        if let Some(h) = self.names.get(name) {
            return h.clone();
        }
        let h: Arc<str> = Arc::from(name);
        if self.names.len() < MAX_INTERNED_HOSTS {
            self.names.insert(name.into(), h.clone());
        }
        h
    }
}
