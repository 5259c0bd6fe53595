#!/usr/bin/env bash
# The benchmark harness: one command, from a clean checkout.
#
#   bash bench/run.sh
#
# Installs its peers from Debian when missing and root (wrk, haproxy, nginx, libnginx-mod-stream),
# builds kube-proxy, example-backend and kube-proxy-bench in release mode, measures the data plane
# (ours vs HAProxy vs nginx stream vs direct, wrk on loopback) and the control plane (model build
# time and peak RSS for 1k/10k/50k Services), prints the tables and saves them with a machine
# description to bench/results/<UTC timestamp>.md. Every process it starts is killed by PID on exit.
# Never run by `swift test`. See bench/README.md for what each figure means.
#
# Knobs (environment): BENCH_RUNS (3), BENCH_DURATION (5s), BENCH_THREADS (2),
# BENCH_CONNECTIONS (64), BENCH_SIZES ("1000 10000 50000"),
# BENCH_ONLY (dataplane|alloc|controlplane|apisync|realbinary|nftables|iptables), BENCH_NFT_SIZES (10000),
# BENCH_IPT_SIZES ("1000 2000 10000"), BENCH_IPT_VARIANTS ("system legacy"), BENCH_IPT_LIMIT (300 s), BENCH_IPT_RESTART (1), BENCH_API_SERVICES (10000),
# BENCH_REAL_SIZES ("1000 10000"; add 50000 to opt in), BENCH_REAL_IDLE (20 s),
# BENCH_REAL_SOURCES ("manifests api portals portals-v4"),
# BENCH_BACKEND (an example-backend binary to use instead of building one).
set -uo pipefail

BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
cd "$REPO"

RUNS=${BENCH_RUNS:-3}
DURATION=${BENCH_DURATION:-5s}
THREADS=${BENCH_THREADS:-2}
CONNECTIONS=${BENCH_CONNECTIONS:-64}
CP_SIZES=${BENCH_SIZES:-"1000 10000 50000"}
ONLY=${BENCH_ONLY:-}

for lib in common machine dataplane dataplane-table dataplane-alloc controlplane apisync realbinary nftables iptables; do
  source "$BENCH_DIR/lib/$lib.sh" || { echo "bench: cannot load bench/lib/$lib.sh" >&2; exit 1; }
done

