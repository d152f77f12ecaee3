#!/usr/bin/env bash
# floodwatch's eslogger parser against serde_json, sonic-rs and simd-json reading the same fields of
# the same lines (bench/json-crates/src/main.rs), one core. Built for this CPU (-C target-cpu=native):
# sonic-rs and simd-json pick their SIMD instructions when compiled, so this is their best case
# (floodwatch's release binary picks its own at run time).
# Usage: bench/json-crates.sh [ESLOGGER_FILE]   (default: one host's file of the compare-duckdb fleet)
set -euo pipefail
cd "$(dirname "$0")/.."
FILE=${1:-bench/out/fleet-300mb-16h/mac-0000/eslogger.jsonl}
if [ $# -eq 0 ]; then
  source bench/bulk-fleet.sh
  bulk_fleet 300 16
fi
RUSTFLAGS="-C target-cpu=native" CARGO_TARGET_DIR=bench/out/json-crates-target \
  cargo build --release -q --manifest-path bench/json-crates/Cargo.toml
taskset -c 0 bench/out/json-crates-target/release/json-crates "$FILE"
