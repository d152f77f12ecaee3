#!/usr/bin/env bash
# The live agent's memory while one source floods it at the source's maximum rate: a command source
# (`sh -c "cat FILE; exec sleep 3600"`: the bytes come through a pipe as fast as the agent takes them,
# and the command does not exit, so it is not restarted) over one bulk host's eslogger file, for three
# input sizes. The agent's RSS is sampled from /proc every 0.1 s; printed: RSS when a quarter, half,
# three quarters and all of the input had been read, the peak, and events/s. Flat means the RSS does
# not grow with the input read, and the 15x larger input does not need more.
# Usage: bench/agent-memory.sh [SIZES_MB="200 1000 3000"] [BINARY=target/release/floodwatch]
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES=${1:-200 1000 3000}
TARGET=${CARGO_TARGET_DIR:-target}
cargo build --release -q -p floodwatch -p floodwatch-sim --bins --examples
BIN=$(realpath "${2:-$TARGET/release/floodwatch}")
TMP=$(mktemp -d)
trap 'pkill -P $$ 2>/dev/null || true; rm -rf "$TMP"' EXIT
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); live agent, command source at full speed"
printf "%8s %10s %8s %9s %9s %9s %9s %9s %10s\n" input_MB events read_s rss@25% rss@50% rss@75% rss@100% peak_MB events/s
for MB in $SIZES; do
  DATA=bench/out/agent-${MB}mb
  [ -d "$DATA" ] || "$TARGET/release/examples/make_bulk" "$DATA" 1 "$MB" 7 >/dev/null
  HOST=$(basename "$(ls -d "$DATA"/*/ | head -1)")
  ES=$(realpath "$DATA/$HOST/eslogger.jsonl")
  SIZE=$(stat -c %s "$ES")
  rm -rf "$TMP/run" && mkdir -p "$TMP/run"
  cat > "$TMP/run/agent.toml" <<TOML
[agent]
host = "$HOST"
state = "$TMP/run/agent.state"
[[agent.source]]
name = "eslogger"
format = "eslogger"
command = ["sh", "-c", "cat '$ES'; exec sleep 3600"]
[[agent.sink]]
type = "file"
path = "$TMP/run/findings.jsonl"
TOML
  "$BIN" agent --config "$TMP/run/agent.toml" --summary-json "$TMP/run/summary.json" \
    >/dev/null 2>"$TMP/run/agent.log" &
  AGENT=$!
  python3 - "$AGENT" "$SIZE" "$TMP/run/samples.txt" <<'PY'
import os, sys, time
pid, size, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
t0 = time.time()
done_at = None
with open(out, "w") as f:
    while True:
        try:
            rss = next(int(l.split()[1]) for l in open(f"/proc/{pid}/status") if l.startswith("VmRSS:"))
            # Bytes the agent has read (the pipe, plus a little else: the config, the state file).
            rchar = next(int(l.split()[1]) for l in open(f"/proc/{pid}/io") if l.startswith("rchar:"))
        except (OSError, StopIteration):
            sys.exit("the agent ended early")
        now = time.time() - t0
        f.write(f"{now:.2f} {rchar} {rss}\n")
        f.flush()
        if done_at is None and rchar >= size:
            done_at = now
        # Three more seconds after the input is read: the engine catches up, windows close.
        if done_at is not None and now - done_at > 3:
            break
        if now > 900:
            sys.exit("not read within 900 s")
        time.sleep(0.1)
PY
  kill -TERM "$AGENT"
  wait "$AGENT" || true
  python3 - "$MB" "$SIZE" "$TMP/run/samples.txt" "$TMP/run/summary.json" <<'PY'
import json, sys
mb, size, samples, summary = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
rows = [tuple(map(float, l.split())) for l in open(samples)]
def rss_at(frac):
    for t, r, rss in rows:
        if r >= frac * size:
            return rss / 1024
    return rows[-1][2] / 1024
read_s = next(t for t, r, _ in rows if r >= size)
events = json.load(open(summary))["engine"]["events"]
peak = max(r[2] for r in rows) / 1024
print(f"{mb:>8} {events:>10} {read_s:>8.1f} {rss_at(.25):>9.1f} {rss_at(.5):>9.1f} {rss_at(.75):>9.1f} "
      f"{rss_at(1):>9.1f} {peak:>9.1f} {events / read_s:>10,.0f}")
PY
done
