#!/usr/bin/env bash
# Times `floodwatch hunt` against DuckDB running hand-written SQL (bench/compare-duckdb.sql) for the two
# channels floodwatch turns into its spawn-rate and outbound-volume signals, on the same generated fleet,
# with the same thread count. Usage: bench/compare-duckdb.sh [MEGABYTES=300] [HOSTS=16] [THREADS=2] [RUNS=3]
#
# - Input: the simulator's fleet under bench/out/ (the one bench/hunt-throughput.sh uses).
# - DuckDB: the Python package, installed into bench/out/venv on first use (from PyPI).
# - Runs alternate (floodwatch, duckdb, floodwatch, duckdb, ...); wall time from bash's microsecond clock,
#   peak RSS from /usr/bin/time. Besides the ratio of the medians it prints the median of per-run ratios
#   (each pair of neighbouring runs shares the machine's state of the moment) and the fastest runs' ratio.
# - Both sides write their full results to files (floodwatch: alerts and the per-file summary; DuckDB: the
#   per-window counts of both channels), so neither can skip work.
# floodwatch does more than the SQL: it also reads the unified log, keeps a process table with lineage,
# judges context, scores and explains; DuckDB only computes the two per-window aggregates.
set -euo pipefail
cd "$(dirname "$0")/.."
MB=${1:-300}
HOSTS=${2:-16}
THREADS=${3:-2}
RUNS=${4:-3}
# FLOODWATCH=path times another build (bench/pgo-build.sh's: FLOODWATCH=bench/out/pgo/floodwatch).
FLOODWATCH=${FLOODWATCH:-./target/release/floodwatch}
OUT=bench/out
DATA=$OUT/fleet-${MB}mb-${HOSTS}h
VENV=$OUT/venv
SQL=bench/compare-duckdb.sql

cargo build --release -q -p floodwatch -p floodwatch-sim --examples --bins
source bench/bulk-fleet.sh
bulk_fleet "$MB" "$HOSTS"
if ! "$VENV/bin/python" -c "import duckdb" 2>/dev/null; then
  echo "installing duckdb into $VENV" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q duckdb
fi

