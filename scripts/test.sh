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

# Style (.swift-format) is part of the build's contract: any lint finding fails the run.
if swift format --version >/dev/null 2>&1; then
  swift format lint --strict --recursive Sources Tests bench/Sources Fuzz/Sources Fuzz/Package.swift
else
  echo "test.sh: swift-format not in this toolchain; skipping the style check"
fi

build_log=$(mktemp)
trap 'rm -f "$build_log"' EXIT
if ! swift build --build-tests >"$build_log" 2>&1; then
  grep -v '^\[' "$build_log"
  echo "test.sh: the build failed"
  exit 1
fi
grep -E 'warning:' "$build_log" | grep -v '^\[' || true
if [ $# -gt 0 ]; then
  exec swift test --skip-build "$@"
fi
# The network-namespace suites drive `ip netns exec` and the probes synchronously, which holds a
# thread of Swift's cooperative pool (as wide as the cores: 2 here) for seconds at a time. Run
# beside the rest they starve timing-bound tests of threads, so they run on their own, one test
# at a time, after everything else.
netns='UserspaceLabTests|KernelModeLabTests|NFTablesModeEndToEndTests|IPTablesModeEndToEndTests|InClusterEndToEndTests|RelaySegmentsEndToEndTests'
status=0
swift test --skip-build --skip "$netns" || status=$?
swift test --skip-build --filter "$netns" --no-parallel || status=$?
exit $status
