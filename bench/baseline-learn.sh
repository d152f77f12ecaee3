#!/usr/bin/env bash
# Measures `floodwatch baseline learn` throughput (MB/s, events/s), peak RSS and the store it writes, on a
# generated fleet (the same input as hunt-throughput.sh), then a second learn of the same files (which must
# add nothing) and a `hunt --db` against the learned baselines.
# Usage: bench/baseline-learn.sh [MEGABYTES=300] [HOSTS=16]
# Store size per 1,000 identities is measured by `cargo bench -p floodwatch-store --bench store`.
set -euo pipefail
cd "$(dirname "$0")/.."
MB=${1:-300}
HOSTS=${2:-16}
OUT=bench/out/fleet-${MB}mb-${HOSTS}h
DB=bench/out/learn.db
cargo build --release -q -p floodwatch -p floodwatch-sim --examples --bins
source bench/bulk-fleet.sh
bulk_fleet "$MB" "$HOSTS"
BYTES=$(du -sb "$OUT" | cut -f1)
echo "input: $OUT, $BYTES bytes; machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
rm -f "$DB" "$DB-wal" "$DB-shm"
for pass in first second; do
  /usr/bin/time -f "%e %M" -o bench/out/time.txt ./target/release/floodwatch baseline learn "$OUT" --db "$DB" \
    2> bench/out/learn-$pass.txt
  read -r secs rss_kb < bench/out/time.txt
  echo "$pass learn: $(grep -m1 "^  learned " bench/out/learn-$pass.txt | sed "s/^  //")"
  python3 - "$secs" "$BYTES" "$rss_kb" bench/out/learn-$pass.txt <<'PY'
import re, sys
secs, b, rss, log = float(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), open(sys.argv[4]).read()
ev = int(re.search(r"read (\d+) events", log).group(1))
print(f"  {secs:.2f} s, {b/1e6/secs:.1f} MB/s, {ev/secs:,.0f} events/s, peak RSS {rss/1024:.1f} MB")
PY
done
sqlite3_size=$(python3 -c "import sqlite3,os;c=sqlite3.connect('$DB');c.execute('PRAGMA wal_checkpoint(TRUNCATE)');n=c.execute('select count(*) from baselines').fetchone()[0];print(n, os.path.getsize('$DB'))")
read -r n size <<< "$sqlite3_size"
echo "store: $n baselines, $size bytes ($(python3 -c "print(f'{$size/max($n,1):.0f}')") bytes per baseline incl. fixed overhead)"
/usr/bin/time -f "%e %M" -o bench/out/time.txt ./target/release/floodwatch hunt "$OUT" --db "$DB" --format jsonl \
  --output bench/out/alerts-db.jsonl 2> bench/out/hunt-db.txt
read -r secs rss_kb < bench/out/time.txt
echo "hunt --db: $secs s, $(python3 -c "print(f'{$BYTES/1e6/$secs:.1f}')") MB/s; $(grep '^store' bench/out/hunt-db.txt)"
