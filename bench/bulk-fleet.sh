# Sourced by the speed benchmarks (from the repository's root): the simulated bulk fleet they read.
# `bulk_fleet MB HOSTS` generates bench/out/fleet-${MB}mb-${HOSTS}h (the real formats, seed 7) unless it
# is there already.
bulk_fleet() {
  local mb=$1 hosts=$2
  local dir=bench/out/fleet-${mb}mb-${hosts}h
  if [ ! -d "$dir" ]; then
    cargo build --release -q -p floodwatch-sim --examples
    echo "generating $mb MB over $hosts hosts in $dir" >&2
    "${CARGO_TARGET_DIR:-target}/release/examples/make_bulk" "$dir" "$hosts" "$mb" 7 >/dev/null
  fi
}
