# Shared helpers for bench/run.sh: process bookkeeping, readiness, CPU accounting, statistics.
# Sourced, not executed. Every process the harness starts goes through `bench_spawn`, so the
# EXIT trap in run.sh can kill exactly those PIDs (and their children, e.g. nginx workers).

BENCH_PIDS=()

log() { printf '[bench %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

# bench_spawn LOGFILE CMD ARGS... : start CMD in the background, remember its PID in BENCH_PID.
bench_spawn() {
  local logfile=$1; shift
  "$@" >"$logfile" 2>&1 &
  BENCH_PID=$!
  BENCH_PIDS+=("$BENCH_PID")
}

# Direct children of a PID (nginx's workers), from /proc/PID/task/*/children; falls back to a
# scan of /proc/*/stat on kernels built without that file.
child_pids() {
  local parent=$1 f stat rest
  if [ -e "/proc/$parent/task/$parent/children" ]; then
    for f in /proc/"$parent"/task/*/children; do cat "$f" 2>/dev/null; done | tr ' ' '\n' | grep -E '^[0-9]+$' || true
    return 0
  fi
  for stat in /proc/[0-9]*/stat; do
    rest=$(cat "$stat" 2>/dev/null) || continue
    rest=${rest##*) }
    set -- $rest
    if [ "$2" = "$parent" ]; then stat=${stat#/proc/}; echo "${stat%/stat}"; fi
  done
  return 0
}

# Kill one started process and its children by PID: TERM, a short grace period, then KILL.
bench_kill() {
  local pid=$1 kids p
  kids=$(child_pids "$pid")
  kill -TERM "$pid" $kids 2>/dev/null || true
  for _ in $(seq 20); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  for p in "$pid" $kids; do kill -KILL "$p" 2>/dev/null || true; done
  wait "$pid" 2>/dev/null || true
}

bench_kill_all() {
  local pid
  for pid in "${BENCH_PIDS[@]}"; do bench_kill "$pid"; done
  BENCH_PIDS=()
}

# wait_port HOST PORT PID SECONDS : succeed once HOST:PORT accepts a TCP connection; fail early
# if PID died, or after SECONDS.
wait_port() {
  local host=$1 port=$2 pid=$3 limit=$4 i
  for i in $(seq $((limit * 10))); do
    if (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then return 0; fi
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# port_free HOST PORT : succeed when nothing listens there (so we never measure a stranger).
port_free() { ! (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# CPU ticks (utime+stime) of a PID plus its direct children; 0 when gone.
cpu_ticks() {
  local pid=$1 total=0 p rest
  for p in "$pid" $(child_pids "$pid"); do
    rest=$(cat "/proc/$p/stat" 2>/dev/null) || continue
    rest=${rest##*) }
    set -- $rest
    total=$((total + ${12} + ${13}))
  done
  echo "$total"
}

# median of the numbers on stdin ("-" when none); non-numeric lines are ignored.
median() {
  grep -E '^-?[0-9.]+(e[-+]?[0-9]+)?$' | sort -g | awk '
    { v[NR] = $1 }
    END {
      if (NR == 0) { print "-"; exit }
      if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2
    }'
}

# fmt DECIMALS VALUE : printf a number, passing "-" through.
fmt() {
  if [ "$2" = "-" ] || [ -z "$2" ]; then echo "-"; else LC_ALL=C printf "%.${1}f" "$2"; fi
}

# ratio A B : A/B with two decimals and a trailing ×, "-" when either is missing or B is 0.
ratio() {
  if [ "$1" = "-" ] || [ "$2" = "-" ] || [ -z "$1" ] || [ -z "$2" ]; then echo "-"; return; fi
  awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "-"; else printf "%.2f×\n", a / b }'
}

# ge A B FACTOR : "pass" when A >= B*FACTOR, "fail" otherwise, "n/a" when a value is missing.
ge() {
  if [ "$1" = "-" ] || [ "$2" = "-" ] || [ -z "$1" ] || [ -z "$2" ]; then echo "n/a"; return; fi
  awk -v a="$1" -v b="$2" -v f="$3" 'BEGIN { print (a >= b * f) ? "pass" : "fail" }'
}

# bench_netns_add NAME : a fresh network namespace NAME with loopback up (the benchmarks write
# rules only there, never in the host's namespace); on failure nothing is left behind.
bench_netns_add() {
  ip netns add "$1" && ip -n "$1" link set lo up && return 0
  ip netns delete "$1" 2>/dev/null || true
  return 1
}

# bench_netns_delete NAME : delete a namespace the harness created (no-op for "").
bench_netns_delete() { [ -z "$1" ] || ip netns delete "$1" 2>/dev/null || true; }

# bench_wait_first LOG PID LIMIT T0 : seconds since T0 (date +%s.%N) until LOG says "first sync
# complete" (polled every 50 ms), or "-" when PID exits or LIMIT seconds pass first.
bench_wait_first() {
  local kplog=$1 kp=$2 limit=$3 t0=$4 deadline now
  deadline=$(($(date +%s) + limit))
  while [ "$(date +%s)" -lt "$deadline" ]; do
    now=$(date +%s.%N)
    if grep -q 'first sync complete' "$kplog" 2>/dev/null; then
      awk -v a="$now" -v b="$t0" 'BEGIN { printf "%.2f", a - b }'
      return
    fi
    kill -0 "$kp" 2>/dev/null || break
    sleep 0.05
  done
  echo "-"
}
