#!/usr/bin/env bash
# Measures `floodwatch hunt` throughput (MB/s, events/s) and peak RSS on a generated fleet, with 1 and 2
# worker threads. Usage: bench/hunt-throughput.sh [MEGABYTES=300] [HOSTS=16] [RUNS=3]
# The input is written by the simulator (same real formats as the parsers' fixtures) under bench/out/.
set -euo pipefail
cd "$(dirname "$0")/.."
MB=${1:-300}
HOSTS=${2:-16}
RUNS=${3:-3}
OUT=bench/out/fleet-${MB}mb-${HOSTS}h
cargo build --release -q -p floodwatch -p floodwatch-sim --examples --bins
source bench/bulk-fleet.sh
bulk_fleet "$MB" "$HOSTS"
BYTES=$(du -sb "$OUT" | cut -f1)
echo "input: $OUT, $BYTES bytes, $(find "$OUT" -type f | wc -l) files; machine: $(nproc) cores, $(uname -m), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
printf "%-8s %-4s %10s %12s %14s %12s %8s\n" threads run seconds MB/s events/s peak_RSS_MB alerts
for threads in 1 2; do
  for run in $(seq 1 "$RUNS"); do
    /usr/bin/time -f "%e %M" -o bench/out/time.txt ./target/release/floodwatch hunt "$OUT" --threads "$threads" \
      --format jsonl --output bench/out/alerts.jsonl --summary-json bench/out/summary.json 2>/dev/null
    read -r secs rss_kb < bench/out/time.txt
    events=$(python3 -c "import json;print(sum(f['events'] for f in json.load(open('bench/out/summary.json'))['files']))")
    alerts=$(wc -l < bench/out/alerts.jsonl)
    python3 - "$threads" "$run" "$secs" "$BYTES" "$events" "$rss_kb" "$alerts" <<'PY'
import sys
t, r, secs, b, ev, rss, al = sys.argv[1:]
secs = float(secs); print(f"{t:<8} {r:<4} {secs:>10.2f} {int(b)/1e6/secs:>12.1f} {int(ev)/secs:>14.0f} {int(rss)/1024:>12.1f} {al:>8}")
PY
  done
done
