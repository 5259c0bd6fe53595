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
      else if (m == "p50us") print $7 * 1000
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

# dp_best_peer SCENARIO METRIC : the larger median of HAProxy and nginx, and which one it was.
dp_best_peer() {
  local h n
  h=$([ "${DP_STATUS[haproxy]}" = ok ] && dp_metric haproxy "$1" "$2" || echo -)
  n=$([ "${DP_STATUS[nginx]}" = ok ] && dp_metric nginx "$1" "$2" || echo -)
  awk -v h="$h" -v n="$n" 'BEGIN {
    if (h == "-" && n == "-") { print "- -"; exit }
    if (n == "-" || (h != "-" && h + 0 >= n + 0)) print h, "HAProxy"; else print n, "nginx" }'
}

# dp_added TARGET : the target's unloaded p50 minus the direct path's, in microseconds.
dp_added() {
  local p d
  p=$(dp_metric "$1" latency p50us); d=$(dp_metric direct latency p50us)
  awk -v p="$p" -v d="$d" 'BEGIN { if (p == "-" || d == "-" || p == "" || d == "") print "-"; else printf "%.0f\n", p - d }'
}

dataplane_table() {
  local t
  echo "### Data plane: throughput and latency"
  echo
  echo "wrk -t$THREADS -c$CONNECTIONS -d$DURATION, median of $RUNS runs each; \"×HAProxy\" divides by HAProxy's median from the same invocation."
  echo "Bodies: 1 KiB for keep-alive and new-connection, 1 MiB for bulk. Latency: wrk -t1 -c1 -d3s keep-alive (unloaded); \"added\" is the p50 minus the direct path's."
  echo
  echo "| path | keep-alive req/s | ×HAProxy | new-conn req/s | ×HAProxy | bulk MiB/s | ×HAProxy | loaded p50 ms | loaded p99 ms | unloaded p50 µs | added p50 µs |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  for t in "${DP_TARGETS[@]}"; do
    echo "| ${DP_NAME[$t]} | $(dp_cell "$t" keepalive rps 0) | $(dp_ratio "$t" keepalive rps) | $(dp_cell "$t" close rps 0) | $(dp_ratio "$t" close rps) | $(dp_cell "$t" bulk mibps 0) | $(dp_ratio "$t" bulk mibps) | $(dp_cell "$t" keepalive p50 3) | $(dp_cell "$t" keepalive p99 3) | $(dp_cell "$t" latency p50us 0) | $([ "$t" = direct ] && echo 0 || dp_added "$t") |"
  done
  echo
  echo "### Data plane: proxy CPU (utime+stime of the proxy process and its workers)"
  echo
  echo "| proxy | CPU s per 100k req (keep-alive) | req per CPU-s (keep-alive) | ×HAProxy | CPU s per 100k req (new conn) | req per CPU-s (new conn) | ×HAProxy | CPU s per GiB (bulk) | MiB per CPU-s (bulk) | ×HAProxy |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  for t in haproxy nginx ours1 ours; do
    echo "| ${DP_NAME[$t]} | $(dp_cell "$t" keepalive cpu100k 2) | $(dp_cell "$t" keepalive reqpercpu 0) | $(dp_ratio "$t" keepalive reqpercpu) | $(dp_cell "$t" close cpu100k 2) | $(dp_cell "$t" close reqpercpu 0) | $(dp_ratio "$t" close reqpercpu) | $(dp_cell "$t" bulk cpupergib 2) | $(dp_cell "$t" bulk reqpercpu 0) | $(dp_ratio "$t" bulk reqpercpu) |"
  done
  echo
  dataplane_targets
  dataplane_notes
}

