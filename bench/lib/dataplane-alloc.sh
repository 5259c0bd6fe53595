# Allocations per relayed request (issue #9): runs the RelayAllocations benchmark of the separate
# package in Benchmarks/ (ordo-one/benchmark with its malloc interposer) and writes its
# mallocCountTotal table as markdown. Sourced by run.sh, which calls `alloc_main OUTFILE` for
# BENCH_ONLY=alloc (and a full run). The proxy runs in the benchmark process on one event loop;
# client and backends use blocking sockets on threads of their own and allocate nothing per
# request, so the counts are the data plane's own.

alloc_main() {
  local outfile=$1 log="$WORK/alloc.log"
  {
    echo "### Data plane: allocations per request"
    echo
    echo "\`swift package --package-path Benchmarks benchmark --target RelayAllocations\` (release; the relay on"
    echo "loopback inside one process, one event loop; 64-byte request, 1 KiB reply). mallocCountTotal is per"
    echo "request: keep-alive is one request/reply on an open connection, new connection is accept, dial, one"
    echo "request/reply and both closes. Percentiles over the benchmark's iterations."
    echo
  } >"$outfile"
  log "allocation benchmark (builds the Benchmarks package in release on first use; several minutes)"
  if ! (cd "$REPO/Benchmarks" && timeout 1800 swift package --allow-writing-to-package-directory benchmark \
    --target RelayAllocations --metric mallocCountTotal --format markdown --no-progress) >"$log" 2>&1; then
    echo "Not measured: the benchmark failed; last lines:" >>"$outfile"
    echo >>"$outfile"
    echo '```' >>"$outfile"
    tail -n 15 "$log" >>"$outfile"
    echo '```' >>"$outfile"
    echo >>"$outfile"
    return 0
  fi
  # Keep each benchmark's title and table; drop the build chatter and the tool's own headings.
  awk '/^### / { sub(/^### /, "#### "); print; blank = 0; next }
       /^\|/ { print; blank = 0; next }
       /^$/ { if (!blank) print; blank = 1 }' "$log" >>"$outfile"
  echo >>"$outfile"
}
