#!/usr/bin/env bash
# A profile-guided (PGO) release build of floodwatch: an instrumented build hunts the simulated fleet,
# the bundled collection and the real corpus, and the release build is made again with that profile
# (rustc's -Cprofile-generate / -Cprofile-use). Outputs are the same; the hunt is faster (README, Speed).
# Needs llvm-profdata of the LLVM rustc was built with: installed from Debian's packages if missing.
# Usage: bench/pgo-build.sh   -> bench/out/pgo/floodwatch
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=bench/out/pgo
LLVM=$(rustc -vV | sed -n 's/^LLVM version: \([0-9]*\).*/\1/p')
PROFDATA=llvm-profdata-$LLVM
if ! command -v "$PROFDATA" >/dev/null; then
  # The profiles are read by the llvm-profdata of rustc's own LLVM: their raw format is LLVM's, per version.
  if ! apt-cache show "llvm-$LLVM" >/dev/null 2>&1; then
    echo "pgo-build: rustc uses LLVM $LLVM and this machine's Debian packages have no llvm-$LLVM" \
      "(for $PROFDATA); another version's llvm-profdata may not read its profiles (their raw format changes between LLVM versions). No PGO build here." >&2
    exit 1
  fi
  echo "installing llvm-$LLVM (Debian package) for $PROFDATA" >&2
  apt-get install -y -q "llvm-$LLVM" >/dev/null
fi
# The training fleet is not one the benchmarks read: another seed (11, where they use 7), size and host
# count, so a measured gain is not the profile having seen the measured bytes.
source bench/bulk-fleet.sh
bulk_fleet 120 6 11
FLEET=$BULK_FLEET
rm -rf "$OUT/profiles" && mkdir -p "$OUT/profiles"
RUSTFLAGS="-Cprofile-generate=$PWD/$OUT/profiles" \
  cargo build --release -q -p floodwatch --target-dir "$OUT/generate-target"
GEN=$OUT/generate-target/release/floodwatch
# The training runs: every format the fleet has, the bundled collection's, and the real samples'. Only
# their profiles matter, not their exit codes.
"$GEN" hunt "$FLEET" --threads 2 --format jsonl >/dev/null 2>&1 || true
"$GEN" hunt examples/collection --format jsonl >/dev/null 2>&1 || true
if [ -d ../shared/corpus ]; then "$GEN" hunt ../shared/corpus --format jsonl >/dev/null 2>&1 || true; fi
"$PROFDATA" merge -o "$OUT/floodwatch.profdata" "$OUT"/profiles/*.profraw
RUSTFLAGS="-Cprofile-use=$PWD/$OUT/floodwatch.profdata" \
  cargo build --release -q -p floodwatch --target-dir "$OUT/use-target"
cp "$OUT/use-target/release/floodwatch" "$OUT/floodwatch"
echo "$OUT/floodwatch"
