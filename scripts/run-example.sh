#!/usr/bin/env bash
# Runs kube-proxy on the bundled example with no cluster and no root:
# two backends on loopback, one Service (examples/hello), proxied on 127.0.0.1 at a port of
# 18080-18089 (the range leaves room for Services you add to examples/hello while it runs).
#   scripts/run-example.sh          run until Ctrl-C; it prints the address to curl
#   scripts/run-example.sh --check  start everything, send 6 requests, print the answers, stop
set -euo pipefail
cd "$(dirname "$0")/.."
swift build --product kube-proxy 2>&1 | grep -v '^\[' || true
swift build --product example-backend 2>&1 | grep -v '^\[' || true
bin=$(swift build --show-bin-path)

log=$(mktemp)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -f "$log"
}
trap cleanup EXIT INT TERM

"$bin/example-backend" --listen 127.0.0.2:18081 --name backend-a & pids+=($!)
"$bin/example-backend" --listen 127.0.0.3:18081 --name backend-b & pids+=($!)
# The proxy's log still reaches the terminal; a copy tells us which port hello got.
"$bin/kube-proxy" --manifests examples/hello --bind-address 127.0.0.1 --proxy-port-range 18080-18089 \
  --iptables-min-sync-period 100ms 2> >(tee "$log" >&2) & pids+=($!)

# A port of the range is chosen at random, so read hello's from its "service port started" line.
port=""
for _ in $(seq 100); do
  port=$(sed -n 's/.*service port started.* listen="127\.0\.0\.1:\([0-9]*\)".*servicePort="default\/hello:http".*/\1/p' "$log" | tail -n 1)
  [ -n "$port" ] && break
  if ! kill -0 "${pids[2]}" 2>/dev/null; then echo "example: kube-proxy exited" >&2; exit 1; fi
  sleep 0.1
done
if [ -z "$port" ]; then echo "example: hello did not start within 10 s" >&2; exit 1; fi

if [ "${1:-}" = "--check" ]; then
  for _ in 1 2 3 4 5 6; do
    exec 3<>"/dev/tcp/127.0.0.1/$port"
    printf 'GET / HTTP/1.1\r\nHost: example\r\nConnection: close\r\n\r\n' >&3
    tail -n 1 <&3
    exec 3>&-
  done
  exit 0
fi
echo "example: try  curl http://127.0.0.1:$port/  (Ctrl-C stops the proxy and the backends)"
wait "${pids[2]}"
