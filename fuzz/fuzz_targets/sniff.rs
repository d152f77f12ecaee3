#![no_main]
//! Format sniffing on an input's head (`floodwatch_sources::sniff`).
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = floodwatch_sources::sniff(data);
});
