//! What the JSON document sources (Elastic Defend, Jamf Protect, osquery, Zeek JSON) share: a
//! record read as one object, the host a record names, input names cut for reasons, and
//! `address:port` text.

use crate::{Reject, SourceCtx};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::Arc;

pub(crate) type Obj = Map<String, Value>;

/// Distinct host names kept interned (the rest are allocated per event).
const MAX_INTERNED_HOSTS: usize = 4096;
/// Longest name (action, dataset, event type) echoed into a skip reason: it comes from the input.
const MAX_NAME_IN_REASON: usize = 48;

/// A record that must be one JSON object.
pub(crate) fn object(record: &str) -> Result<Obj, Reject> {
    let v: Value =
        serde_json::from_str(record).map_err(|e| Reject::new("invalid JSON", e.to_string()))?;
    match v {
        Value::Object(o) => Ok(o),
        _ => Err(Reject::new("wrong type", "not a JSON object")),
    }
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
