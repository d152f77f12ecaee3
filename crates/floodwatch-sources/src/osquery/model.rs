//! The osquery result envelope as serde reads it, and its rows: columns in file order whose values
//! may be JSON strings (the default) or numbers (`--logger_numerics`), read as numbers either way.

use crate::wire::json::JsonStr;
use crate::{Reject, RejectReason};
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

/// `auid` of processes that never went through a login.
const AUID_UNSET: u32 = u32::MAX;

#[derive(Deserialize)]
pub(super) struct Envelope<'a> {
    #[serde(borrow)]
    pub(super) name: Option<JsonStr<'a>>,
    #[serde(borrow, rename = "hostIdentifier")]
    pub(super) host_identifier: Option<JsonStr<'a>>,
    /// Legacy (and the docs' example) spelling of `hostIdentifier`.
    #[serde(borrow)]
    pub(super) hostname: Option<JsonStr<'a>>,
    #[serde(borrow, rename = "calendarTime")]
    pub(super) calendar_time: Option<JsonStr<'a>>,
    #[serde(borrow, rename = "unixTime")]
    pub(super) unix_time: Option<Val<'a>>,
    #[serde(borrow)]
    pub(super) action: Option<JsonStr<'a>>,
    #[serde(borrow)]
    pub(super) columns: Option<Row<'a>>,
    #[serde(borrow)]
    pub(super) snapshot: Option<Vec<Row<'a>>>,
    #[serde(borrow, rename = "diffResults")]
    pub(super) diff_results: Option<Diff<'a>>,
    pub(super) severity: Option<IgnoredAny>,
    pub(super) message: Option<IgnoredAny>,
}

#[derive(Deserialize)]
pub(super) struct Diff<'a> {
    #[serde(borrow)]
    pub(super) added: Option<Vec<Row<'a>>>,
    #[serde(borrow)]
    pub(super) removed: Option<Vec<Row<'a>>>,
}

/// One JSON value as osquery writes it: a string, or a number/bool with `--logger_numerics`.
pub(super) enum Val<'a> {
    Str(JsonStr<'a>),
    Int(i64),
    UInt(u64),
    Float(f64),
    Bool(bool),
    Null,
    /// An object or array (not a column type osquery writes): never read.
    Nested,
}

/// A value that should be a number and is not.
pub(super) struct NotANumber;

impl Val<'_> {
    /// `Ok(None)` for null and empty strings (osquery's "no value").
    pub(super) fn int(&self) -> Result<Option<i64>, NotANumber> {
        match self {
            Val::Str(s) => {
                let t = s.as_str().trim();
                if t.is_empty() {
                    Ok(None)
                } else {
                    t.parse().map(Some).map_err(|_| NotANumber)
                }
            }
            Val::Int(i) => Ok(Some(*i)),
            Val::UInt(u) => i64::try_from(*u).map(Some).map_err(|_| NotANumber),
            Val::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e18 => Ok(Some(*f as i64)),
            Val::Bool(b) => Ok(Some(*b as i64)),
            Val::Null => Ok(None),
            Val::Float(_) | Val::Nested => Err(NotANumber),
        }
    }

    /// Text as written, numbers formatted; `None` for null and nested values.
    pub(super) fn text(&self) -> Option<Cow<'_, str>> {
        match self {
            Val::Str(s) => Some(Cow::Borrowed(s.as_str())),
            Val::Int(i) => Some(i.to_string().into()),
            Val::UInt(u) => Some(u.to_string().into()),
            Val::Float(f) => Some(f.to_string().into()),
            Val::Bool(b) => Some(if *b { "1" } else { "0" }.into()),
            Val::Null | Val::Nested => None,
        }
    }
}

impl fmt::Debug for Val<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.text() {
            Some(t) => fmt::Debug::fmt(t.as_ref(), f),
            None if matches!(self, Val::Null) => f.write_str("null"),
            None => f.write_str("{…}"),
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Val<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Val<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a column value")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Val<'de>, E> {
                Ok(Val::Str(JsonStr(Cow::Borrowed(v))))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Val<'de>, E> {
                Ok(Val::Str(JsonStr(Cow::Owned(v.to_owned()))))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Val<'de>, E> {
                Ok(Val::Str(JsonStr(Cow::Owned(v))))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Val<'de>, E> {
                Ok(Val::Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Val<'de>, E> {
                Ok(Val::UInt(v))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Val<'de>, E> {
                Ok(Val::Float(v))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Val<'de>, E> {
                Ok(Val::Bool(v))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Val<'de>, E> {
                Ok(Val::Null)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Val<'de>, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Val::Nested)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Val<'de>, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Val::Nested)
            }
        }
        d.deserialize_any(V)
    }
}

