//! STUB: replaced by the real parser.
use crate::{Parsed, RecordParser, Reject, SourceCtx};
use floodwatch_core::event::Event;

pub struct NettopParser {
    #[allow(dead_code)]
    ctx: SourceCtx,
}

impl NettopParser {
    pub fn new_csv(ctx: SourceCtx) -> Self {
        NettopParser { ctx }
    }
    pub fn new_fixed(ctx: SourceCtx) -> Self {
        NettopParser { ctx }
    }
}

impl RecordParser for NettopParser {
    fn parse(
        &mut self,
        _record: &str,
        _line: u64,
        _out: &mut Vec<Event>,
    ) -> Result<Parsed, Reject> {
        Ok(Parsed::Skipped("not implemented".into()))
    }
}
