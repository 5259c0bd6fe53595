#!/usr/bin/env bash
# Runs kube-proxy on the bundled example with no cluster and no root:
# two backends on loopback, one Service (examples/hello), proxied on 127.0.0.1:18080.
#   scripts/run-example.sh          run until Ctrl-C; in another terminal: curl http://127.0.0.1:18080/
#   scripts/run-example.sh --check  start everything, send 6 requests, print the answers, stop
set -euo pipefail
cd "$(dirname "$0")/.."
swift build --product kube-proxy 2>&1 | grep -v '^\[' || true
swift build --product example-backend 2>&1 | grep -v '^\[' || true
bin=$(swift build --show-bin-path)

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

"$bin/example-backend" --listen 127.0.0.2:18081 --name backend-a & pids+=($!)
"$bin/example-backend" --listen 127.0.0.3:18081 --name backend-b & pids+=($!)
"$bin/kube-proxy" --manifests examples/hello --bind-address 127.0.0.1 --proxy-port-range 18080-18080 \
  --iptables-min-sync-period 100ms & pids+=($!)

if [ "${1:-}" = "--check" ]; then
  for _ in $(seq 50); do
    (exec 3<>/dev/tcp/127.0.0.1/18080) 2>/dev/null && break
    sleep 0.1
  done
  for _ in 1 2 3 4 5 6; do
    exec 3<>/dev/tcp/127.0.0.1/18080
    printf 'GET / HTTP/1.1\r\nHost: example\r\nConnection: close\r\n\r\n' >&3
    tail -n 1 <&3
    exec 3>&-
  done
  exit 0
fi
echo "example: try  curl http://127.0.0.1:18080/  (Ctrl-C stops the proxy and the backends)"
wait "${pids[2]}"
