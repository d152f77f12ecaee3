#!/usr/bin/env bash
# Times `floodwatch serve`'s queue page (and the API list) on a store of 100,000 alerts.
# Usage: bench/serve-queue.sh [ALERTS=100000] [RUNS=10]
#
# The store is a real `hunt --db` of the bundled collection whose one alert row is then copied with new
# ids, hosts (500), scores and times (python3's sqlite3), so every page query reads ALERTS rows.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-100000}
RUNS=${2:-10}
OUT=bench/out
DB=$OUT/serve-${N}.db
mkdir -p "$OUT"
cargo build --release -q -p floodwatch
if [ ! -s "$DB" ]; then
  ./target/release/floodwatch hunt examples/collection --db "$DB" >/dev/null 2>&1
  python3 - "$DB" "$N" <<'PY'
import sqlite3, sys
db, n = sys.argv[1], int(sys.argv[2])
con = sqlite3.connect(db)
cols = [r[1] for r in con.execute("PRAGMA table_info(alerts)")]
row = dict(zip(cols, con.execute("SELECT * FROM alerts LIMIT 1").fetchone()))
rows = []
for i in range(1, n):
    r = dict(row)
    r["id"] = f"{i:08x}-0000-5000-8000-{i:012x}"
    r["host"] = f"mac-{i % 500:05d}"
    r["score"] = 20 + (i * 37) % 80
    r["first_seen"] = f"2025-09-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:00.000Z"
    r["subject_key"] = f"{r['host']}|{i}"
    rows.append(tuple(r[c] for c in cols))
con.executemany(f"INSERT INTO alerts ({','.join(cols)}) VALUES ({','.join('?' * len(cols))})", rows)
con.commit()
print(con.execute("SELECT count(*) FROM alerts").fetchone()[0], "alerts in", db)
PY
fi
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
./target/release/floodwatch serve --db "$DB" --listen "127.0.0.1:$PORT" 2>/dev/null &
PID=$!
trap 'kill $PID 2>/dev/null' EXIT
python3 - "$PORT" "$RUNS" <<'PY'
import statistics, sys, time, urllib.request
port, runs = int(sys.argv[1]), int(sys.argv[2])
base = f"http://127.0.0.1:{port}"
for _ in range(100):
    try:
        urllib.request.urlopen(base + "/api/session").read(); break
    except OSError:
        time.sleep(0.1)
for path in ["/", "/?host=mac-00042", "/?q=sync&severity=high", "/api/alerts"]:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        body = urllib.request.urlopen(base + path).read()
        times.append((time.perf_counter() - t) * 1000)
    print(f"{path:<28} median {statistics.median(times):7.1f} ms  best {min(times):7.1f} ms  ({len(body)} bytes)")
PY
