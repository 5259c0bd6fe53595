# Data plane benchmark: our userspace proxy vs HAProxy (mode tcp) vs nginx stream vs direct,
# all forwarding to the same two example-backend processes on loopback. Sourced by run.sh,
# which sets BIN, BACKEND_BIN, WORK, RUNS, DURATION, THREADS, CONNECTIONS and OURS_BUILT before calling
# `dataplane_main OUTFILE`.
#
# Layout (every address is on 127.0.0.0/8):
#   backends  small (1 KiB bodies)  127.0.0.2:18201, 127.0.0.3:18201
#             bulk  (1 MiB bodies)  127.0.0.2:18202, 127.0.0.3:18202
#   HAProxy   127.0.0.1:18221 (small)  127.0.0.1:18222 (bulk)
#   nginx     127.0.0.1:18231 (small)  127.0.0.1:18232 (bulk)
#   ours      127.0.0.1:18211 (small)  127.0.0.1:18212 (bulk), one kube-proxy process each,
#             --proxy-event-loops 2 (one per core here)
#   ours1     127.0.0.1:18213 (small)  127.0.0.1:18214 (bulk), the same with --proxy-event-loops 1
# HAProxy runs with nbthread 1 (its most CPU-efficient setting, the issue's reference); nginx
# with worker_processes auto.
# All peers run side by side and the runs are interleaved (run 1 of every target, then run 2, ...),
# so drift on the machine hits every target alike.

DP_TARGETS=(direct haproxy nginx ours1 ours)
declare -A DP_NAME=([direct]="direct to backends (limit)" [haproxy]="HAProxy (mode tcp, nbthread 1)" [nginx]="nginx stream" [ours1]="kube-proxy userspace, 1 event loop" [ours]="kube-proxy userspace, 2 event loops")
declare -A DP_LOOPS=([ours1]=1 [ours]=2)
declare -A DP_URL DP_SPLIT DP_PID DP_STATUS
SMALL_BODY=1024
BULK_BODY=1048576

dp_start_backends() {
  local size port host
  for size in small bulk; do
    port=$([ "$size" = small ] && echo 18201 || echo 18202)
    local bytes=$([ "$size" = small ] && echo "$SMALL_BODY" || echo "$BULK_BODY")
    for host in 127.0.0.2 127.0.0.3; do
      port_free "$host" "$port" || { log "something already listens on $host:$port"; return 1; }
      bench_spawn "$WORK/backend-$size-$host.log" "$BACKEND_BIN" \
        --listen "$host:$port" --name "backend-$size-$host" --body-size "$bytes"
      wait_port "$host" "$port" "$BENCH_PID" 10 || { log "backend $host:$port did not start"; cat "$WORK/backend-$size-$host.log" >&2; return 1; }
    done
  done
  DP_URL[direct:small]="http://127.0.0.2:18201/"
  DP_URL[direct:bulk]="http://127.0.0.2:18202/"
  DP_SPLIT[direct:small]="127.0.0.2:18201,127.0.0.3:18201"
  DP_SPLIT[direct:bulk]="127.0.0.2:18202,127.0.0.3:18202"
  DP_STATUS[direct]=ok
}

# dp_await TARGET SIZE PORT PID LOG : wait for a front-end port; record why a target is unusable.
dp_await() {
  local target=$1 size=$2 port=$3 pid=$4 logfile=$5
  if wait_port 127.0.0.1 "$port" "$pid" 30; then
    DP_URL[$target:$size]="http://127.0.0.1:$port/"
    DP_PID[$target:$size]=$pid
    return 0
  fi
  DP_STATUS[$target]="did not start (port $port not accepting; see log below)"
  log "$target did not open 127.0.0.1:$port; last lines of $logfile:"
  tail -n 15 "$logfile" >&2
  return 1
}

dp_start_haproxy() {
  command -v haproxy >/dev/null || { DP_STATUS[haproxy]="not installed"; return 0; }
  cat >"$WORK/haproxy.cfg" <<EOF
global
  maxconn 4096
  nbthread 1
defaults
  mode tcp
  timeout connect 5s
  timeout client 60s
  timeout server 60s
frontend small
  bind 127.0.0.1:18221
  default_backend small
backend small
  balance roundrobin
  server a 127.0.0.2:18201
  server b 127.0.0.3:18201
frontend bulk
  bind 127.0.0.1:18222
  default_backend bulk
backend bulk
  balance roundrobin
  server a 127.0.0.2:18202
  server b 127.0.0.3:18202
EOF
  bench_spawn "$WORK/haproxy.log" haproxy -db -f "$WORK/haproxy.cfg"
  local pid=$BENCH_PID
  DP_STATUS[haproxy]=ok
  dp_await haproxy small 18221 "$pid" "$WORK/haproxy.log" && dp_await haproxy bulk 18222 "$pid" "$WORK/haproxy.log" || true
}

