//! STUB: replaced by the real parser.
use crate::{Parsed, RecordParser, Reject, SourceCtx};
use floodwatch_core::event::Event;

pub struct OsqueryParser {
    #[allow(dead_code)]
    ctx: SourceCtx,
}

impl OsqueryParser {
    pub fn new(ctx: SourceCtx) -> Self {
        OsqueryParser { ctx }
    }
}

impl RecordParser for OsqueryParser {
    fn parse(
        &mut self,
        _record: &str,
        _line: u64,
        _out: &mut Vec<Event>,
    ) -> Result<Parsed, Reject> {
        Ok(Parsed::Skipped("not implemented".into()))
    }
}
