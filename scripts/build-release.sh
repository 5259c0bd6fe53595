#!/usr/bin/env bash
# Builds the release `kube-proxy` exactly as the Containerfile's build stage does (the
# Containerfile runs this script): optimised, the Swift standard library and Foundation linked
# statically, so the runtime image needs only Debian's base libraries. Prints the binary's path.
#
# Usage: scripts/build-release.sh
#   KUBE_PROXY_RELEASE_SCRATCH  build directory (default .build-release, apart from the debug
#                               build's .build so the two never wait on each other's lock)
# Tests/EndToEndTests/ReleaseBinaryTests.swift checks the result with ldd against the runtime
# stage's packages; it looks for the binary at the default path.
set -euo pipefail
cd "$(dirname "$0")/.."
scratch=${KUBE_PROXY_RELEASE_SCRATCH:-.build-release}
flags=(-c release --static-swift-stdlib --product kube-proxy --scratch-path "$scratch")
swift build "${flags[@]}" >&2
echo "$(swift build "${flags[@]}" --show-bin-path)/kube-proxy"
