# nftables mode benchmark (issue #10 "Speed"): the release kube-proxy with --proxy-mode nftables
# and --manifests DIR (BENCH_NFT_SIZES, default 10000 Services × 1 port × 10 endpoints), started
# inside a private network namespace (`ip netns add`; the table is written there, never in the
# host namespace), and measures:
#   start → "first sync complete" and peak RSS (VmHWM), from a run at the default log level;
#   one EndpointSlice change → applied, from a second run with `-v 4`: from just before the
#   manifest rename to the klog timestamp of the "nftables sync" debug line, which the backend
#   logs after nft accepted the transaction, with our planning time (planMs), our time writing
#   the text into nft's stdin pipe while nft reads it (textMs) and nft's time after the last
#   byte (nftMs) for the first (full) sync
#   and for the change (the `-v 4` level also logs every object, so the start figures come from
#   the first run).
# Root and nft(8) are needed; without them the section says so. Sourced by run.sh; the process
# goes through bench_spawn and the namespace is deleted by nftables_cleanup (also from run.sh's
# EXIT trap). Uses real_gen_manifests / real_change_manifest / tod_now from realbinary.sh.

NFT_NETNS=""

nftables_cleanup() {
  bench_netns_delete "$NFT_NETNS"
  NFT_NETNS=""
}

# nft_sync_field LINE KEY : the value of KEY=... in a klog line ("-" when absent).
nft_sync_field() {
  local v
  v=$(sed -n "s/.*[ \[]$2=\([^] ]*\).*/\1/p" <<<"$1" | head -n1)
  echo "${v:--}"
}

# nft_run SIZE VERBOSE : one run in a fresh namespace; appends one TSV line to $WORK/nft.tsv:
# size verbose first_sync_s rss_mib change_ms full_plan_ms full_nft_ms change_plan_ms change_nft_ms
# change_operations note full_text_ms change_text_ms
nft_run() {
  local n=$1 verbose=$2 dir="$WORK/nft-manifests-$1" kplog="$WORK/kp-nft-$1-$2.log" kp t0 now
  local first="-" rss="-" change="-" fplan="-" fnft="-" cplan="-" cnft="-" cops="-" ftext="-" ctext="-" note="" limit=$(($1 > 5000 ? 420 : 180)) cmd=()
  [ -d "$dir" ] || real_gen_manifests "$dir" "$n"
  rm -f "$kplog"
  NFT_NETNS="kpnft-$$-$n"
  if ! bench_netns_add "$NFT_NETNS"; then
    NFT_NETNS=""
    printf '%s\t%s\t-\t-\t-\t-\t-\t-\t-\t-\tcould not create the network namespace\t-\t-\n' "$n" "$verbose" >>"$WORK/nft.tsv"
    return
  fi
  cmd=(ip netns exec "$NFT_NETNS" "$BIN/kube-proxy" --proxy-mode nftables --manifests "$dir"
    --hostname-override bench-node --iptables-min-sync-period=0)
  [ "$verbose" = yes ] && cmd+=(-v 4)
  log "nftables: $n Services in namespace $NFT_NETNS (verbose: $verbose)"
  t0=$(date +%s.%N)
  bench_spawn "$kplog" "${cmd[@]}"
  kp=$BENCH_PID
  first=$(bench_wait_first "$kplog" "$kp" "$limit" "$t0")
  [ "$first" = "-" ] && ! kill -0 "$kp" 2>/dev/null && note="kube-proxy exited"
  if [ "$first" = "-" ]; then
    [ -z "$note" ] && note="not synced within ${limit} s"
    log "$note"; tail -5 "$kplog" >&2
  fi
  if kill -0 "$kp" 2>/dev/null && [ "$first" != "-" ]; then
    local line off c_start
    line=$(grep -m1 'nftables sync.*full="true"' "$kplog")
    fplan=$(nft_sync_field "$line" planMs); fnft=$(nft_sync_field "$line" nftMs); ftext=$(nft_sync_field "$line" textMs)
    sleep 2
    off=$(stat -c %s "$kplog")
    c_start=$(tod_now)
    real_change_manifest "$dir"
    line=""
    if [ "$verbose" = yes ]; then
      for _ in $(seq 1000); do
        line=$(tail -c +"$((off + 1))" "$kplog" | grep -m1 'nftables sync.*full="false"')
        [ -n "$line" ] && break
        sleep 0.01
      done
      if [ -n "$line" ]; then
        change=$(awk -v s="$c_start" '{ split($2, t, ":"); v = t[1] * 3600 + t[2] * 60 + t[3]; printf "%.1f", (v - s) * 1000 }' <<<"$line")
        cplan=$(nft_sync_field "$line" planMs); cnft=$(nft_sync_field "$line" nftMs); ctext=$(nft_sync_field "$line" textMs)
        cops=$(nft_sync_field "$line" operations)
      else
        note="${note:+$note; }change not applied within 10 s"
      fi
    fi
    sleep 1
    rss=$(awk '/VmHWM/ { printf "%.1f", $2 / 1024 }' "/proc/$kp/status" 2>/dev/null)
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$n" "$verbose" "$first" "${rss:--}" "$change" "$fplan" "$fnft" \
    "$cplan" "$cnft" "$cops" "$note" "$ftext" "$ctext" >>"$WORK/nft.tsv"
  bench_kill "$kp"
  nftables_cleanup
  # The change edited svc-1.yaml: regenerate before the next run of this size.
  rm -rf "$dir"
}

