//! Helpers shared by the simulator's integration tests.

use std::path::Path;

/// Every file under `d` with its path relative to `d`, sorted: two runs compare byte for byte.
pub fn dir_bytes(d: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![d.to_path_buf()];
    while let Some(p) = stack.pop() {
        for e in std::fs::read_dir(&p).unwrap() {
            let e = e.unwrap().path();
            if e.is_dir() {
                stack.push(e);
            } else {
                out.push((
                    e.strip_prefix(d).unwrap().to_string_lossy().into_owned(),
                    std::fs::read(&e).unwrap(),
                ));
            }
        }
    }
    out.sort();
    out
}
