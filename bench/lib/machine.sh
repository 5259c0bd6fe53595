# The machine description saved with every result, so numbers are never read without context.
# Sourced by run.sh.

first_line() { "$@" 2>&1 | head -n 1 || true; }

machine_description() {
  local commit dirty="" cpu mem os
  commit=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
  [ -n "$(git -C "$REPO" status --porcelain --untracked-files=no 2>/dev/null | head -n 1)" ] && dirty=" (with uncommitted changes)"
  cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null)
  mem=$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo 2>/dev/null)
  os=$(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME")
  echo "### Machine"
  echo
  echo "| | |"
  echo "| --- | --- |"
  echo "| date (UTC) | $(date -u '+%Y-%m-%d %H:%M:%S') |"
  echo "| commit | $commit$dirty |"
  echo "| nproc | $(nproc) |"
  echo "| CPU | ${cpu:-unknown} |"
  echo "| memory | ${mem:-unknown} |"
  echo "| kernel | $(uname -srm) |"
  echo "| OS | ${os:-unknown} |"
  echo "| swift | $(first_line swift --version) |"
  echo "| wrk | $(command -v wrk >/dev/null && first_line wrk -v | awk '{print $1, $2}' || echo 'not installed') |"
  echo "| HAProxy | $(command -v haproxy >/dev/null && first_line haproxy -v | awk '{print $3}' || echo 'not installed') |"
  echo "| nginx | $(command -v nginx >/dev/null && first_line nginx -v | sed 's/^nginx version: //' || echo 'not installed') |"
  echo "| load average (1/5/15 min) | before measuring ${LOAD_AT_START:-unknown}; at the end $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews every figure; ratios from the same run are the robust part) |"
  echo "| settings | BENCH_RUNS=$RUNS BENCH_DURATION=$DURATION BENCH_THREADS=$THREADS BENCH_CONNECTIONS=$CONNECTIONS BENCH_SIZES=\"$CP_SIZES\" BENCH_ONLY=${ONLY:-all} BENCH_REAL_SIZES=\"${BENCH_REAL_SIZES:-1000 10000}\" (real binary: BENCH_RUNS=${BENCH_RUNS:-1})${BENCH_BACKEND:+ BENCH_BACKEND=$BENCH_BACKEND, not the one built from this checkout} |"
  echo
}
