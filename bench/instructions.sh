#!/usr/bin/env bash
# Instructions executed by `hunt --threads 1`, per input byte, counted by valgrind (cachegrind without
# its cache simulation). Unlike seconds, the count does not move with a noisy or throttled machine, so
# it tells whether a change made the work smaller; seconds (bench/format-throughput.sh) tell how fast
# that work runs on the day.
# Usage: bench/instructions.sh [BINARY...]   (default: target/release/floodwatch; several to compare)
#
# Inputs, from the fleet bench/compare-duckdb.sh uses (generated once, 300 MB over 16 hosts):
# - eslogger: one host's eslogger.jsonl;
# - nettop: one host's nettop.csv;
# - unifiedlog: one host's unifiedlog.ndjson (small: about 5 M of its count is any run's start-up);
# - fleet: all 48 files (eslogger, nettop, unified log), sniffing and merging included.
# Prints instructions, bytes, instructions per byte and per record, and the percentage against the first
# binary. A count repeats within about 1% for a given binary and input (hash seeds are random per run,
# as the parsers' maps must be against chosen names); about a minute and a half in all.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET=${CARGO_TARGET_DIR:-target}
OUT=bench/out
DATA=$OUT/fleet-300mb-16h
if [ $# -eq 0 ]; then
  cargo build --release -q -p floodwatch
  set -- "$TARGET/release/floodwatch"
fi
if ! command -v valgrind >/dev/null; then
  echo "installing valgrind (Debian package)" >&2
  apt-get install -y -q valgrind >/dev/null
fi
source bench/bulk-fleet.sh
bulk_fleet 300 16
HOST=$(ls -d "$DATA"/*/ | head -1)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

printf "%-10s %-28s %14s %12s %8s %10s %8s\n" input binary instructions bytes "ins/B" "ins/record" "vs 1st"
for input in eslogger:"$HOST/eslogger.jsonl" nettop:"$HOST/nettop.csv" \
  unifiedlog:"$HOST/unifiedlog.ndjson" fleet:"$DATA"; do
  name=${input%%:*}
  path=${input#*:}
  bytes=$(du -sbL "$path" | cut -f1)
  first=""
  for bin in "$@"; do
    valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null \
      "$bin" hunt "$path" --threads 1 --format jsonl >/dev/null 2>"$TMP/err" || {
      echo "$bin failed on $path:" >&2
      tail -5 "$TMP/err" >&2
      exit 1
    }
    ins=$(grep -m1 'I *refs:' "$TMP/err" | awk '{gsub(",", "", $NF); print $NF}')
    # The summary's per-file table: the records of every file read (lines, or JSON values).
    records=$(awk '/files read/{f=1; next} /hosts/{f=0} f && $2 ~ /^[0-9]+$/ {r += $2} END{print r + 0}' "$TMP/err")
    [ -z "$first" ] && first=$ins
    python3 - "$name" "$bin" "$ins" "$bytes" "$records" "$first" <<'PY'
import sys
n, b, ins, by, ev, first = sys.argv[1:]
ins, by, ev, first = int(ins), int(by), int(ev), int(first)
per_ev = f"{ins / ev:10.0f}" if ev else f"{'-':>10}"
print(f"{n:<10} {b[-28:]:<28} {ins:>14,} {by:>12,} {ins / by:>8.2f} {per_ev} {100 * (ins - first) / first:>+7.1f}%")
PY
  done
done