dp_start_nginx() {
  command -v nginx >/dev/null || { DP_STATUS[nginx]="not installed"; return 0; }
  local module=""
  for m in /usr/lib/nginx/modules/ngx_stream_module.so /usr/share/nginx/modules/ngx_stream_module.so; do
    [ -e "$m" ] && { module="load_module $m;"; break; }
  done
  mkdir -p "$WORK/nginx"
  cat >"$WORK/nginx/nginx.conf" <<EOF
$module
daemon off;
master_process on;
worker_processes auto;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 4096; }
stream {
  upstream small { server 127.0.0.2:18201; server 127.0.0.3:18201; }
  upstream bulk { server 127.0.0.2:18202; server 127.0.0.3:18202; }
  server { listen 127.0.0.1:18231; proxy_pass small; }
  server { listen 127.0.0.1:18232; proxy_pass bulk; }
}
EOF
  bench_spawn "$WORK/nginx.log" nginx -p "$WORK/nginx" -e "$WORK/nginx/error.log" -c "$WORK/nginx/nginx.conf"
  local pid=$BENCH_PID
  DP_STATUS[nginx]=ok
  dp_await nginx small 18231 "$pid" "$WORK/nginx.log" && dp_await nginx bulk 18232 "$pid" "$WORK/nginx.log" || true
}

# One Service + EndpointSlice per size, in its own manifests directory, served by its own
# kube-proxy process with a one-port range so the front-end port is known in advance.
dp_write_manifests() {
  local size=$1 port=$2 dir=$3
  mkdir -p "$dir"
  cat >"$dir/service.yaml" <<EOF
apiVersion: v1
kind: Service
metadata:
  name: bench-$size
  namespace: default
spec:
  type: ClusterIP
  clusterIP: 10.96.0.$([ "$size" = small ] && echo 201 || echo 202)
  selector:
    app: bench-$size
  ports:
  - name: http
    protocol: TCP
    port: 80
    targetPort: $port
EOF
  cat >"$dir/endpointslice.yaml" <<EOF
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: bench-$size-1
  namespace: default
  labels:
    kubernetes.io/service-name: bench-$size
addressType: IPv4
ports:
- name: http
  protocol: TCP
  port: $port
endpoints:
- addresses: ["127.0.0.2"]
  conditions:
    ready: true
- addresses: ["127.0.0.3"]
  conditions:
    ready: true
EOF
}

# dp_start_ours TARGET : one kube-proxy process per size, with DP_LOOPS[TARGET] event loops.
dp_start_ours() {
  local target=$1 loops=${DP_LOOPS[$1]} base size backend_port front_port
  if [ "$OURS_BUILT" != yes ]; then DP_STATUS[$target]="did not build (swift build -c release --product kube-proxy failed)"; return 0; fi
  DP_STATUS[$target]=ok
  base=$([ "$target" = ours ] && echo 18211 || echo 18213)
  for size in small bulk; do
    backend_port=$([ "$size" = small ] && echo 18201 || echo 18202)
    front_port=$([ "$size" = small ] && echo "$base" || echo $((base + 1)))
    port_free 127.0.0.1 "$front_port" || { DP_STATUS[$target]="port $front_port busy"; return 0; }
    dp_write_manifests "$size" "$backend_port" "$WORK/manifests-$target-$size"
    bench_spawn "$WORK/kube-proxy-$target-$size.log" "$BIN/kube-proxy" --manifests "$WORK/manifests-$target-$size" \
      --bind-address 127.0.0.1 --proxy-port-range "$front_port-$front_port" --iptables-min-sync-period 100ms \
      --proxy-event-loops "$loops" --healthz-bind-address 127.0.0.1:0 --metrics-bind-address 127.0.0.1:0
    dp_await "$target" "$size" "$front_port" "$BENCH_PID" "$WORK/kube-proxy-$target-$size.log" || return 0
  done
}

# dp_wrk OUTPUT TARGET SIZE CONNS DURATION [extra wrk args...] : one wrk run against a target.
dp_wrk() {
  local out=$1 target=$2 size=$3 conns=$4 duration=$5; shift 5
  local split=() threads=$THREADS
  if [ -n "${DP_SPLIT[$target:$size]:-}" ]; then split=(-s "$BENCH_DIR/lua/split.lua"); fi
  [ "$conns" -lt "$threads" ] && threads=$conns
  WRK_SPLIT="${DP_SPLIT[$target:$size]:-}" timeout 60 wrk -t"$threads" -c"$conns" -d"$duration" --latency \
    "${split[@]}" "$@" "${DP_URL[$target:$size]}" >"$out" 2>&1 || true
}

