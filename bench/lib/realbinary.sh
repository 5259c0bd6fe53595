# Real-binary control plane benchmark (issue #9): the release kube-proxy started as a user starts
# it, for each size in BENCH_REAL_SIZES and each source:
#   manifests : --manifests DIR (N Services, N EndpointSlices of 10 endpoints), --bind-address 127.0.0.1
#   api       : --kubeconfig to fake-apiserver over TLS with a token, seeded the same way
#   portals   : --manifests DIR with --userspace-portals=true inside a private network namespace
#               (`ip netns add`, loopback plus a veth pair with both ends inside, no link to the
#               host); root only
# and measures start → "first sync complete", start → all "service port started" lines, peak RSS
# (VmHWM), idle CPU over BENCH_REAL_IDLE seconds, one EndpointSlice change → "service port changed"
# (from kube-proxy's own klog timestamp), iptables-restore lines written by that change and by
# the idle period (portals; from the "running iptables-restore lines=N" debug line of a second run
# with `-v 4`), and the /metrics body size. Sourced by run.sh; every process goes through bench_spawn and every
# namespace is deleted by realbinary_cleanup (called from run.sh's EXIT trap too).

REAL_NETNS=""

realbinary_cleanup() {
  bench_netns_delete "$REAL_NETNS"
  REAL_NETNS=""
}

# Seconds since midnight UTC, now, with microseconds (klog's timestamps are UTC time of day).
tod_now() { date -u +%H:%M:%S.%N | awk -F: '{ printf "%.6f\n", $1 * 3600 + $2 * 60 + $3 }'; }

# real_gen_manifests DIR N : N Services svc-1..svc-N with one EndpointSlice of 10 ready endpoints
# each, 1000 per file; svc-1 alone in svc-1.yaml so the change rewrites a small file.
real_gen_manifests() {
  local dir=$1 n=$2
  rm -rf "$dir"; mkdir -p "$dir"
  awk -v n="$n" -v dir="$dir" '
    function addr(prefix, i) { return prefix "." int(i / 254) % 256 "." (i % 254 + 1) }
    BEGIN {
      for (i = 1; i <= n; i++) {
        f = (i == 1) ? dir "/svc-1.yaml" : sprintf("%s/services-%03d.yaml", dir, int(i / 1000))
        printf "---\napiVersion: v1\nkind: Service\nmetadata:\n  name: svc-%d\n  namespace: default\nspec:\n  type: ClusterIP\n  clusterIP: %s\n  selector:\n    app: svc-%d\n  ports:\n  - name: http\n    protocol: TCP\n    port: 80\n    targetPort: 8080\n", i, addr("198.18", i), i > f
        printf "---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: svc-%d-1\n  namespace: default\n  labels:\n    kubernetes.io/service-name: svc-%d\naddressType: IPv4\nports:\n- name: http\n  protocol: TCP\n  port: 8080\nendpoints:\n", i, i > f
        for (k = 0; k < 10; k++) printf "- addresses: [\"%s\"]\n  conditions:\n    ready: true\n", addr("198.19", (i - 1) * 10 + k + 1) > f
        if (i == 1 || i % 1000 == 999) close(f)
      }
    }'
}

# The change: svc-1's slice loses its first endpoint (10 → 9). Written to a temporary file and
# renamed into place, as editors and kubectl-free GitOps tools do.
real_change_manifest() {
  local dir=$1
  awk 'BEGIN { skip = 0 } /^- addresses:/ && !done { done = 1; skip = 3 } skip > 0 { skip--; next } { print }' \
    "$dir/svc-1.yaml" >"$dir/.svc-1.tmp" && mv "$dir/.svc-1.tmp" "$dir/svc-1.yaml"
}

# real_free_port START : the first free loopback port from START.
real_free_port() {
  local p=$1
  while ! port_free 127.0.0.1 "$p"; do p=$((p + 1)); done
  echo "$p"
}

# Sum of lines= over "running iptables-restore" debug lines in LOG after byte OFFSET.
real_restore_lines() {
  tail -c +"$(($2 + 1))" "$1" 2>/dev/null | grep 'running iptables-restore' |
    sed -n 's/.*lines=\([0-9]*\).*/\1/p' | awk '{ s += $1 } END { print s + 0 }'
}