WORK=$(mktemp -d /tmp/kube-proxy-bench.XXXXXX)
cleanup() {
  bench_kill_all
  realbinary_cleanup
  nftables_cleanup
  iptables_cleanup
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
STARTED=$(date +%s)

install_peers() {
  local missing=()
  command -v wrk >/dev/null || missing+=(wrk)
  command -v haproxy >/dev/null || missing+=(haproxy)
  command -v nginx >/dev/null || missing+=(nginx)
  if ! ls /usr/lib/nginx/modules/ngx_stream_module.so >/dev/null 2>&1 && ! nginx -V 2>&1 | grep -q -- '--with-stream '; then
    missing+=(libnginx-mod-stream)
  fi
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "installing ${missing[*]} from Debian"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >"$WORK/apt.log" 2>&1 &&
      apt-get install -y -qq wrk haproxy nginx libnginx-mod-stream >>"$WORK/apt.log" 2>&1 ||
      { log "apt-get failed:"; tail -n 20 "$WORK/apt.log" >&2; }
  else
    log "missing ${missing[*]}; not root or no apt-get, so the tables will say which peers were not measured"
  fi
}

# BENCH_SCRATCH_PATH: a separate SwiftPM build directory for the release binaries, so a
# benchmark does not wait for (or invalidate) the debug build in .build.
RELEASE=(-c release)
[ -n "${BENCH_SCRATCH_PATH:-}" ] && RELEASE+=(--scratch-path "$BENCH_SCRATCH_PATH")

# build PRODUCT : release build; sets the variable named by $2 to yes/no.
build() {
  local product=$1 var=$2
  log "building $product (release; the first build takes several minutes on 2 cores)"
  if swift build "${RELEASE[@]}" --product "$product" >"$WORK/build-$product.log" 2>&1; then
    printf -v "$var" yes
  else
    printf -v "$var" no
    log "release build of $product failed:"
    grep -E 'error:' "$WORK/build-$product.log" | sort -u | head -n 15 >&2
  fi
}

# Only the data plane needs the peers.
if [ "$ONLY" = "" ] || [ "$ONLY" = dataplane ]; then install_peers; fi
BACKEND_BUILT=no; OURS_BUILT=no; BENCH_BUILT=no; API_BUILT=no
if [ "$ONLY" = "" ] || [ "$ONLY" = dataplane ]; then
  if [ -n "${BENCH_BACKEND:-}" ]; then BACKEND_BUILT=yes; else build example-backend BACKEND_BUILT; fi
fi
if [ "$ONLY" != controlplane ] && [ "$ONLY" != alloc ]; then build kube-proxy OURS_BUILT; fi
if [ "$ONLY" = "" ] || [ "$ONLY" = apisync ] || [ "$ONLY" = realbinary ]; then build fake-apiserver API_BUILT; fi
if [ "$ONLY" = "" ] || [ "$ONLY" = controlplane ]; then build kube-proxy-bench BENCH_BUILT; fi
BIN=$(swift build "${RELEASE[@]}" --show-bin-path)
log "builds done after $(($(date +%s) - STARTED)) s"
LOAD_AT_START=$(cut -d' ' -f1-3 /proc/loadavg)

: >"$WORK/dataplane.md"
if [ "$ONLY" = "" ] || [ "$ONLY" = dataplane ]; then
  if [ "$BACKEND_BUILT" != yes ]; then
    printf '### Data plane\n\nNot measured: `swift build -c release --product example-backend` failed.\n\n' >"$WORK/dataplane.md"
  elif ! command -v wrk >/dev/null; then
    printf '### Data plane\n\nNot measured: wrk is not installed.\n\n' >"$WORK/dataplane.md"
  else
    BACKEND_BIN=${BENCH_BACKEND:-$BIN/example-backend}
    dataplane_main "$WORK/dataplane.md"
    bench_kill_all
  fi
fi
: >"$WORK/alloc.md"
if [ "$ONLY" = "" ] || [ "$ONLY" = alloc ]; then alloc_main "$WORK/alloc.md"; fi
: >"$WORK/controlplane.md"
if [ "$ONLY" = "" ] || [ "$ONLY" = controlplane ]; then controlplane_main "$WORK/controlplane.md"; fi
: >"$WORK/apisync.md"
if [ "$ONLY" = "" ] || [ "$ONLY" = apisync ]; then apisync_main "$WORK/apisync.md"; bench_kill_all; fi
: >"$WORK/realbinary.md"
if [ "$ONLY" = "" ] || [ "$ONLY" = realbinary ]; then realbinary_main "$WORK/realbinary.md"; bench_kill_all; realbinary_cleanup; fi
: >"$WORK/nftables.md"
if [ "$ONLY" = "" ] || [ "$ONLY" = nftables ]; then nftables_main "$WORK/nftables.md"; bench_kill_all; nftables_cleanup; fi
: >"$WORK/iptables.md"
if [ "$ONLY" = "" ] || [ "$ONLY" = iptables ]; then iptables_main "$WORK/iptables.md"; bench_kill_all; iptables_cleanup; fi

STAMP=$(date -u +%Y-%m-%dT%H-%M-%SZ)
mkdir -p "$BENCH_DIR/results"
RESULT="$BENCH_DIR/results/$STAMP.md"
{
  echo "# kube-proxy benchmark, $STAMP"
  echo
  echo "Command: \`bash bench/run.sh\`; total time $(($(date +%s) - STARTED)) s."
  echo
  cat "$WORK/dataplane.md" "$WORK/alloc.md" "$WORK/controlplane.md" "$WORK/apisync.md" "$WORK/realbinary.md" \
    "$WORK/nftables.md" "$WORK/iptables.md"
  machine_description
} >"$RESULT"
cat "$RESULT"
log "saved $RESULT"
