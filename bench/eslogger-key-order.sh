#!/usr/bin/env bash
# What the order of eslogger's keys costs: the eslogger-only corpus of bench/format-throughput.sh
# (keys in a fresh random order on every line, as the simulator writes them), against a copy with
# every object's keys in one fixed order (sorted) and one with only the process objects' own keys
# sorted (the message's process, an exec's target, a fork's child; what they hold keeps its
# order), hunted alternately on one thread.
# Usage: bench/eslogger-key-order.sh [MEGABYTES=600] [HOSTS=8] [ROUNDS=5] [BINARY=target/release/floodwatch]
#
# The corpora hold the same records, so the hunt must give the same alerts and summary (the
# script checks, with the folder names made equal); only the time may differ. The difference is what
# the scanner's key dispatch loses to branch mispredictions when the order changes from line to
# line: shared/docs/telemetry-formats.md §1 says real eslogger's order does, so the shuffled corpus
# is the one the issue's goal is measured on, and the sorted one bounds what a stable order would give.
set -euo pipefail
cd "$(dirname "$0")/.."
MB=${1:-600}
HOSTS=${2:-8}
ROUNDS=${3:-5}
BIN=${4:-target/release/floodwatch}
OUT=bench/out
SHUFFLED=$OUT/only-eslogger-${MB}mb-${HOSTS}h
SORTED=$OUT/only-eslogger-sorted-${MB}mb-${HOSTS}h
PROCESS=$OUT/only-eslogger-process-sorted-${MB}mb-${HOSTS}h

if [ ! -d "$SHUFFLED" ]; then
  bench/format-throughput.sh "$MB" "$HOSTS" 1 "$BIN" >/dev/null
fi
# Sorted keys, compact, `/` escaped as eslogger writes it, non-ASCII kept as it is: the same bytes
# per record, in another order. A line that is not JSON is copied as it is.
reorder() { # MODE(all|process) FROM TO
  python3 - "$@" <<'PY'
import json, sys
mode, src_path, dst_path = sys.argv[1:4]
def own_keys_sorted(o):
    return {k: o[k] for k in sorted(o)} if isinstance(o, dict) else o
with open(src_path, encoding="utf-8") as src, open(dst_path, "w", encoding="utf-8") as dst:
    for line in src:
        line = line.rstrip("\n")
        try:
            record = json.loads(line)
        except ValueError:
            dst.write(line + "\n")
            continue
        if mode == "process" and isinstance(record, dict):
            if "process" in record:
                record["process"] = own_keys_sorted(record["process"])
            event = record.get("event")
            if isinstance(event, dict):
                for kind, key in (("exec", "target"), ("fork", "child")):
                    if isinstance(event.get(kind), dict) and key in event[kind]:
                        event[kind][key] = own_keys_sorted(event[kind][key])
        text = json.dumps(record, sort_keys=(mode == "all"), separators=(",", ":"), ensure_ascii=False)
        dst.write(text.replace("/", "\\/") + "\n")
PY
}
for pair in "all:$SORTED" "process:$PROCESS"; do
  mode=${pair%%:*}
  dir=${pair#*:}
  [ -d "$dir" ] && continue
  for h in "$SHUFFLED"/*/; do
    mkdir -p "$dir/$(basename "$h")"
    reorder "$mode" "$h/eslogger.jsonl" "$dir/$(basename "$h")/eslogger.jsonl"
    touch -r "$h/eslogger.jsonl" "$dir/$(basename "$h")/eslogger.jsonl"
  done
done

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
corpus() {
  case $1 in
    shuffled) echo "$SHUFFLED" ;;
    sorted) echo "$SORTED" ;;
    process) echo "$PROCESS" ;;
  esac
}
for which in shuffled sorted process; do
  dir=$(corpus "$which")
  "$BIN" hunt "$dir" --threads 1 --format jsonl --output "$TMP/$which.jsonl" \
    --summary-json "$TMP/$which.summary.json" 2>/dev/null
  sed -i "s#$dir#CORPUS#g" "$TMP/$which.jsonl" "$TMP/$which.summary.json"
done
for which in sorted process; do
  if ! cmp -s "$TMP/shuffled.jsonl" "$TMP/$which.jsonl" ||
    ! cmp -s "$TMP/shuffled.summary.json" "$TMP/$which.summary.json"; then
    echo "the $which corpus gave other alerts or summaries than the shuffled one" >&2
    exit 1
  fi
done

bytes=$(du -sbL "$SHUFFLED" | cut -f1)
echo "binary: $BIN; $((bytes / 1000000)) MB of eslogger; same alerts and summary in every order"
printf "%-9s %-5s %8s %8s %10s\n" order round wall_s user_s user_MB/s
for round in $(seq 1 "$ROUNDS"); do
  for which in shuffled sorted process; do
    dir=$(corpus "$which")
    /usr/bin/time -f "%e %U" -o "$TMP/time.txt" "$BIN" hunt "$dir" --threads 1 \
      --format jsonl --output /dev/null 2>/dev/null
    read -r wall user <"$TMP/time.txt"
    printf "%-9s %-5s %8s %8s %10.0f\n" "$which" "$round" "$wall" "$user" \
      "$(echo "$bytes / 1000000 / $user" | bc -l)"
  done
done
