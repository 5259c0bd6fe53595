#!/usr/bin/env bash
# Runs every test: unit, data-plane and end-to-end (the real binaries on loopback).
# System tools that later test suites need are installed when missing and we are root with apt;
# otherwise the tests that need them skip and say which package is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
for pair in iptables-save:iptables nft:nftables ip:iproute2 conntrack:conntrack; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair##*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "test.sh: installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "test.sh: not installing ${missing[*]} (needs root and apt-get); tests that need them will skip"
  fi
fi

swift build --build-tests 2>&1 | grep -v '^\[' || true
test "${PIPESTATUS[0]}" -eq 0
swift test --skip-build "$@"