# nftables_main OUT : every size BENCH_RUNS times (default 1), both runs; writes the section to OUT.
nftables_main() {
  local out=$1 sizes=${BENCH_NFT_SIZES:-10000} runs=${BENCH_RUNS:-1} n run
  : >"$WORK/nft.tsv"
  if [ "$OURS_BUILT" != yes ]; then
    printf '### nftables mode\n\nNot measured: the release build of kube-proxy failed.\n\n' >"$out"; return 0
  fi
  if [ "$(id -u)" != 0 ] || ! command -v ip >/dev/null || ! command -v nft >/dev/null; then
    printf '### nftables mode\n\nNot measured: needs root, ip(8) and nft(8) (a private network namespace).\n\n' >"$out"
    return 0
  fi
  for n in $sizes; do
    for run in $(seq "$runs"); do
      nft_run "$n" no
      nft_run "$n" yes
    done
  done
  nftables_table "$WORK/nft.tsv" "$runs" >"$out"
}

# nftables_table TSV RUNS : medians per size, one row per target (start figures from the default
# level run, change and split times from the `-v 4` run).
nftables_table() {
  local tsv=$1 runs=$2 n c
  {
    echo "### nftables mode (issue #10 targets)"
    echo
    echo "The release \`kube-proxy --proxy-mode nftables --manifests DIR\` inside a private network"
    echo "namespace, N Services × 1 port with one EndpointSlice of 10 endpoints each,"
    echo "\`--iptables-min-sync-period=0\`. Median of $runs run(s). Start time is wall clock from"
    echo "spawning the process (50 ms polling) to \"first sync complete\", at the default log level."
    echo "The change (svc-1 loses one endpoint, manifest renamed into place) runs from just before"
    echo "the rename to the klog timestamp of the \"nftables sync\" debug line (logged once nft accepted"
    echo "the transaction) of a second run with \`-v 4\`; that line also gives our planning time, our"
    echo "time writing the transaction text into nft's stdin file, and nft's own time (\`nft -f -\`"
    echo "run to exit) for the first full sync and for the change."
    echo
    echo "| N | measure | target | measured | result |"
    echo "| ---: | --- | --- | ---: | --- |"
    for n in $(cut -f1 "$tsv" | awk '!seen[$0]++'); do
      local f=() g=() note
      for c in 3 4; do f[c]=$(awk -F'\t' -v n="$n" -v c="$c" '$1 == n && $2 == "no" { print $c }' "$tsv" | median); done
      for c in 5 6 7 8 9 10 12 13; do g[c]=$(awk -F'\t' -v n="$n" -v c="$c" '$1 == n && $2 == "yes" { print $c }' "$tsv" | median); done
      note=$(awk -F'\t' -v n="$n" '$1 == n && $11 != "" { print $2 ": " $11 }' "$tsv" | sort -u | paste -sd ';')
      echo "| $n | start → first sync complete (incl. the kernel transaction) | < 2 s | ${f[3]} s | $(real_lt "${f[3]}" 2) |"
      echo "| $n | peak RSS (VmHWM) | < 150 MiB | ${f[4]} MiB | $(real_lt "${f[4]}" 150) |"
      echo "| $n | first sync: our planning / our text (nft reading it meanwhile) / nft after the last byte (\`-v 4\` run) | | ${g[6]} ms / ${g[12]} ms / ${g[7]} ms | |"
      echo "| $n | one EndpointSlice change → applied in the kernel | < 50 ms | ${g[5]} ms | $(real_lt "${g[5]}" 50) |"
      echo "| $n | that change: our planning / our text (nft reading it meanwhile) / nft after the last byte, operations | | ${g[8]} ms / ${g[13]} ms / ${g[9]} ms, ${g[10]} ops | |"
      [ -n "$note" ] && echo "| $n | note | | $note | |"
    done
    echo
  }
}