# dp_run_spread TARGET PEER SCENARIO : the lowest and highest per-run ratio of TARGET's requests
# per CPU-second to PEER's ("0.95–1.16×"), pairing the two paths' measurements of the same run
# (minutes apart at most), or "-". The median ratio decides the row; the spread shows how much of
# it this machine's run-to-run noise can move.
dp_run_spread() {
  awk -F'\t' -v t="$1" -v p="$2" -v s="$3" -v hz="$HZ" '
    $2 == s && $4 != "-" && $10 != "-" && $10 > 0 && ($1 == t || $1 == p) { v[$1, $3] = $4 / ($10 / hz); runs[$3] = 1 }
    END {
      n = 0
      for (r in runs) if ((t, r) in v && (p, r) in v && v[p, r] > 0) {
        x = v[t, r] / v[p, r]
        if (n == 0 || x < lo) lo = x
        if (n == 0 || x > hi) hi = x
        n++
      }
      if (n == 0) print "-"; else printf "%.2f–%.2f×\n", lo, hi
    }' "$WORK/dataplane.tsv"
}

# dp_target_row LABEL OURS PEER PEERNAME FACTOR DECIMALS [SPREAD] : one "ours ≥ FACTOR × peer" row.
dp_target_row() {
  local label=$1 ours=$2 peer=$3 name=$4 factor=$5 decimals=$6 spread=${7:--}
  echo "| $label | $(fmt "$decimals" "$ours") | $(fmt "$decimals" "$peer") ($name) | $(ratio "$ours" "$peer") | $spread | ≥ ${factor}× $name | $(ge "$ours" "$peer" "$factor") |"
}

dataplane_targets() {
  local t loops best bestname ours peer added hap_added
  echo "### Data plane targets (issue #9: per proxy CPU-second, same run, same backends)"
  echo
  if [ "${DP_STATUS[haproxy]}" != ok ]; then
    echo "Not evaluated: HAProxy ${DP_STATUS[haproxy]}."
    echo
    return 0
  fi
  echo "| target | ours | peer | ratio | per-run ratios | required | result |"
  echo "| --- | ---: | ---: | ---: | ---: | --- | --- |"
  read -r best bestname < <(dp_best_peer bulk reqpercpu)
  hap_added=$(dp_added haproxy)
  for t in ours1 ours; do
    [ "${DP_STATUS[$t]}" = ok ] || { echo "| ${DP_NAME[$t]} | — | | | | not measured: ${DP_STATUS[$t]} |"; continue; }
    loops=${DP_LOOPS[$t]}
    dp_target_row "$loops loop(s): keep-alive 1 KiB requests per CPU-s" "$(dp_metric "$t" keepalive reqpercpu)" "$(dp_metric haproxy keepalive reqpercpu)" HAProxy 1.1 0 "$(dp_run_spread "$t" haproxy keepalive)"
    dp_target_row "$loops loop(s): new-connection requests per CPU-s" "$(dp_metric "$t" close reqpercpu)" "$(dp_metric haproxy close reqpercpu)" HAProxy 1.1 0 "$(dp_run_spread "$t" haproxy close)"
    dp_target_row "$loops loop(s): bulk 1 MiB, MiB per CPU-s" "$(dp_metric "$t" bulk reqpercpu)" "$best" "$bestname" 1.1 0 "$(dp_run_spread "$t" "$([ "$bestname" = nginx ] && echo nginx || echo haproxy)" bulk)"
    added=$(dp_added "$t")
    echo "| $loops loop(s): added p50 latency, unloaded (µs) | $added | $hap_added (HAProxy) | | | ≤ HAProxy | $(awk -v a="$added" -v h="$hap_added" 'BEGIN { if (a == "-" || h == "-") print "fail (not measured)"; else if (a + 0 <= h + 0) print "pass"; else print "fail" }') |"
  done
  echo
}

dataplane_notes() {
  local t s e notes=()
  for t in "${DP_TARGETS[@]}"; do
    if [ "${DP_STATUS[$t]}" != ok ]; then notes+=("${DP_NAME[$t]}: ${DP_STATUS[$t]}."); continue; fi
    for s in keepalive close bulk latency; do
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