# The SQL orders nettop rows by their time of day: make sure no capture crosses midnight (floodwatch
# handles that; the SQL does not need to on this input).
for f in "$DATA"/*/nettop.csv; do
  awk -F, -v f="$f" '$1 != "time" { split($1, t, ":"); s = t[1] * 3600 + t[2] * 60 + t[3];
    if (seen && s < last - 43200) { print f ": crosses midnight, the SQL would misorder it" > "/dev/stderr"; exit 1 }
    last = s; seen = 1 }' "$f"
done

# The DuckDB runner: one connection, `SET threads`, then each statement of the SQL file in turn (timed).
cat > "$OUT/duckdb_channels.py" <<'PY'
import sys, time
t0 = time.perf_counter()
import duckdb
sql_path, data, out, threads, times = sys.argv[1:6]
text = open(sql_path).read().replace("__DIR__", data).replace("__OUT__", out)
code = "\n".join(l for l in text.splitlines() if not l.lstrip().startswith("--"))
con = duckdb.connect()
con.execute(f"SET threads = {int(threads)}")
spent = [time.perf_counter() - t0]
rows = []
for stmt in (s.strip() for s in code.split(";")):
    if stmt:
        t = time.perf_counter()
        rows.append(con.execute(stmt).fetchall()[0][0])  # COPY returns the number of rows written
        spent.append(time.perf_counter() - t)
with open(times, "w") as f:
    f.write(" ".join(f"{s:.3f}" for s in spent) + " " + " ".join(str(r) for r in rows) + "\n")
PY

ES_BYTES=$(cat "$DATA"/*/eslogger.jsonl | wc -c)
NT_BYTES=$(cat "$DATA"/*/nettop.csv | wc -c)
ALL_BYTES=$(du -sb "$DATA" | cut -f1)
DUCK_VERSION=$("$VENV/bin/python" -c "import duckdb; print(duckdb.__version__)")
echo "input: $DATA, $ALL_BYTES bytes in $(find "$DATA" -type f | wc -l) files (eslogger $ES_BYTES, nettop $NT_BYTES);" \
  "threads: $THREADS; floodwatch $FLOODWATCH; duckdb $DUCK_VERSION;" \
  "machine: $(nproc) cores, $(uname -m), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"

RESULTS=$OUT/compare-duckdb.tsv
: > "$RESULTS"
# Wall time from bash's microsecond clock around each run (/usr/bin/time's %e has 10 ms steps, 3% of a
# 0.3 s run); /usr/bin/time still gives the peak RSS.
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.4f", b - a }'; }
for run in $(seq 1 "$RUNS"); do
  t0=$EPOCHREALTIME
  /usr/bin/time -f "%e %M" -o "$OUT/time.txt" "$FLOODWATCH" hunt "$DATA" --threads "$THREADS" \
    --format jsonl --output "$OUT/compare-alerts.jsonl" --summary-json "$OUT/compare-summary.json" 2>/dev/null
  secs=$(since "$t0")
  read -r _ rss < "$OUT/time.txt"
  printf "floodwatch\t%s\t%s\t%s\t-\t-\t-\t%s alerts\n" "$run" "$secs" "$rss" \
    "$(wc -l < "$OUT/compare-alerts.jsonl")" >> "$RESULTS"

  t0=$EPOCHREALTIME
  /usr/bin/time -f "%e %M" -o "$OUT/time.txt" "$VENV/bin/python" "$OUT/duckdb_channels.py" "$SQL" "$DATA" "$OUT" \
    "$THREADS" "$OUT/duckdb-times.txt"
  secs=$(since "$t0")
  read -r _ rss < "$OUT/time.txt"
  read -r setup q_exec q_nettop n_exec n_nettop < "$OUT/duckdb-times.txt"
  printf "duckdb\t%s\t%s\t%s\t%s\t%s\t%s\t%s hot exec windows, %s nettop windows\n" \
    "$run" "$secs" "$rss" "$setup" "$q_exec" "$q_nettop" "$n_exec" "$n_nettop" >> "$RESULTS"
done

python3 - "$RESULTS" "$ALL_BYTES" "$((ES_BYTES + NT_BYTES))" "$THREADS" <<'PY'
import statistics, sys
path, all_bytes, duck_bytes, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
rows = [l.rstrip("\n").split("\t") for l in open(path)]
print(f"{'tool':<11} {'run':>3} {'wall_s':>7} {'MB/s':>7} {'peak_RSS_MB':>11} {'setup_s':>7} {'execs_s':>7} {'nettop_s':>8}  result")
for tool, run, secs, rss, setup, q1, q2, result in rows:
    b = all_bytes if tool == "floodwatch" else duck_bytes
    print(f"{tool:<11} {run:>3} {float(secs):>7.2f} {b / 1e6 / float(secs):>7.1f} {int(rss) / 1024:>11.1f}"
          f" {setup:>7} {q1:>7} {q2:>8}  {result}")
med = {t: statistics.median(float(r[2]) for r in rows if r[0] == t) for t in ("floodwatch", "duckdb")}
queries = statistics.median(float(r[5]) + float(r[6]) for r in rows if r[0] == "duckdb")
print(f"median wall time, {threads} thread(s): floodwatch {med['floodwatch']:.2f} s, duckdb {med['duckdb']:.2f} s"
      f" (its two statements alone: {queries:.2f} s)")
print(f"ratio duckdb_time / floodwatch_time = {med['duckdb'] / med['floodwatch']:.2f}"
      f" (statements only: {queries / med['floodwatch']:.2f})")
# The machine's speed drifts between minutes: each run of one is compared with the other's run beside it.
wall = {t: [float(r[2]) for r in rows if r[0] == t] for t in ("floodwatch", "duckdb")}
pairs = [d / f for f, d in zip(wall["floodwatch"], wall["duckdb"])]
print(f"per-run ratios (each duckdb run / the floodwatch run before it): median {statistics.median(pairs):.2f},"
      f" range {min(pairs):.2f}-{max(pairs):.2f}; fastest runs: {min(wall['duckdb']) / min(wall['floodwatch']):.2f}")
PY
