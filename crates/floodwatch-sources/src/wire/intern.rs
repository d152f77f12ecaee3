//! One shared copy of each text that repeats across a source's records: executable paths,
//! working directories, signing and team ids. A host runs few distinct binaries, so most records
//! name a path already seen; handing out a reference to one `Arc<str>` saves an allocation (and,
//! in the agent, a free on another thread) per field per event.
//!
//! Memory is bounded: a table that outgrows its limits is emptied and refilled from what comes
//! next. Texts already handed out live on in the events that hold them.

use super::json::JsonStr;
use super::scan::{RawStr, Scan};
use crate::{Reject, RejectReason};
use serde::{Deserialize, Deserializer};
use std::sync::Arc;

/// Most texts a table holds before it is emptied (per table: plain and escaped).
const MAX_ENTRIES: usize = 4096;
/// Most bytes of text a table holds before it is emptied.
const MAX_BYTES: usize = 1 << 20;

/// A string field as a parser read it: still in its JSON form (the hand-written scanner, which
/// does not decode what it may find in the table) or decoded (serde).
#[derive(Debug)]
pub(crate) enum Text<'a> {
    Raw(RawStr<'a>),
    Json(JsonStr<'a>),
}

impl Text<'_> {
    /// A copy of the decoded text, for the rare field not worth a table (a session's tty).
    pub(crate) fn to_owned_string(&self) -> Result<String, BadEscape> {
        match self {
            Text::Raw(r) => r.decode().map(|c| c.into_owned()).map_err(|_| BadEscape),
            Text::Json(j) => Ok(j.to_owned_string()),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        match self {
            // An escape is never empty text, and a raw text without one is its own decoding.
            Text::Raw(r) => r.raw.is_empty(),
            Text::Json(j) => j.as_str().is_empty(),
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        JsonStr::deserialize(d).map(Text::Json)
    }
}

/// A list of strings as a parser read it: decoded (serde), or the scanner's checked JSON text of
/// the array, which the interner decodes only when it has not seen the same array before.
pub(crate) enum TextList<'a> {
    Json(Vec<JsonStr<'a>>),
    Raw(&'a str),
}

impl<'de: 'a, 'a> Deserialize<'de> for TextList<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Vec::<JsonStr<'a>>::deserialize(d).map(TextList::Json)
    }
}

/// The decoding of an escape failed where the scanner had accepted it: cannot happen, but the
/// parser rejects the record rather than trusting that.
#[derive(Debug)]
pub(crate) struct BadEscape;

impl From<BadEscape> for Reject {
    fn from(_: BadEscape) -> Reject {
        Reject::new(
            RejectReason::InvalidJson,
            "a string escape could not be decoded",
        )
    }
}

#[derive(Default)]
pub(crate) struct Interner {
    /// Texts without escapes, looked up by themselves.
    plain: Table<Arc<str>>,
    /// Texts with escapes, looked up by their JSON form (`\/usr\/bin\/curl`), so a text seen
    /// before is not decoded again. A separate table: a decoded text may itself look escaped.
    escaped: Table<(Box<str>, Arc<str>)>,
    /// Exec argument lists, looked up by their JSON text (`["curl","-s","https:\/\/x"]`): a
    /// host's automation runs the same command lines again and again.
    args: Table<(Box<str>, Arc<[String]>)>,
}

struct Table<T> {
    set: foldhash::HashSet<Entry<T>>,
    bytes: usize,
}

impl<T> Default for Table<T> {
    fn default() -> Self {
        Table {
            set: foldhash::HashSet::default(),
            bytes: 0,
        }
    }
}

impl<T> Table<T> {
    /// Makes room for `len` more bytes, emptying the table when it is full.
    fn reserve(&mut self, len: usize) {
        if self.set.len() >= MAX_ENTRIES || self.bytes + len > MAX_BYTES {
            self.set.clear();
            self.bytes = 0;
        }
        self.bytes += len;
    }
}

/// A table entry, hashed and compared by its key text.
struct Entry<T>(T);

trait Keyed {
    fn key(&self) -> &str;
}

impl Keyed for Arc<str> {
    fn key(&self) -> &str {
        self
    }
}

/// A decoded value looked up by its JSON form.
impl<V: ?Sized> Keyed for (Box<str>, Arc<V>) {
    fn key(&self) -> &str {
        &self.0
    }
}

impl<V: ?Sized> Table<(Box<str>, Arc<V>)> {
    /// The shared value of a JSON form: the one in the table, or `decode`'s (kept, with `size`
    /// bytes of it counted against the table's limit).
    fn shared<E>(
        &mut self,
        json: &str,
        decode: impl FnOnce() -> Result<Arc<V>, E>,
        size: impl FnOnce(&V) -> usize,
    ) -> Result<Arc<V>, E> {
        if let Some(e) = self.set.get(json) {
            return Ok(e.0 .1.clone());
        }
        let a = decode()?;
        self.reserve(json.len() + size(&a));
        self.set.insert(Entry((json.into(), a.clone())));
        Ok(a)
    }
}

impl<T: Keyed> std::hash::Hash for Entry<T> {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.0.key().hash(h)
    }
}

