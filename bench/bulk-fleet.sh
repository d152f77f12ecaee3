# Sourced by the speed benchmarks (from the repository's root): the simulated bulk fleet they read.
# `bulk_fleet MB HOSTS [SEED]` generates bench/out/fleet-${MB}mb-${HOSTS}h (the real formats, seed 7),
# or bench/out/fleet-${MB}mb-${HOSTS}h-seed${SEED} for another seed, unless it is there already; the
# folder is in $BULK_FLEET.
bulk_fleet() {
  local mb=$1 hosts=$2 seed=${3:-7}
  BULK_FLEET=bench/out/fleet-${mb}mb-${hosts}h
  [ "$seed" = 7 ] || BULK_FLEET=$BULK_FLEET-seed$seed
  if [ ! -d "$BULK_FLEET" ]; then
    cargo build --release -q -p floodwatch-sim --examples
    echo "generating $mb MB over $hosts hosts in $BULK_FLEET" >&2
    "${CARGO_TARGET_DIR:-target}/release/examples/make_bulk" "$BULK_FLEET" "$hosts" "$mb" "$seed" >/dev/null
  fi
}
