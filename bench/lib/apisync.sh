# API-server sync benchmark: the real kube-proxy (release) against the fake API server seeded
# with N Services and N EndpointSlices over TLS with a token. Measures, per run in a fresh pair
# of processes, the wall time from starting kube-proxy to its "first sync complete" line (LIST of
# both resources, decode, trackers, and N userspace listeners opened) and kube-proxy's peak RSS.

# apisync_main OUT : writes the markdown section to OUT.
apisync_main() {
  local out=$1 n=${BENCH_API_SERVICES:-10000} run times=() rss=() t0 t1 line kp api
  if [ "$API_BUILT" != yes ] || [ "$OURS_BUILT" != yes ]; then
    printf '### API-server sync\n\nNot measured: the release build of fake-apiserver or kube-proxy failed.\n\n' >"$out"
    return 0
  fi
  for run in $(seq "$RUNS"); do
    log "api sync run $run/$RUNS: seeding $n Services"
    rm -f "$WORK/api.log" "$WORK/kp-api.log" "$WORK/api-kubeconfig"
    bench_spawn "$WORK/api.log" "$BIN/fake-apiserver" --tls --token bench-token --seed-services "$n" \
      --kubeconfig "$WORK/api-kubeconfig" --history 100000
    api=$BENCH_PID
    for _ in $(seq 1200); do grep -q '^kubeconfig:' "$WORK/api.log" 2>/dev/null && break; sleep 0.1; done
    if ! grep -q '^kubeconfig:' "$WORK/api.log"; then log "fake-apiserver did not start"; tail -5 "$WORK/api.log" >&2; bench_kill "$api"; continue; fi
    t0=$(date +%s.%N)
    bench_spawn "$WORK/kp-api.log" "$BIN/kube-proxy" --kubeconfig "$WORK/api-kubeconfig" --hostname-override bench-node \
      --bind-address 127.0.0.1 --userspace-portals=false --healthz-bind-address 127.0.0.1:0 \
      --metrics-bind-address 127.0.0.1:0 --iptables-min-sync-period 100ms
    kp=$BENCH_PID
    line=""
    for _ in $(seq 1200); do
      if grep -q 'first sync complete' "$WORK/kp-api.log" 2>/dev/null; then t1=$(date +%s.%N); line=yes; break; fi
      kill -0 "$kp" 2>/dev/null || break
      sleep 0.05
    done
    if [ -z "$line" ]; then
      log "kube-proxy did not finish its first sync"; tail -5 "$WORK/kp-api.log" >&2
    else
      times+=("$(awk -v a="$t1" -v b="$t0" 'BEGIN { printf "%.2f", a - b }')")
      rss+=("$(awk '/VmHWM/ {printf "%.1f", $2/1024}' "/proc/$kp/status")")
    fi
    bench_kill "$kp"; bench_kill "$api"
  done
  local time_med rss_med
  time_med=$(printf '%s\n' "${times[@]:-}" | median)
  rss_med=$(printf '%s\n' "${rss[@]:-}" | median)
  {
    echo "### API-server sync ($n Services, $n EndpointSlices)"
    echo
    echo "kube-proxy (release) started against fake-apiserver (TLS, bearer token) seeded with $n Services and"
    echo "one EndpointSlice each; time from process start to \"first sync complete\" (LIST of both resources,"
    echo "decode, trackers, and $n userspace listeners opened), median of ${#times[@]} runs; peak RSS is VmHWM."
    echo
    echo "| measure | value | target | result |"
    echo "| --- | ---: | --- | --- |"
    echo "| start → first sync complete | ${time_med:-n/a} s | < 2 s | $(ge 2 "$time_med" 1) |"
    echo "| peak RSS | ${rss_med:-n/a} MiB | < 150 MiB | $(ge 150 "$rss_med" 1) |"
    echo
  } >"$out"
}
