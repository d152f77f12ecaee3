#![no_main]
//! `Format::ZeekJson` through `FileSource` (framing + parser), drained to the end.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    floodwatch_fuzz::drain(data, floodwatch_sources::Format::ZeekJson);
});
