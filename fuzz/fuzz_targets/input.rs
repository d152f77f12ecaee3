#![no_main]
//! The decompression layer (`floodwatch_sources::input::decode`): magic bytes, gzip/zstd, BOM,
//! read to the end with a size cap.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    floodwatch_fuzz::decode(data);
});