/// One result row: columns in file order. Rows are small (a few dozen columns), so a linear
/// lookup beats hashing.
pub(super) struct Row<'a>(pub(super) Vec<(JsonStr<'a>, Val<'a>)>);

impl<'de: 'a, 'a> Deserialize<'de> for Row<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Row<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a row object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Row<'de>, A::Error> {
                let mut cols = Vec::with_capacity(map.size_hint().unwrap_or(24));
                while let Some(entry) = map.next_entry::<JsonStr<'de>, Val<'de>>()? {
                    cols.push(entry);
                }
                Ok(Row(cols))
            }
        }
        d.deserialize_map(V)
    }
}

impl Row<'_> {
    pub(super) fn get(&self, col: &str) -> Option<&Val<'_>> {
        self.0
            .iter()
            .find(|(k, _)| k.as_str() == col)
            .map(|(_, v)| v)
    }

    pub(super) fn has(&self, col: &str) -> bool {
        self.get(col).is_some()
    }

    /// The text of a column, empty included (for columns where empty means something).
    pub(super) fn raw_text(&self, col: &str) -> Option<&str> {
        match self.get(col)? {
            Val::Str(s) => Some(s.as_str()),
            _ => None,
        }
    }

    /// Non-empty text of a column (osquery writes "" for "unknown").
    pub(super) fn text(&self, col: &str) -> Option<Cow<'_, str>> {
        self.get(col)?.text().filter(|t| !t.is_empty())
    }

    pub(super) fn string(&self, col: &str) -> Option<String> {
        self.text(col).map(Cow::into_owned)
    }

    /// [`Row::text`] as the event model's shared text, in one allocation.
    pub(super) fn shared(&self, col: &str) -> Option<Arc<str>> {
        self.text(col).map(|t| Arc::from(&*t))
    }

    pub(super) fn int(&self, col: &str) -> Result<Option<i64>, Reject> {
        match self.get(col) {
            None => Ok(None),
            Some(v) => v.int().map_err(|NotANumber| {
                Reject::new(
                    RejectReason::BadValue,
                    format!("column {col}: {v:?} is not a number"),
                )
            }),
        }
    }

    fn out_of_range(col: &str, v: i64) -> Reject {
        Reject::new(
            RejectReason::BadValue,
            format!("column {col}: {v} is out of range"),
        )
    }

    /// A pid column; negative means "none" (osquery writes -1).
    pub(super) fn pid(&self, col: &str) -> Result<Option<i32>, Reject> {
        match self.int(col)? {
            Some(v) if v < 0 => Ok(None),
            Some(v) => i32::try_from(v)
                .map(Some)
                .map_err(|_| Self::out_of_range(col, v)),
            None => Ok(None),
        }
    }

    pub(super) fn required_pid(&self, col: &str) -> Result<i32, Reject> {
        self.pid(col)?
            .ok_or_else(|| Reject::new(RejectReason::MissingField, format!("column {col}")))
    }

    /// A uid/auid-like column; negative and 4294967295 mean "unset".
    pub(super) fn id(&self, col: &str) -> Result<Option<u32>, Reject> {
        match self.int(col)? {
            Some(v) if v < 0 || v == AUID_UNSET as i64 => Ok(None),
            Some(v) => u32::try_from(v)
                .map(Some)
                .map_err(|_| Self::out_of_range(col, v)),
            None => Ok(None),
        }
    }

    pub(super) fn int32(&self, col: &str) -> Result<Option<i32>, Reject> {
        match self.int(col)? {
            Some(v) => i32::try_from(v)
                .map(Some)
                .map_err(|_| Self::out_of_range(col, v)),
            None => Ok(None),
        }
    }

    /// "1"/"0" (or a JSON bool/number).
    pub(super) fn flag(&self, col: &str) -> Result<Option<bool>, Reject> {
        match self.get(col) {
            None => Ok(None),
            Some(Val::Bool(b)) => Ok(Some(*b)),
            Some(Val::Str(s)) if s.as_str().eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(Val::Str(s)) if s.as_str().eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(_) => Ok(self.int(col)?.map(|v| v != 0)),
        }
    }
}
