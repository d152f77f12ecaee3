#![no_main]
//! The unified log scanner against serde, line by line: whatever the scanner reads, serde must read
//! too, to the same fields (`unifiedlog::fast_path_check` panics the target otherwise).
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for line in text.lines() {
        if let Err(e) = floodwatch_sources::unifiedlog::fast_path_check(line) {
            panic!("{e}");
        }
    }
});
