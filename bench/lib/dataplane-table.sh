# Turns $WORK/dataplane.tsv (one line per wrk run) into the markdown tables. Sourced by run.sh.
# Columns: target scenario run requests req/s MiB/s p50ms p99ms errors cpu-ticks.
# Every figure is the median over the runs; ratios divide the medians of the same invocation.

HZ=$(getconf CLK_TCK 2>/dev/null || echo 100)

# dp_metric TARGET SCENARIO NAME : median over runs of one per-run figure.
dp_metric() {
  awk -F'\t' -v t="$1" -v s="$2" -v m="$3" -v hz="$HZ" '
    $1 == t && $2 == s && $4 != "-" {
      req = $4; cpu = ($10 == "-") ? -1 : $10 / hz
      if (m == "rps") print $5
      else if (m == "mibps") print $6
      else if (m == "p50") print $7
      else if (m == "p99") print $8
      else if (m == "cpu100k" && cpu >= 0 && req > 0) print cpu / req * 100000
      else if (m == "reqpercpu" && cpu > 0) print req / cpu
      else if (m == "cpupergib" && cpu >= 0 && req > 0) print cpu / (req / 1024)
    }' "$WORK/dataplane.tsv" | median
}

# Total socket errors and non-2xx answers over all runs of a target and scenario.
dp_errors() {
  awk -F'\t' -v t="$1" -v s="$2" '$1 == t && $2 == s && $9 != "-" { e += $9 } END { print e + 0 }' "$WORK/dataplane.tsv"
}

# A cell: the formatted median, a dagger when wrk saw errors, or the reason a target is missing.
dp_cell() {
  local target=$1 scenario=$2 metric=$3 decimals=$4 value
  if [ "${DP_STATUS[$target]}" != ok ]; then echo "—"; return; fi
  value=$(dp_metric "$target" "$scenario" "$metric")
  printf '%s%s' "$(fmt "$decimals" "$value")" "$([ "$(dp_errors "$target" "$scenario")" -gt 0 ] && echo '†')"
}

dp_ratio() {
  local target=$1 scenario=$2 metric=$3
  if [ "${DP_STATUS[$target]}" != ok ] || [ "${DP_STATUS[haproxy]}" != ok ]; then echo "—"; return; fi
  ratio "$(dp_metric "$target" "$scenario" "$metric")" "$(dp_metric haproxy "$scenario" "$metric")"
}

dataplane_table() {
  local t s
  echo "### Data plane: throughput and latency"
  echo
  echo "wrk -t$THREADS -c$CONNECTIONS -d$DURATION, median of $RUNS runs each; \"×HAProxy\" divides by HAProxy's median from the same invocation."
  echo "Bodies: 1 KiB for keep-alive and new-connection, 1 MiB for bulk. Latency is from the keep-alive runs."
  echo
  echo "| path | keep-alive req/s | ×HAProxy | new-conn req/s | ×HAProxy | bulk MiB/s | ×HAProxy | p50 ms | p99 ms |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  for t in "${DP_TARGETS[@]}"; do
    echo "| ${DP_NAME[$t]} | $(dp_cell "$t" keepalive rps 0) | $(dp_ratio "$t" keepalive rps) | $(dp_cell "$t" close rps 0) | $(dp_ratio "$t" close rps) | $(dp_cell "$t" bulk mibps 0) | $(dp_ratio "$t" bulk mibps) | $(dp_cell "$t" keepalive p50 3) | $(dp_cell "$t" keepalive p99 3) |"
  done
  echo
  echo "### Data plane: proxy CPU (utime+stime of the proxy process and its workers)"
  echo
  echo "| proxy | CPU s per 100k req (keep-alive) | req per CPU-s (keep-alive) | ×HAProxy | CPU s per 100k req (new conn) | req per CPU-s (new conn) | ×HAProxy | CPU s per GiB (bulk) |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  for t in haproxy nginx ours; do
    echo "| ${DP_NAME[$t]} | $(dp_cell "$t" keepalive cpu100k 2) | $(dp_cell "$t" keepalive reqpercpu 0) | $(dp_ratio "$t" keepalive reqpercpu) | $(dp_cell "$t" close cpu100k 2) | $(dp_cell "$t" close reqpercpu 0) | $(dp_ratio "$t" close reqpercpu) | $(dp_cell "$t" bulk cpupergib 2) |"
  done
  echo
  dataplane_targets
  dataplane_notes
}

dataplane_targets() {
  local ours_rpc hap_rpc ours_bulk hap_bulk r1 r2
  if [ "${DP_STATUS[ours]}" = ok ] && [ "${DP_STATUS[haproxy]}" = ok ]; then
    ours_rpc=$(dp_metric ours keepalive reqpercpu); hap_rpc=$(dp_metric haproxy keepalive reqpercpu)
    ours_bulk=$(dp_metric ours bulk mibps); hap_bulk=$(dp_metric haproxy bulk mibps)
    r1=$(ge "$ours_rpc" "$hap_rpc" 1.0); r2=$(ge "$ours_bulk" "$hap_bulk" 0.9)
  else
    ours_rpc="-"; hap_rpc="-"; ours_bulk="-"; hap_bulk="-"
    r1="fail (not measured: ours ${DP_STATUS[ours]}, HAProxy ${DP_STATUS[haproxy]})"; r2=$r1
  fi
  echo "### Data plane targets"
  echo
  echo "| target | ours | HAProxy | ratio | required | result |"
  echo "| --- | ---: | ---: | ---: | --- | --- |"
  echo "| requests per proxy CPU-second, keep-alive | $(fmt 0 "$ours_rpc") | $(fmt 0 "$hap_rpc") | $(ratio "$ours_rpc" "$hap_rpc") | ≥ 1.00× HAProxy | $r1 |"
  echo "| bulk throughput, MiB/s | $(fmt 0 "$ours_bulk") | $(fmt 0 "$hap_bulk") | $(ratio "$ours_bulk" "$hap_bulk") | ≥ 0.90× HAProxy | $r2 |"
  echo
}

dataplane_notes() {
  local t s e notes=()
  for t in "${DP_TARGETS[@]}"; do
    if [ "${DP_STATUS[$t]}" != ok ]; then notes+=("${DP_NAME[$t]}: ${DP_STATUS[$t]}."); continue; fi
    for s in keepalive close bulk; do
      e=$(dp_errors "$t" "$s")
      [ "$e" -gt 0 ] && notes+=("† ${DP_NAME[$t]}, $s: wrk reported $e socket errors or non-2xx answers over $RUNS runs.")
    done
  done
  if [ "${DP_STATUS[direct]}" = ok ] && [ "$(dp_errors direct close)" -gt 0 ]; then
    notes+=("The backends themselves answered with errors in new-connection mode (direct path), so that column compares broken runs; check that example-backend closes the connection after answering a request that carries 'Connection: close'.")
  fi
  [ ${#notes[@]} -eq 0 ] && return 0
  echo "Notes:"
  echo
  for e in "${notes[@]}"; do echo "- $e"; done
  echo
}