# real_sync_count CMD... : kubeproxy_sync_proxy_rules_duration_seconds_count from the /metrics
# body CMD prints (syncs run so far), 0 when absent.
real_sync_count() {
  "$@" 2>/dev/null | awk '/^kubeproxy_sync_proxy_rules_duration_seconds_count/ { v = $NF } END { printf "%d\n", v + 0 }'
}

# real_run SIZE SOURCE : one measured run; appends one TSV line to $WORK/real.tsv:
# size source first_sync listeners rss_mib idle_cpu_pct change_ms change_restore idle_restore metrics_bytes note
# idle_syncs
real_run() {
  local n=$1 src=$2 dir="$WORK/real-manifests-$1" kplog="$WORK/kp-real-$1-$2.log" api="" kp t0 now
  local first="-" listen="-" rss="-" cpu="-" change="-" chrestore="-" idlerestore="-" msize="-" note="" idlesyncs="-"
  local range_end=$((20000 + n + 1000)) limit=$((n >= 20000 ? 600 : 180)) metrics_port kubeflag=() ns=() cmd=()
  [ "$range_end" -gt 65000 ] && range_end=65000
  local common=(--proxy-port-range "20000-$range_end" --iptables-min-sync-period=0 --hostname-override bench-node)
  if [ "$n" -gt 31000 ] && [ "$range_end" -gt 32767 ]; then
    common=(--proxy-port-range "1100-$((1100 + n + 1000))" --iptables-min-sync-period=0 --hostname-override bench-node)
  fi
  [ -d "$dir" ] || real_gen_manifests "$dir" "$n"
  rm -f "$kplog"
  case $src in
    manifests)
      metrics_port=$(real_free_port 19249)
      cmd=("$BIN/kube-proxy" --manifests "$dir" --bind-address 127.0.0.1 --userspace-portals=false
        --healthz-bind-address 127.0.0.1:0 --metrics-bind-address "127.0.0.1:$metrics_port" "${common[@]}")
      ;;
    api)
      rm -f "$WORK/real-api.log" "$WORK/real-kubeconfig"
      bench_spawn "$WORK/real-api.log" "$BIN/fake-apiserver" --tls --token bench-token --seed-services "$n" \
        --seed-endpoints 10 --kubeconfig "$WORK/real-kubeconfig" --history 100000
      api=$BENCH_PID
      for _ in $(seq 3000); do grep -q '^kubeconfig:' "$WORK/real-api.log" 2>/dev/null && break; kill -0 "$api" 2>/dev/null || break; sleep 0.1; done
      if ! grep -q '^kubeconfig:' "$WORK/real-api.log"; then
        log "fake-apiserver did not start"; tail -5 "$WORK/real-api.log" >&2; bench_kill "$api"
        printf '%s\t%s\t-\t-\t-\t-\t-\t-\t-\t-\tfake-apiserver did not start\n' "$n" "$src" >>"$WORK/real.tsv"; return
      fi
      metrics_port=$(real_free_port 19249)
      cmd=("$BIN/kube-proxy" --kubeconfig "$WORK/real-kubeconfig" --bind-address 127.0.0.1 --userspace-portals=false
        --healthz-bind-address 127.0.0.1:0 --metrics-bind-address "127.0.0.1:$metrics_port" "${common[@]}")
      ;;
    portals | portals-v4)
      REAL_NETNS="kpbench-$$-$n"
      if ! { bench_netns_add "$REAL_NETNS" &&
        ip -n "$REAL_NETNS" link add bench0 type veth peer name bench1 &&
        ip -n "$REAL_NETNS" addr add 10.250.0.1/24 dev bench0 && ip -n "$REAL_NETNS" link set bench1 up &&
        ip -n "$REAL_NETNS" link set bench0 up && ip -n "$REAL_NETNS" route add default via 10.250.0.2 dev bench0; }; then
        realbinary_cleanup
        printf '%s\t%s\t-\t-\t-\t-\t-\t-\t-\t-\tcould not create the network namespace\n' "$n" "$src" >>"$WORK/real.tsv"; return
      fi
      metrics_port=10249
      ns=(ip netns exec "$REAL_NETNS")
      # The default bind address (0.0.0.0) and health/metrics addresses, inside the namespace.
      cmd=("${ns[@]}" "$BIN/kube-proxy" --manifests "$dir" --userspace-portals=true "${common[@]}")
      # A second run counts restore lines: -v 4 prints "running iptables-restore lines=N", but
      # also every manifest object, which would distort the timings, so they come from the first;
      # --iptables-sync-period 10s so its idle window holds periodic (no-op) full syncs.
      [ "$src" = portals-v4 ] && cmd+=(-v 4 --iptables-sync-period 10s)
      ;;
  esac
  log "real binary: $n Services from $src"
  t0=$(date +%s.%N)
  bench_spawn "$kplog" "${cmd[@]}"
  kp=$BENCH_PID
  local deadline=$(($(date +%s) + limit)) started=0
  while [ "$(date +%s)" -lt "$deadline" ]; do
    now=$(date +%s.%N)
    if [ "$first" = "-" ] && grep -q 'first sync complete' "$kplog" 2>/dev/null; then
      first=$(awk -v a="$now" -v b="$t0" 'BEGIN { printf "%.2f", a - b }')
    fi
    started=$(grep -c 'service port started' "$kplog" 2>/dev/null)
    if [ "$listen" = "-" ] && [ "${started:-0}" -ge "$n" ]; then
      listen=$(awk -v a="$now" -v b="$t0" 'BEGIN { printf "%.2f", a - b }')
    fi
    [ "$first" != "-" ] && [ "$listen" != "-" ] && break
    # Above 15k the listener time is no target; a descriptor limit that cannot be raised caps
    # the listeners, and the proxy says so (the note carries it into the table).
    [ "$first" != "-" ] && [ "$n" -gt 15000 ] && break
    kill -0 "$kp" 2>/dev/null || { note="kube-proxy exited"; break; }
    sleep 0.05
  done
  if grep -q 'listener capacity reached' "$kplog" 2>/dev/null; then
    note="listener capacity reached: $(grep -m1 'listener capacity reached' "$kplog" | sed -n 's/.*listening=\([0-9]*\).*/\1/p') of $n listening (descriptor limit $(ulimit -n))"
  fi
  if [ "$first" = "-" ] || { [ "$listen" = "-" ] && [ "$n" -le 15000 ]; }; then
    [ -z "$note" ] && note="not synced within ${limit} s (${started:-0}/$n listeners)"
    log "$note"; tail -5 "$kplog" >&2
  fi
  if kill -0 "$kp" 2>/dev/null && [ "$first" != "-" ]; then
    sleep 2
    # Idle: nothing changes; CPU of the process from /proc/PID/stat (utime+stime).
    local hz c0 c1 off s0
    hz=$(getconf CLK_TCK)
    off=$(stat -c %s "$kplog")
    [ "$src" = portals-v4 ] && s0=$(real_sync_count "${ns[@]}" curl -s "http://127.0.0.1:$metrics_port/metrics")
    c0=$(cpu_ticks "$kp"); sleep "$IDLE"; c1=$(cpu_ticks "$kp")
    [ "$src" = portals-v4 ] && idlesyncs=$(($(real_sync_count "${ns[@]}" curl -s "http://127.0.0.1:$metrics_port/metrics") - s0))
    cpu=$(awk -v a="$c0" -v b="$c1" -v hz="$hz" -v s="$IDLE" 'BEGIN { printf "%.2f", (b - a) / hz / s * 100 }')
    [ "$src" = portals-v4 ] && idlerestore=$(real_restore_lines "$kplog" "$off")
    if [ ${#ns[@]} -gt 0 ]; then
      msize=$("${ns[@]}" curl -s "http://127.0.0.1:$metrics_port/metrics" | wc -c)
    else
      msize=$(curl -s "http://127.0.0.1:$metrics_port/metrics" | wc -c)
    fi
    # One EndpointSlice change → applied: from just before the write to the klog timestamp of
    # "service port changed" for default/svc-1 (10 → 9 endpoints).
    off=$(stat -c %s "$kplog")
    local c_start line
    c_start=$(tod_now)
    if [ "$src" = api ]; then
      local server ca
      server=$(awk '/server:/ { print $2; exit }' "$WORK/real-kubeconfig")
      ca="$WORK/real-ca.pem"
      awk '/certificate-authority-data:/ { print $2; exit }' "$WORK/real-kubeconfig" | base64 -d >"$ca"
      curl -s --cacert "$ca" -H 'Authorization: Bearer bench-token' -X PATCH \
        -H 'Content-Type: application/json-patch+json' --data '[{"op":"remove","path":"/endpoints/0"}]' \
        "$server/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/svc-1-1" >/dev/null
    else
      real_change_manifest "$dir"
    fi
    line=""
    for _ in $(seq 1000); do
      line=$(tail -c +"$((off + 1))" "$kplog" | grep -m1 'service port changed.*default/svc-1:')
      [ -n "$line" ] && break
      sleep 0.01
    done
    if [ -n "$line" ]; then
      change=$(awk -v s="$c_start" '{ split($2, t, ":"); v = t[1] * 3600 + t[2] * 60 + t[3]; printf "%.1f", (v - s) * 1000 }' <<<"$line")
      sleep 1
      [ "$src" = portals-v4 ] && chrestore=$(real_restore_lines "$kplog" "$off")
    else
      note="${note:+$note; }change not applied within 10 s"
    fi
    rss=$(awk '/VmHWM/ { printf "%.1f", $2 / 1024 }' "/proc/$kp/status" 2>/dev/null)
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$n" "$src" "$first" "$listen" "${rss:--}" "$cpu" "$change" \
    "$chrestore" "$idlerestore" "$msize" "$note" "$idlesyncs" >>"$WORK/real.tsv"
  bench_kill "$kp"
  [ -n "$api" ] && bench_kill "$api"
  realbinary_cleanup
  # The change edited svc-1.yaml: regenerate before the next run of this size.
  rm -rf "$dir"
}

# lt A B : "PASS" when A < B, "FAIL" otherwise, "n/a" when A is missing.
real_lt() {
  if [ "$1" = "-" ] || [ -z "$1" ]; then echo "n/a"; return; fi
  awk -v a="$1" -v b="$2" 'BEGIN { print (a < b) ? "PASS" : "FAIL" }'
}

# realbinary_main OUT : runs every size × source BENCH_RUNS times (default 1 here) and writes the
# markdown section to OUT.
realbinary_main() {
  local out=$1 sizes=${BENCH_REAL_SIZES:-"1000 10000"} runs=${BENCH_RUNS:-1} n src run sources=(manifests api portals portals-v4)
  IDLE=${BENCH_REAL_IDLE:-20}
  : >"$WORK/real.tsv"
  if [ "$OURS_BUILT" != yes ]; then
    printf '### Real binary\n\nNot measured: the release build of kube-proxy failed.\n\n' >"$out"; return 0
  fi
  [ "$API_BUILT" != yes ] && sources=(manifests portals portals-v4)
  # BENCH_REAL_SOURCES narrows the sources, e.g. "portals" for a 50k run that stays inside its
  # namespace (outside one, 50k listeners on loopback would take ports other programs use).
  [ -n "${BENCH_REAL_SOURCES:-}" ] && read -r -a sources <<<"$BENCH_REAL_SOURCES"
  for n in $sizes; do
    if [ "$n" -gt 15000 ]; then
      # Each listener is a descriptor: raise the hard limit as an operator does for 50k Services.
      ulimit -Hn 1048576 2>/dev/null && ulimit -n 1048576 2>/dev/null ||
        log "could not raise the descriptor limit for $n (hard limit $(ulimit -Hn)); fewer listeners fit"
    fi
    for src in "${sources[@]}"; do
      if [ "${src%-v4}" = portals ] && { [ "$(id -u)" != 0 ] || ! command -v ip >/dev/null; }; then
        printf '%s\t%s\t-\t-\t-\t-\t-\t-\t-\t-\tskipped: portals need root and ip(8) for a private network namespace\n' "$n" "$src" >>"$WORK/real.tsv"
        continue
      fi
      for run in $(seq "$runs"); do real_run "$n" "$src"; done
    done
  done
  realbinary_table "$WORK/real.tsv" "$runs" >"$out"
}

# realbinary_table TSV RUNS : medians per size and source, one row per target.
realbinary_table() {
  local tsv=$1 runs=$2 key n src col
  {
    echo "### Real binary (control plane, issue #9 targets)"
    echo
    echo "The release \`kube-proxy\` started as a user starts it, with N Services × 1 port and one"
    echo "EndpointSlice of 10 endpoints each, from a manifests directory, from fake-apiserver (TLS,"
    echo "token), and from manifests with userspace portals on inside a private network namespace;"
    echo "\`--iptables-min-sync-period=0\`, \`--proxy-port-range\` as wide as N. Median of $runs run(s)"
    echo "per row (BENCH_RUNS, 1 by default for this section to keep it short). Times are wall clock"
    echo "from spawning the process (50 ms polling); the change time runs from just before the write"
    echo "(manifest rename / PATCH) to the klog timestamp of \"service port changed\". Idle CPU is"
    echo "utime+stime over ${IDLE} s with nothing changing. Restore lines are summed from the"
    echo "\"running iptables-restore lines=N\" lines of a second portal run with \`-v 4\` (that level"
    echo "also logs every object, so the other portal figures come from a run at the default level);"
    echo "the no-op syncs are counted from \`kubeproxy_sync_proxy_rules_duration_seconds_count\`."
    echo
    echo "| N | source | measure | target | measured | result |"
    echo "| ---: | --- | --- | --- | ---: | --- |"
    for key in $(cut -f1,2 "$tsv" | awk '!seen[$0]++' | tr '\t' ':'); do
      n=${key%%:*}; src=${key#*:}
      local f=() c note
      for c in 3 4 5 6 7 8 9 10 12; do
        f[c]=$(awk -F'\t' -v n="$n" -v s="$src" -v c="$c" '$1 == n && $2 == s { print $c }' "$tsv" | median)
      done
      note=$(awk -F'\t' -v n="$n" -v s="$src" '$1 == n && $2 == s && $11 != "" { print $11 }' "$tsv" | sort -u | paste -sd ';')
      local sync_t=2 rss_t=150
      if [ "$n" -gt 15000 ]; then sync_t=10; rss_t=600; fi
      if [ "$src" = portals-v4 ]; then
        echo "| $n | portals | iptables-restore lines for that change (\`-v 4\` run) | only that service's rules | ${f[8]} | $(real_lt "${f[8]}" 20) |"
        echo "| $n | portals | iptables-restore lines while idle: ${f[12]} no-op syncs in ${IDLE} s (\`-v 4\` run) | 0 | ${f[9]} | $(if [ "${f[12]}" = "-" ] || [ "${f[12]}" = 0 ]; then echo n/a; else real_lt "${f[9]}" 1; fi) |"
        [ -n "$note" ] && echo "| $n | portals -v 4 | note | | $note | |"
        continue
      fi
      echo "| $n | $src | start → first sync complete | < $sync_t s | ${f[3]} s | $(real_lt "${f[3]}" "$sync_t") |"
      if [ "$n" -le 15000 ]; then echo "| $n | $src | start → all listeners open | < 3 s | ${f[4]} s | $(real_lt "${f[4]}" 3) |"; fi
      echo "| $n | $src | peak RSS (VmHWM) | < $rss_t MiB | ${f[5]} MiB | $(real_lt "${f[5]}" "$rss_t") |"
      if [ "$n" -le 15000 ]; then
        echo "| $n | $src | idle CPU | < 1 % of a core | ${f[6]} % | $(real_lt "${f[6]}" 1) |"
        echo "| $n | $src | one EndpointSlice change → applied | < 50 ms | ${f[7]} ms | $(real_lt "${f[7]}" 50) |"
        echo "| $n | $src | \`/metrics\` size | < 1 MB | ${f[10]} B | $(real_lt "${f[10]}" 1000000) |"
      fi
      [ -n "$note" ] && echo "| $n | $src | note | | $note | |"
    done
    echo
  }
}
