#!/usr/bin/env bash
# Sustained events/s through `floodwatch agent --once` on ONE core (taskset -c 0: the agent's
# threads and the replay child share it), against `hunt --threads 1` on the same file, also on one
# core. The input is one simulated host's eslogger file (bench/out, generated once).
# Usage: bench/agent-throughput.sh [MEGABYTES=200] [RUNS=3] [BINARY=target/release/floodwatch]
#
# Three runs each: hunt of the file; the agent with a command source running `floodwatch replay FILE`
# (the bytes go through a pipe, as from eslogger); the agent with a path source (the file read
# directly). Prints wall seconds, events/s over wall time, and peak RSS. Each round also times the
# replay producer alone (its CPU through a pipe), which shares the core in agent-replay as eslogger
# would: the last line gives agent-replay without it, the agent's own cost against hunt's.
set -euo pipefail
cd "$(dirname "$0")/.."
MB=${1:-200}
RUNS=${2:-3}
TARGET=${CARGO_TARGET_DIR:-target}
BIN=${3:-$TARGET/release/floodwatch}
OUT=bench/out
DATA=$OUT/agent-${MB}mb
cargo build --release -q -p floodwatch -p floodwatch-sim --examples --bins
if [ ! -d "$DATA" ]; then
  echo "generating ${MB} MB for one host in $DATA" >&2
  "$TARGET/release/examples/make_bulk" "$DATA" 1 "$MB" 7 >/dev/null
fi
HOST=$(basename "$(ls -d "$DATA"/*/ | head -1)")
ES=$(realpath "$DATA/$HOST/eslogger.jsonl")
BINABS=$(realpath "$BIN")
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
cat > "$TMP/replay.toml" <<TOML
[agent]
host = "$HOST"
[[agent.source]]
command = ["$BINABS", "replay", "$ES"]
[[agent.sink]]
type = "file"
path = "$TMP/replay.jsonl"
TOML
cat > "$TMP/path.toml" <<TOML
[agent]
host = "$HOST"
[[agent.source]]
path = "$ES"
[[agent.sink]]
type = "file"
path = "$TMP/path.jsonl"
TOML
echo "input: $ES, $(stat -c %s "$ES") bytes; machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); one core (taskset -c 0)"
printf "%-14s %-4s %8s %11s %12s %7s\n" how run wall_s events/s peak_RSS_MB alerts
events_of() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['engine']['events'])" "$1"; }
for r in $(seq 1 "$RUNS"); do
  for how in hunt agent-replay agent-path; do
    case $how in
      hunt) cmd=("$BINABS" hunt "$ES" --threads 1 --format jsonl --summary-json "$TMP/s.json") ;;
      agent-replay) cmd=("$BINABS" agent --once --config "$TMP/replay.toml" --summary-json "$TMP/s.json") ;;
      agent-path) cmd=("$BINABS" agent --once --config "$TMP/path.toml" --summary-json "$TMP/s.json") ;;
    esac
    rm -f "$TMP"/*.jsonl
    /usr/bin/time -f "%e %M" -o "$TMP/time" taskset -c 0 "${cmd[@]}" > "$TMP/out.jsonl" 2>/dev/null
    read -r wall rss < "$TMP/time"
    ev=$(events_of "$TMP/s.json")
    alerts=$(cat "$TMP"/*.jsonl | wc -l)
    printf "%-14s %-4s %8s %11.0f %12.1f %7s\n" "$how" "$r" "$wall" "$(echo "$ev / $wall" | bc -l)" "$(echo "$rss / 1024" | bc -l)" "$alerts" | tee -a "$TMP/rows"
  done
  # The replay child stands in for eslogger, whose CPU a hunt of eslogger's file does not pay
  # either: its own CPU (user + sys) through a pipe on the same core, to take out of agent-replay.
  ( /usr/bin/time -f "%U %S" -o "$TMP/ptime" taskset -c 0 "$BINABS" replay "$ES" ) | taskset -c 0 cat > /dev/null
  read -r pu ps < "$TMP/ptime"
  printf "%-14s %-4s %8.2f %11s %12s %7s\n" "producer-cpu" "$r" "$(echo "$pu + $ps" | bc -l)" - - - | tee -a "$TMP/rows"
done
# The machine's speed drifts between rounds: each agent run is compared with the hunt of its own
# round, and the median of those ratios is the number to read.
python3 - "$TMP/rows" <<'PY'
import collections, statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
wall = collections.defaultdict(dict)
for how, r, w, *_ in rows:
    wall[how][r] = float(w)
hunt = wall["hunt"]
for how in ("hunt", "agent-replay", "agent-path"):
    w = wall[how]
    line = f"{how:14s} median wall {statistics.median(w.values()):.2f} s"
    if how != "hunt":
        ratios = sorted(w[r] / hunt[r] for r in w)
        line += (f", wall / same round's hunt: median {statistics.median(ratios):.3f}"
                 f" (range {ratios[0]:.3f}-{ratios[-1]:.3f}, {sum(x <= 1 for x in ratios)} of {len(ratios)} rounds <= 1)")
    print(line)
# agent-replay's wall on one core, less the same round's producer CPU: the agent's own share.
prod = wall.get("producer-cpu", {})
own = sorted((wall["agent-replay"][r] - prod[r]) / hunt[r] for r in wall["agent-replay"] if r in prod)
if own:
    print(f"{'agent-replay':14s} without the replay producer's CPU (median {statistics.median(prod.values()):.2f} s):"
          f" / same round's hunt: median {statistics.median(own):.3f}"
          f" (range {own[0]:.3f}-{own[-1]:.3f}, {sum(x <= 1 for x in own)} of {len(own)} rounds <= 1)")
PY
