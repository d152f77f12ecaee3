#!/usr/bin/env bash
# End-to-end `hunt --threads 1` throughput per format: the simulator's fleet split into an
# eslogger-only and a nettop-only corpus (hard links, no copies), each hunted RUNS times.
# Usage: bench/format-throughput.sh [MEGABYTES=600] [HOSTS=8] [RUNS=3] [BINARY=target/release/floodwatch]
#
# Prints per run the wall and user seconds and MB/s over the corpus's bytes (user time is the one
# to read on a shared machine: it does not count waiting for the CPU), and the peak RSS. The
# issue's goals: eslogger >= 600 MB/s and nettop CSV >= 300 MB/s on one core.
set -euo pipefail
cd "$(dirname "$0")/.."
MB=${1:-600}
HOSTS=${2:-8}
RUNS=${3:-3}
BIN=${4:-target/release/floodwatch}
OUT=bench/out
DATA=$OUT/fleet-${MB}mb-${HOSTS}h

cargo build --release -q -p floodwatch -p floodwatch-sim --examples --bins
source bench/bulk-fleet.sh
bulk_fleet "$MB" "$HOSTS"
for fmt in eslogger:eslogger.jsonl nettop:nettop.csv; do
  name=${fmt%%:*}
  file=${fmt#*:}
  dir=$OUT/only-$name-${MB}mb-${HOSTS}h
  if [ ! -d "$dir" ]; then
    for h in "$DATA"/*/; do
      mkdir -p "$dir/$(basename "$h")"
      # A copy keeps nettop's modification time (its date anchor); a hard link would too.
      ln -f "$h/$file" "$dir/$(basename "$h")/$file" 2>/dev/null || cp -p "$h/$file" "$dir/$(basename "$h")/"
    done
  fi
done

echo "binary: $BIN; machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
printf "%-9s %-4s %8s %8s %9s %9s %12s\n" corpus run wall_s user_s wall_MB/s user_MB/s peak_RSS_MB
for name in eslogger nettop; do
  dir=$OUT/only-$name-${MB}mb-${HOSTS}h
  bytes=$(du -sbL "$dir" | cut -f1)
  for run in $(seq 1 "$RUNS"); do
    /usr/bin/time -f "%e %U %M" -o "$OUT/time.txt" "$BIN" hunt "$dir" --threads 1 \
      --format jsonl --output "$OUT/format-alerts.jsonl" 2>/dev/null || true
    read -r wall user rss < "$OUT/time.txt"
    python3 - "$name" "$run" "$wall" "$user" "$bytes" "$rss" <<'PY'
import sys
n, r, wall, user, b, rss = sys.argv[1:]
wall, user, b = float(wall), float(user), int(b)
print(f"{n:<9} {r:<4} {wall:>8.2f} {user:>8.2f} {b / 1e6 / wall:>9.1f} {b / 1e6 / max(user, 0.01):>9.1f} {int(rss) / 1024:>12.1f}")
PY
  done
done
