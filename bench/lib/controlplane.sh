# Control plane benchmark: runs `kube-proxy-bench control-plane --services N` in a fresh process
# per size and run (so VmHWM is that size's peak), collects the RESULT lines and prints medians.
# Sourced by run.sh, which sets BIN, WORK, RUNS, CP_SIZES and BENCH_BUILT.

# cp_value SIZE KEY : median over the runs of SIZE of one RESULT field.
cp_value() {
  awk -v n="$1" -v k="$2" '
    $1 == "RESULT" {
      delete f
      for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
      if (f["services"] == n && (k in f)) print f[k]
    }' "$WORK/controlplane.txt" | median
}

controlplane_main() {
  local outfile=$1 size run
  : >"$WORK/controlplane.txt"
  if [ "$BENCH_BUILT" != yes ]; then
    {
      echo "### Control plane"
      echo
      echo "Not measured: \`swift build -c release --product kube-proxy-bench\` failed (see the build log above)."
      echo
    } >"$outfile"
    return 0
  fi
  local failures=()
  for run in $(seq "$RUNS"); do
    for size in $CP_SIZES; do
      log "control plane run $run/$RUNS: $size services"
      if ! timeout 600 "$BIN/kube-proxy-bench" control-plane --services "$size" >>"$WORK/controlplane.txt" 2>"$WORK/controlplane-$size-$run.err"; then
        failures+=("$size services, run $run: $(tail -n 3 "$WORK/controlplane-$size-$run.err" | tr '\n' ' ')")
      fi
    done
  done
  controlplane_table "${failures[@]}" >"$outfile"
}

controlplane_table() {
  local size build change rss
  echo "### Control plane"
  echo
  echo "Generated ClusterIP Services with one TCP port and one EndpointSlice of 10 ready endpoints each,"
  echo "fed through ServiceChangeTracker / EndpointsChangeTracker, ProxyState.apply, the snapshot and the"
  echo "userspace plan (what a sync hands to the data plane). Each size runs in a fresh process; medians of"
  echo "$RUNS runs. \"1 change\" is the median of 21 single EndpointSlice edits (one endpoint's readiness flips)"
  echo "with the whole model present. Peak RSS is the process's VmHWM, including the generated API objects"
  echo "(\"objects only\" is the RSS after generating them, before our code ran)."
  echo
  echo "| Services | record Services ms | record slices ms | apply + snapshot ms | userspace plan ms | **build total ms** | 1 change → state applied ms | **1 change → plan ms** | **peak RSS MiB** | objects only MiB |"
  echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  for size in $CP_SIZES; do
    echo "| $size | $(fmt 1 "$(cp_value "$size" record_services_ms)") | $(fmt 1 "$(cp_value "$size" record_slices_ms)") | $(fmt 1 "$(cp_value "$size" apply_ms)") | $(fmt 1 "$(cp_value "$size" plan_ms)") | $(fmt 1 "$(cp_value "$size" build_ms)") | $(fmt 2 "$(cp_value "$size" change_apply_ms)") | $(fmt 2 "$(cp_value "$size" change_total_ms)") | $(fmt 1 "$(cp_value "$size" peak_rss_mib)") | $(fmt 1 "$(cp_value "$size" rss_before_mib)") |"
  done
  echo
  build=$(cp_value 10000 build_ms); change=$(cp_value 10000 change_total_ms); rss=$(cp_value 10000 peak_rss_mib)
  echo "### Control plane targets (10k Services)"
  echo
  echo "| target | measured | required | result |"
  echo "| --- | ---: | --- | --- |"
  echo "| build the model for 10k Services | $(fmt 1 "$build") ms | < 1000 ms | $(lt "$build" 1000) |"
  echo "| one EndpointSlice change → applied and planned | $(fmt 2 "$change") ms | < 50 ms | $(lt "$change" 50) |"
  echo "| peak RSS at 10k Services | $(fmt 1 "$rss") MiB | < 150 MiB | $(lt "$rss" 150) |"
  echo
  if [ $# -gt 0 ]; then
    echo "Failed runs (not in the medians):"
    echo
    local f
    for f in "$@"; do echo "- $f"; done
    echo
  fi
}

# lt VALUE LIMIT : "pass" when VALUE < LIMIT, "n/a" when not measured.
lt() {
  if [ "$1" = "-" ] || [ -z "$1" ]; then echo "n/a (not measured)"; return; fi
  awk -v a="$1" -v b="$2" 'BEGIN { print (a < b) ? "pass" : "fail" }'
}