# Reads one wrk output file; prints: requests rps MiB/s p50ms p99ms errors.
dp_parse() {
  awk '
    function ms(v) {
      if (v ~ /us$/) return v * 0.001; if (v ~ /ms$/) return v * 1; if (v ~ /m$/) return v * 60000
      if (v ~ /s$/) return v * 1000; return v
    }
    function mib(v) {
      if (v ~ /GB$/) return v * 1024; if (v ~ /MB$/) return v * 1; if (v ~ /KB$/) return v / 1024
      if (v ~ /TB$/) return v * 1048576; return v / 1048576
    }
    / requests in / { req = $1 }
    /^Requests\/sec:/ { rps = $2 }
    /^Transfer\/sec:/ { mb = mib($2) }
    /^ +50% / { p50 = ms($2) }
    /^ +99% / { p99 = ms($2) }
    /Socket errors:/ { gsub(",", ""); err += $4 + $6 + $8 + $10 }
    /Non-2xx or 3xx responses:/ { err += $NF }
    END {
      if (req == "") { print "- - - - - -"; exit }
      printf "%s %s %.3f %.4f %.4f %d\n", req, rps, mb, p50, p99, err
    }' "$1"
}

# Quick end-to-end check (2 connections, 1 s) so a proxy that does not forward is reported, not
# measured. Occasional errors do not disqualify: the measured runs count and report them (†).
dp_smoke() {
  local target=$1 size parsed
  for size in small bulk; do
    dp_wrk "$WORK/smoke-$target-$size.txt" "$target" "$size" 2 1s
    parsed=$(dp_parse "$WORK/smoke-$target-$size.txt")
    set -- $parsed
    if [ "$1" = "-" ] || [ "$1" -eq 0 ] || [ $(($6 * 100)) -gt "$1" ]; then
      DP_STATUS[$target]="does not forward ($size: ${1} requests, ${6} errors in the 1 s check)"
      log "$target: smoke check failed: $(tr '\n' ' ' <"$WORK/smoke-$target-$size.txt" | cut -c1-300)"
      return 0
    fi
  done
}

# dp_measure TARGET SCENARIO RUN : one measured run, appended to $WORK/dataplane.tsv.
dp_measure() {
  local target=$1 scenario=$2 run=$3 size=small extra=() pid before after out
  [ "$scenario" = bulk ] && size=bulk
  [ "$scenario" = close ] && extra=(-H "Connection: close")
  local conns=$CONNECTIONS duration=$DURATION
  # Unloaded latency: one connection, one request at a time.
  [ "$scenario" = latency ] && { conns=1; duration=3s; }
  pid=${DP_PID[$target:$size]:-}
  out="$WORK/wrk-$target-$scenario-$run.txt"
  before=$([ -n "$pid" ] && cpu_ticks "$pid" || echo 0)
  dp_wrk "$out" "$target" "$size" "$conns" "$duration" "${extra[@]}"
  after=$([ -n "$pid" ] && cpu_ticks "$pid" || echo 0)
  local ticks=$((after - before))
  [ -z "$pid" ] && ticks="-"
  printf '%s\t%s\t%s\t%s\t%s\n' "$target" "$scenario" "$run" "$(dp_parse "$out" | tr ' ' '\t')" "$ticks" >>"$WORK/dataplane.tsv"
}

dataplane_main() {
  local outfile=$1 target run scenario
  : >"$WORK/dataplane.tsv"
  if ! dp_start_backends; then
    echo "Data plane: not measured (the example backends did not start)." >"$outfile"
    return 0
  fi
  dp_start_haproxy
  dp_start_nginx
  dp_start_ours ours1
  dp_start_ours ours
  for target in "${DP_TARGETS[@]}"; do
    [ "${DP_STATUS[$target]}" = ok ] && dp_smoke "$target"
    log "data plane target $target: ${DP_STATUS[$target]}"
  done
  for run in $(seq "$RUNS"); do
    for scenario in keepalive close bulk latency; do
      for target in "${DP_TARGETS[@]}"; do
        [ "${DP_STATUS[$target]}" = ok ] || continue
        log "data plane run $run/$RUNS: $scenario via $target"
        dp_measure "$target" "$scenario" "$run"
      done
    done
  done
  dataplane_table >"$outfile"
}
