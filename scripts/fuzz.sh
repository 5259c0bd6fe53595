#!/usr/bin/env bash
# Builds the libFuzzer targets in Fuzz/ and runs each for a bounded time (docs/fuzzing.md).
#
#   scripts/fuzz.sh                      every target, 20 s each (what CI runs)
#   scripts/fuzz.sh label-selector 300   one target, 5 minutes
#   scripts/fuzz.sh all 60               every target, 1 minute each
#
# Each run starts from a scratch copy of Fuzz/corpus/<target> (the committed corpus stays
# small) under $FUZZ_WORK (default .build-fuzz/work). A crash, a timeout (-timeout s per input) or
# running out of memory (-rss_limit_mb) fails the script with the reproducer's path. Environment:
#   FUZZ_JOBS=N        run N targets at a time (default 1; the machine has few cores)
#   FUZZ_SKIP_BUILD=1  use the binaries of a previous build
#   FUZZ_CONFIG=debug  build unoptimised (faster to compile, slower to fuzz)
set -euo pipefail
cd "$(dirname "$0")/.."

targets=(manifest api-json json-tape typed-decode watch-framer iptables-save kubeconfig config-file label-selector)
target="${1:-all}"
seconds="${2:-20}"
config="${FUZZ_CONFIG:-release}"
jobs="${FUZZ_JOBS:-1}"
work="${FUZZ_WORK:-$PWD/.build-fuzz/work}"

if [[ "$target" != all ]]; then
    if [[ ! " ${targets[*]} " == *" $target "* ]]; then
        echo "fuzz.sh: unknown target '$target' (known: ${targets[*]})" >&2
        exit 2
    fi
    targets=("$target")
fi
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || ((seconds < 1)); then
    echo "fuzz.sh: seconds must be a positive integer, got '$seconds'" >&2
    exit 2
fi

# -enable-testing: the targets reach internal entry points (ManifestDecoder, JSONLinesFramer,
# KubeConfigLoader) with @testable import, which a release build allows only with it.
build=(swift build --package-path Fuzz -c "$config" --sanitize=fuzzer -Xswiftc -enable-testing)
mkdir -p "$work"
if [[ "${FUZZ_SKIP_BUILD:-0}" != 1 ]]; then
    start=$SECONDS
    products=()
    if ((${#targets[@]} == 1)); then products=(--product "fuzz-${targets[0]}"); fi
    if ! "${build[@]}" "${products[@]}" >"$work/build.log" 2>&1; then
        grep -E 'error:|warning:' "$work/build.log" | grep -v 'unhandled; explicitly declare' | head -40 >&2 || true
        echo "fuzz.sh: building the fuzz targets failed; full log: $work/build.log" >&2
        exit 1
    fi
    echo "fuzz.sh: build took $((SECONDS - start)) s ($config)"
fi
bin="$("${build[@]}" --show-bin-path)"

# Runs one target; prints a one-line verdict, returns non-zero on a finding.
run() {
    local name="$1" dir="$work/$1"
    rm -rf "$dir"
    mkdir -p "$dir/corpus" "$dir/artifacts"
    cp Fuzz/corpus/"$name"/* "$dir/corpus/"
    local start=$SECONDS status=0
    # Swift's own crash backtracer would catch the trap of a failed check first and exit before
    # libFuzzer writes the reproducer; replaying an artifact by hand still shows Swift's backtrace.
    SWIFT_BACKTRACE=enable=no "$bin/fuzz-$name" "$dir/corpus" \
        -dict="Fuzz/dictionaries/$name.dict" \
        -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
        -artifact_prefix="$dir/artifacts/" -print_final_stats=1 \
        >"$dir/log" 2>&1 || status=$?
    local runs
    runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log")"
    if ((status != 0)); then
        echo "fuzz.sh: fuzz-$name FAILED (exit $status) after $((SECONDS - start)) s; log: $dir/log"
        grep -E 'Fatal error|^==[0-9]+==|SUMMARY|^    #[0-9]+ ' "$dir/log" | head -20 || true
        local artifact
        for artifact in "$dir"/artifacts/*; do
            [[ -e "$artifact" ]] || continue
            echo "fuzz.sh: reproducer: $artifact  (replay: $bin/fuzz-$name $artifact)"
        done
        return 1
    fi
    echo "fuzz.sh: fuzz-$name ok: ${runs:-?} inputs in $((SECONDS - start)) s, corpus $(find "$dir/corpus" -type f | wc -l) files"
}

failed=()
pids=()
names=()
for name in "${targets[@]}"; do
    if ((jobs > 1)); then
        run "$name" &
        pids+=($!)
        names+=("$name")
        if ((${#pids[@]} >= jobs)); then
            wait "${pids[0]}" || failed+=("${names[0]}")
            pids=("${pids[@]:1}")
            names=("${names[@]:1}")
        fi
    else
        run "$name" || failed+=("$name")
    fi
done
for i in "${!pids[@]}"; do
    wait "${pids[$i]}" || failed+=("${names[$i]}")
done

if ((${#failed[@]} > 0)); then
    echo "fuzz.sh: findings in: ${failed[*]} (see docs/fuzzing.md for turning one into a regression test)" >&2
    exit 1
fi
echo "fuzz.sh: all ${#targets[@]} target(s) ran ${seconds} s without a finding"