impl<T: Keyed> PartialEq for Entry<T> {
    fn eq(&self, other: &Self) -> bool {
        self.0.key() == other.0.key()
    }
}

impl<T: Keyed> Eq for Entry<T> {}

impl<T: Keyed> std::borrow::Borrow<str> for Entry<T> {
    fn borrow(&self) -> &str {
        self.0.key()
    }
}

impl Interner {
    /// The shared copy of a decoded text.
    pub(crate) fn str(&mut self, s: &str) -> Arc<str> {
        if let Some(e) = self.plain.set.get(s) {
            return e.0.clone();
        }
        let a: Arc<str> = Arc::from(s);
        self.plain.reserve(s.len());
        self.plain.set.insert(Entry(a.clone()));
        a
    }

    /// [`Interner::text`] of a field that may be absent.
    pub(crate) fn opt(&mut self, t: Option<Text<'_>>) -> Result<Option<Arc<str>>, BadEscape> {
        t.map(|t| self.text(t)).transpose()
    }

    /// The shared copy of a field's text, decoding it only when it was not seen before.
    pub(crate) fn text(&mut self, t: Text<'_>) -> Result<Arc<str>, BadEscape> {
        match t {
            Text::Raw(r) if r.escaped => self.escaped.shared(
                r.raw,
                || r.decode().map(Arc::from).map_err(|_| BadEscape),
                str::len,
            ),
            Text::Raw(r) => Ok(self.str(r.raw)),
            Text::Json(j) => Ok(self.str(j.as_str())),
        }
    }

    /// The shared copy of an exec's arguments, decoding the array only when it was not seen before.
    pub(crate) fn args(
        &mut self,
        args: Option<TextList<'_>>,
    ) -> Result<Option<Arc<[String]>>, BadEscape> {
        let json = match args {
            None => return Ok(None),
            Some(TextList::Json(v)) => {
                return Ok(Some(v.into_iter().map(JsonStr::into_string).collect()))
            }
            Some(TextList::Raw(json)) => json,
        };
        let decode = || {
            let mut v = Vec::new();
            Scan::new(json)
                .array(|s| {
                    v.push(s.string()?.into_owned());
                    Ok(())
                })
                .map_err(|_| BadEscape)?;
            Ok(Arc::from(v))
        };
        let size = |a: &[String]| a.iter().map(String::len).sum();
        self.args.shared(json, decode, size).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::scan::Scan;

    fn raw(json: &str) -> Text<'_> {
        Text::Raw(Scan::new(json).raw_string().expect("a JSON string"))
    }

    #[test]
    fn texts_decode_as_serde_does_and_repeat_as_one_copy() {
        let mut i = Interner::default();
        for json in [
            r#""\/usr\/bin\/curl""#,
            r#""plain""#,
            r#""tab\there \"quoted\" \u00e9 \ud83d\ude00 back\\slash""#,
            r#""\\\/usr""#,
            r#""""#,
        ] {
            let want: String = serde_json::from_str(json).expect("valid JSON");
            let first = i.text(raw(json)).expect("decodes");
            assert_eq!(&*first, want, "{json}");
            let again = i.text(raw(json)).expect("decodes");
            assert!(Arc::ptr_eq(&first, &again), "{json} is shared");
            // The decoded text, as serde hands it over, finds the same text.
            assert_eq!(&*i.str(&want), want);
        }
    }

