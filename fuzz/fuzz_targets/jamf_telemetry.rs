#![no_main]
//! `Format::JamfTelemetry` (Jamf Protect's current telemetry stream) through `FileSource`
//! (object framing + the Endpoint Security model shared with eslogger), drained to the end.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    floodwatch_fuzz::drain(data, floodwatch_sources::Format::JamfTelemetry);
});
