#!/usr/bin/env bash
# The fleet on NATS JetStream: events/s with 1 and 2 workers on the simulated fleet, the publisher's
# own cost, hunt --threads 1 for reference, and the end-to-end latency from publish to a collected
# finding. Each run checks the collected finding ids against hunt's. See bench/fleet.py.
# Usage: bench/fleet.sh [HOSTS=50] [DURATION=default|e.g. 90m|days:DAYS|bulk:MEGABYTES] [PARTITIONS=8]
# Needs nats-server (apt-get install nats-server). Release build; data under bench/out/.
set -euo pipefail
cd "$(dirname "$0")/.."
HOSTS=${1:-50}
DURATION=${2:-default}
PARTITIONS=${3:-8}
TARGET=${CARGO_TARGET_DIR:-target}
cargo build --release -q -p floodwatch -p floodwatch-sim --bins --examples
NATS=$(command -v nats-server || echo /usr/sbin/nats-server)
[ -x "$NATS" ] || { echo "bench/fleet.sh: no nats-server (apt-get install nats-server)" >&2; exit 1; }
exec python3 bench/fleet.py "$TARGET/release/floodwatch" "$HOSTS" "$DURATION" "$PARTITIONS" "$NATS" bench/out/fleet
