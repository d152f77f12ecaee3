#![no_main]
//! The eslogger fast path against serde, line by line: whatever the fast path reads, serde must read
//! too, to the same events (`eslogger::fast_path_check` panics the target otherwise).
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for line in text.lines() {
        if let Err(e) = floodwatch_sources::eslogger::fast_path_check(line) {
            panic!("{e}");
        }
    }
});
