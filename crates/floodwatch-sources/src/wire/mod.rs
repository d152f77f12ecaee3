//! What every format shares in reading its records, so that it is written once: the reject
//! vocabulary ([`reject`]: one list of reasons for every format) and the JSON layer ([`json`]: the
//! borrow-or-own string, one object per record, serde errors mapped to reject reasons, the host
//! names records carry), the shared copies of texts that repeat across records ([`intern`]), and
//! known keys told apart without a tree of compares ([`keys`]).

pub(crate) mod flat;
pub(crate) mod intern;
pub(crate) mod json;
pub(crate) mod keys;
pub(crate) mod lanes;
pub(crate) mod reject;
pub(crate) mod scan;
pub(crate) use floodwatch_core::swar;
pub(crate) mod text;