    #[test]
    fn an_escaped_form_and_a_decoded_text_that_looks_like_it_stay_apart() {
        let mut i = Interner::default();
        // JSON `"\/bin"` is the text `/bin`; the decoded text `\/bin` must not be taken for it.
        assert_eq!(&*i.text(raw(r#""\/bin""#)).expect("decodes"), "/bin");
        let json_text: JsonStr = serde_json::from_str(r#""\\\/bin""#).expect("valid JSON");
        assert_eq!(&*i.text(Text::Json(json_text)).expect("decoded"), r"\/bin");
        assert_eq!(&*i.str(r"\/bin"), r"\/bin");
        assert_eq!(&*i.text(raw(r#""\/bin""#)).expect("decodes"), "/bin");
    }

    fn raw_list(json: &str) -> Option<TextList<'_>> {
        let mut s = Scan::new(json);
        let text = s.string_array_text().expect("an array of strings");
        s.end().expect("nothing after the array");
        Some(TextList::Raw(text))
    }

    #[test]
    fn argument_lists_decode_as_serde_does_and_repeat_as_one_copy() {
        let mut i = Interner::default();
        for json in [
            r#"["curl","-s","https:\/\/example.com\/a b"]"#,
            r#"[]"#,
            r#"[ "ping" , "-f",	"10.0.0.1" ]"#,
            r#"["tab\there","\"quoted\"","\u00e9\ud83d\ude00","back\\slash",""]"#,
            r#"["/bin/sh","-c","echo \u0000"]"#,
        ] {
            let want: Vec<String> = serde_json::from_str(json).expect("valid JSON");
            let first = i.args(raw_list(json)).expect("decodes").expect("a list");
            assert_eq!(&*first, &want[..], "{json}");
            let again = i.args(raw_list(json)).expect("decodes").expect("a list");
            assert!(Arc::ptr_eq(&first, &again), "{json} is shared");
            // serde's decoded list gives the same arguments.
            let decoded: Vec<JsonStr> = serde_json::from_str(json).expect("valid JSON");
            let via_serde = i.args(Some(TextList::Json(decoded))).expect("decoded");
            assert_eq!(via_serde.as_deref(), Some(&want[..]), "{json}");
        }
        assert!(i.args(None).expect("nothing to decode").is_none());
    }

    #[test]
    fn only_arrays_of_strings_are_taken_as_argument_lists() {
        for json in [
            r#"["curl",1]"#,
            r#"["curl",null]"#,
            r#"[["nested"]]"#,
            r#""curl -s""#,
            r#"["unterminated"#,
            r#"["bad \x escape"]"#,
            "[\"raw\u{1}control\"]",
        ] {
            assert!(
                Scan::new(json).string_array_text().is_err(),
                "{json} is not read as arguments"
            );
        }
    }

    #[test]
    fn a_full_table_is_emptied_and_texts_stay_correct() {
        let mut i = Interner::default();
        let first = i.str("/usr/bin/curl");
        for n in 0..3 * MAX_ENTRIES {
            let s = format!("/tmp/{n}");
            assert_eq!(&*i.str(&s), s);
            let json = format!("\"\\/tmp\\/{n}\"");
            assert_eq!(&*i.text(raw(&json)).expect("decodes"), s);
        }
        for n in 0..2 * MAX_ENTRIES {
            let json = format!(r#"["\/bin\/sleep","{n}"]"#);
            let args = i.args(raw_list(&json)).expect("decodes").expect("a list");
            assert_eq!(&*args, ["/bin/sleep".to_string(), n.to_string()]);
        }
        assert!(i.plain.set.len() <= MAX_ENTRIES && i.escaped.set.len() <= MAX_ENTRIES);
        assert!(i.args.set.len() <= MAX_ENTRIES && i.args.bytes <= MAX_BYTES);
        // Evicted, then read again: a new copy with the same text; the old one is still whole.
        let again = i.str("/usr/bin/curl");
        assert_eq!(again, first);
        let big = "x".repeat(MAX_BYTES / 2 + 1);
        i.str(&big);
        i.str(&format!("{big}y"));
        assert!(i.plain.bytes <= MAX_BYTES);
    }
}
