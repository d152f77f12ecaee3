#!/usr/bin/env bash
# Builds the fuzz targets (cargo-fuzz, AddressSanitizer, debug assertions so integer overflow panics)
# and runs each for SECONDS with its seeds.
#
#   fuzz/run.sh SECONDS [TARGET...]      (no TARGET: all of them, one after the other)
#
# New corpus entries go to fuzz/corpus/<target>/ (gitignored), crashes to fuzz/artifacts/<target>/,
# libFuzzer's output to fuzz/logs/<target>.log. Prints per target the executions and whether a crash
# was found; exits 1 if any target crashed.
set -euo pipefail

if [ $# -lt 1 ] || ! [[ $1 =~ ^[0-9]+$ ]]; then
    echo "usage: $0 SECONDS [TARGET...]" >&2
    exit 2
fi
secs=$1
shift

fuzz_dir=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$fuzz_dir")
cd "$root"

# Stable rustc accepts -Zsanitizer with RUSTC_BOOTSTRAP=1 (no nightly toolchain needed).
export RUSTC_BOOTSTRAP=1
# Extra cargo-fuzz build flags; the defaults match what the measurements in README.md used.
build_flags=(-O -a)
# Parallel jobs for the build (the machine is shared: keep it modest).
export CARGO_BUILD_JOBS=${CARGO_BUILD_JOBS:-2}

if ! command -v cargo-fuzz >/dev/null 2>&1; then
    echo "cargo-fuzz missing: cargo install cargo-fuzz --locked" >&2
    cargo install cargo-fuzz --locked
fi
if ! c++ --version >/dev/null 2>&1; then
    echo "no C++ compiler: libfuzzer-sys cannot build (apt-get install -y clang, or g++)" >&2
    exit 3
fi

if [ $# -eq 0 ]; then
    mapfile -t targets < <(cargo fuzz list)
else
    targets=("$@")
fi

echo "building ${#targets[@]} target(s)..." >&2
for t in "${targets[@]}"; do
    cargo fuzz build "${build_flags[@]}" "$t" >&2
done

mkdir -p "$fuzz_dir/logs"
status=0
printf '%-18s %12s %10s %8s  %s\n' target executions exec/s crash artifact
for t in "${targets[@]}"; do
    mkdir -p "$fuzz_dir/corpus/$t" "$fuzz_dir/artifacts/$t"
    seeds=()
    [ -d "$fuzz_dir/seeds/$t" ] && seeds=("$fuzz_dir/seeds/$t")
    log="$fuzz_dir/logs/$t.log"
    rc=0
    # The first corpus directory receives the new entries; seeds are only read.
    cargo fuzz run "${build_flags[@]}" "$t" "$fuzz_dir/corpus/$t" "${seeds[@]}" -- \
        -max_total_time="$secs" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$fuzz_dir/artifacts/$t/" >"$log" 2>&1 || rc=$?
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || true)
    rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || true)
    if [ -z "$execs" ]; then
        # A crash ends the run before the final stats: take the last status line.
        execs=$(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#' || true)
    fi
    artifact=$(grep -oE 'Test unit written to [^ ]+' "$log" | tail -1 | sed 's/Test unit written to //' || true)
    crash=no
    if [ "$rc" -ne 0 ] || [ -n "$artifact" ]; then
        crash=YES
        status=1
    fi
    printf '%-18s %12s %10s %8s  %s\n' "$t" "${execs:-?}" "${rate:-?}" "$crash" "${artifact:-}"
done
exit $status
