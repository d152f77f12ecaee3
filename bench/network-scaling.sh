#!/usr/bin/env bash
# Measures `floodwatch hunt` and `floodwatch coverage` on a spoofed-source SYN flood capture at 1x, 2x,
# 4x and 8x its size: time must grow in proportion to packets and senders, memory stay bounded.
# Usage: bench/network-scaling.sh [RUNS=3]
# The captures are made from the real CIC-DDoS2019 SYN flood (tests/data/corpus/pcap) by
# bench/spoofed_syn_pcap.py: N copies back to back in capture time, every SYN from its own forged
# source, in the exact classic pcap format. Release build; written under bench/out/.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
TARGET=${CARGO_TARGET_DIR:-target}
cargo build --release -q -p floodwatch
BIN=$TARGET/release/floodwatch
OUT=bench/out/network-scaling
mkdir -p "$OUT"
echo "machine: $(nproc) cores, $(uname -m), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
printf "%-5s %10s %9s %9s %10s %10s %12s %12s %10s\n" copies bytes packets senders hunt_s coverage_s hunt_pkt/s hunt_RSS_MB cov_RSS_MB
for n in 1 2 4 8; do
  cap=$OUT/spoofed-${n}x.pcap
  [ -f "$cap" ] || python3 bench/spoofed_syn_pcap.py tests/data/corpus/pcap/CIC-DDoS-2019-SynFlood.pcap "$cap" "$n" 2>/dev/null
  best_h=999999; best_c=999999; rss_h=0; rss_c=0
  for _ in $(seq 1 "$RUNS"); do
    /usr/bin/time -f "%e %M" -o "$OUT/t.txt" "$BIN" hunt "$cap" --summary-json "$OUT/summary.json" >/dev/null 2>&1
    read -r s m < "$OUT/t.txt"; best_h=$(python3 -c "print(min($best_h,$s))"); rss_h=$(( m > rss_h ? m : rss_h ))
    /usr/bin/time -f "%e %M" -o "$OUT/t.txt" "$BIN" coverage "$cap" >/dev/null 2>&1
    read -r s m < "$OUT/t.txt"; best_c=$(python3 -c "print(min($best_c,$s))"); rss_c=$(( m > rss_c ? m : rss_c ))
  done
  python3 - "$n" "$cap" "$OUT/summary.json" "$best_h" "$best_c" "$rss_h" "$rss_c" <<'PY'
import json, os, sys
n, cap, summ, h, c, rh, rc = sys.argv[1:]
s = json.load(open(summ))
packets = s["files"][0]["records"]
senders = max([f["distinct_hosts"] for f in s["network"] if f["class"] == "inbound"] or [0])
h, c = float(h), float(c)
print(f"{n+'x':<5} {os.path.getsize(cap):>10} {packets:>9} {senders:>9} {h:>10.2f} {c:>10.2f} {packets/max(h,0.01):>12.0f} {int(rh)/1024:>12.1f} {int(rc)/1024:>10.1f}")
PY
done
