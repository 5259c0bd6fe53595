# iptables mode benchmark (issue #11 "Speed"): the release kube-proxy with --proxy-mode iptables
# and --manifests DIR (BENCH_IPT_SIZES, default "1000 2000 10000" Services × 1 port × 10
# endpoints), started inside a private network namespace (`ip netns add`; the rules are written
# there, never in the host namespace), once per iptables variant in BENCH_IPT_VARIANTS:
#   system : whatever `iptables-restore` is on this host (here the nf_tables-based 1.8.x);
#   legacy : the xtables-legacy tools, chosen as `update-alternatives --set iptables
#            iptables-legacy` would, but only inside a private mount namespace of the run
#            (`unshare -m --propagation private` + a bind mount over /etc/alternatives), so the
#            host keeps its own choice. Skipped when the legacy tools are missing.
# It measures:
#   start → "first sync complete" and peak RSS (VmHWM of kube-proxy; the iptables tools are
#   separate processes), from a run at the default log level, bounded by BENCH_IPT_LIMIT seconds
#   (default 300) — a run that does not sync in time is reported as "did not finish";
#   from a second run with `-v 4` (skipped when the first did not finish): the first full sync's
#   "iptables sync" debug line (our planning time planMs, iptables-save's saveMs,
#   iptables-restore's restoreMs, restoreLines) and one EndpointSlice change → applied, from just
#   before the manifest rename to the klog timestamp of the next partial "iptables sync" line
#   (logged once iptables-restore exited), with the same split;
#   a restart over the rules in place (BENCH_IPT_RESTART, default 1; 0 skips it): after the
#   change, SIGTERM, then the same command again in the same namespace (rules stay at shutdown),
#   start → "first sync complete", and with `-v 4` that first sync's split (iptables-save,
#   our parsing of its output, our planning, iptables-restore, restore lines).
# Root, ip(8), unshare(1) and iptables-restore are needed; without them the section says so.
# Sourced by run.sh; the process goes through bench_spawn and the namespace is deleted by
# iptables_cleanup (also from run.sh's EXIT trap). Uses real_gen_manifests /
# real_change_manifest / tod_now from realbinary.sh and nft_sync_field from nftables.sh.

IPT_NETNS=""

iptables_cleanup() {
  bench_netns_delete "$IPT_NETNS"
  IPT_NETNS=""
}

# ipt_legacy_alternatives DIR : a copy of /etc/alternatives whose iptables entries point at the
# legacy tools (bind-mounted over /etc/alternatives inside the run's own mount namespace).
ipt_legacy_alternatives() {
  local dir=$1 f t
  rm -rf "$dir"; mkdir -p "$dir"
  for f in /etc/alternatives/*; do
    [ -L "$f" ] && ln -s "$(readlink "$f")" "$dir/$(basename "$f")"
  done
  for t in iptables ip6tables; do
    ln -sfn "/usr/sbin/$t-legacy" "$dir/$t"
    ln -sfn "/usr/sbin/$t-legacy-restore" "$dir/$t-restore"
    ln -sfn "/usr/sbin/$t-legacy-save" "$dir/$t-save"
  done
}

# ipt_run SIZE VARIANT VERBOSE : one run in a fresh namespace; appends one TSV line to
# $WORK/ipt.tsv: size variant verbose first_sync_s rss_mib change_ms full_plan_ms full_save_ms
# full_restore_ms full_lines change_plan_ms change_restore_ms change_lines note restart_s
# restart_plan_ms restart_save_ms restart_restore_ms restart_lines restart_parse_ms
ipt_run() {
  local n=$1 variant=$2 verbose=$3 dir="$WORK/ipt-manifests-$1" kplog="$WORK/kp-ipt-$1-$2-$3.log" kp
  local first="-" rss="-" change="-" fplan="-" fsave="-" frestore="-" flines="-" cplan="-" crestore="-" clines="-"
  local note="" limit=${BENCH_IPT_LIMIT:-300} cmd=() wrap=()
  local restart="-" rplan="-" rsave="-" rrestore="-" rlines="-" rparse="-"
  [ -d "$dir" ] || real_gen_manifests "$dir" "$n"
  rm -f "$kplog"
  IPT_NETNS="kpipt-$$-$n"
  if ! bench_netns_add "$IPT_NETNS"; then
    IPT_NETNS=""
    printf '%s\t%s\t%s\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\tcould not create the network namespace\t-\t-\t-\t-\t-\t-\n' "$n" "$variant" "$verbose" \
      >>"$WORK/ipt.tsv"
    return
  fi
  cmd=("$BIN/kube-proxy" --proxy-mode iptables --manifests "$dir" --hostname-override bench-node
    --iptables-min-sync-period=0)
  [ "$verbose" = yes ] && cmd+=(-v 4)
  if [ "$variant" = legacy ]; then
    # `exec` keeps one PID from `ip` to kube-proxy, so bench_kill and VmHWM see kube-proxy.
    wrap=(unshare -m --propagation private sh -c 'mount --bind "$0" /etc/alternatives && exec "$@"' "$WORK/ipt-alternatives")
  fi
  log "iptables ($variant): $n Services in namespace $IPT_NETNS (verbose: $verbose)"
  IPT_T0=$(date +%s.%N)
  bench_spawn "$kplog" ip netns exec "$IPT_NETNS" "${wrap[@]}" "${cmd[@]}"
  kp=$BENCH_PID
  first=$(bench_wait_first "$kplog" "$kp" "$limit" "$IPT_T0")
  [ "$first" = "-" ] && ! kill -0 "$kp" 2>/dev/null && note="kube-proxy exited"
  if [ "$first" = "-" ]; then
    [ -z "$note" ] && note="did not finish the first sync within ${limit} s"
    log "$note"; tail -3 "$kplog" >&2
  fi
  if kill -0 "$kp" 2>/dev/null && [ "$first" != "-" ]; then
    local line off c_start
    line=$(grep -m1 'iptables sync family="IPv4" full="true"' "$kplog")
    fplan=$(nft_sync_field "$line" planMs); fsave=$(nft_sync_field "$line" saveMs)
    frestore=$(nft_sync_field "$line" restoreMs); flines=$(nft_sync_field "$line" restoreLines)
    sleep 2
    off=$(stat -c %s "$kplog")
    c_start=$(tod_now)
    real_change_manifest "$dir"
    if [ "$verbose" = yes ]; then
      line=""
      for _ in $(seq 3000); do
        line=$(tail -c +"$((off + 1))" "$kplog" | grep -m1 'iptables sync family="IPv4" full="false"')
        [ -n "$line" ] && break
        sleep 0.01
      done
      if [ -n "$line" ]; then
        change=$(awk -v s="$c_start" '{ split($2, t, ":"); v = t[1] * 3600 + t[2] * 60 + t[3]; printf "%.1f", (v - s) * 1000 }' <<<"$line")
        cplan=$(nft_sync_field "$line" planMs); crestore=$(nft_sync_field "$line" restoreMs)
        clines=$(nft_sync_field "$line" restoreLines)
      else
        note="${note:+$note; }change not applied within 30 s"
      fi
    fi
    sleep 1
    rss=$(awk '/VmHWM/ { printf "%.1f", $2 / 1024 }' "/proc/$kp/status" 2>/dev/null)
    if [ "${BENCH_IPT_RESTART:-1}" != 0 ]; then
      # Rules stay in place at shutdown: the new process starts over all of them (the
      # manifests as changed, so the table holds exactly what it will want).
      bench_kill "$kp"
      log "iptables ($variant): restart over $n Services' rules"
      local rlog="$WORK/kp-ipt-$n-$variant-$verbose-restart.log"
      IPT_T0=$(date +%s.%N)
      bench_spawn "$rlog" ip netns exec "$IPT_NETNS" "${wrap[@]}" "${cmd[@]}"
      kp=$BENCH_PID
      restart=$(bench_wait_first "$rlog" "$kp" "$limit" "$IPT_T0")
      if [ "$restart" = "-" ]; then
        note="${note:+$note; }restart did not finish the first sync within ${limit} s"
        log "$note"; tail -3 "$rlog" >&2
      else
        line=$(grep -m1 'iptables sync family="IPv4" full="true"' "$rlog")
        rplan=$(nft_sync_field "$line" planMs); rsave=$(nft_sync_field "$line" saveMs)
        rrestore=$(nft_sync_field "$line" restoreMs); rlines=$(nft_sync_field "$line" restoreLines)
        rparse=$(nft_sync_field "$line" parseMs)
      fi
    fi
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$n" "$variant" "$verbose" "$first" \
    "${rss:--}" "$change" "$fplan" "$fsave" "$frestore" "$flines" "$cplan" "$crestore" "$clines" "$note" "$restart" "$rplan" "$rsave" \
    "$rrestore" "$rlines" "$rparse" >>"$WORK/ipt.tsv"
  bench_kill "$kp"
  iptables_cleanup
  # The change edited svc-1.yaml: regenerate before the next run of this size.
  rm -rf "$dir"
}

# iptables_main OUT : every size and variant BENCH_RUNS times (default 1); writes the section to OUT.
iptables_main() {
  local out=$1 sizes=${BENCH_IPT_SIZES:-"1000 2000 10000"} variants=${BENCH_IPT_VARIANTS:-"system legacy"}
  local runs=${BENCH_RUNS:-1} n run variant ran=()
  : >"$WORK/ipt.tsv"
  if [ "$OURS_BUILT" != yes ]; then
    printf '### iptables mode\n\nNot measured: the release build of kube-proxy failed.\n\n' >"$out"; return 0
  fi
  if [ "$(id -u)" != 0 ] || ! command -v ip >/dev/null || ! command -v unshare >/dev/null ||
    ! command -v iptables-restore >/dev/null; then
    printf '### iptables mode\n\nNot measured: needs root, ip(8), unshare(1) and iptables-restore (a private network namespace).\n\n' >"$out"
    return 0
  fi
  for variant in $variants; do
    if [ "$variant" = legacy ]; then
      [ -x /usr/sbin/iptables-legacy-restore ] || { log "iptables: no legacy tools, skipping that variant"; continue; }
      ipt_legacy_alternatives "$WORK/ipt-alternatives"
    fi
    ran+=("$variant")
    for n in $sizes; do
      for run in $(seq "$runs"); do
        ipt_run "$n" "$variant" no
        # A size that did not sync at the default level is not run again with -v 4.
        if awk -F'\t' -v n="$n" -v v="$variant" '$1 == n && $2 == v && $3 == "no" && $4 != "-" { ok = 1 } END { exit !ok }' \
          "$WORK/ipt.tsv"; then
          ipt_run "$n" "$variant" yes
        fi
      done
    done
  done
  iptables_table "$WORK/ipt.tsv" "$runs" "${ran[*]}" >"$out"
}

# ipt_tool_version VARIANT : `iptables-restore --version` as the runs saw it.
ipt_tool_version() {
  if [ "$1" = legacy ]; then iptables-legacy-restore --version 2>&1 | head -n1; else iptables-restore --version 2>&1 | head -n1; fi
}

# iptables_table TSV RUNS VARIANTS : medians per size and variant, one row per target (start
# figures from the default-level run, the split and the change from the `-v 4` run).
iptables_table() {
  local tsv=$1 runs=$2 variants=$3 n c variant
  {
    echo "### iptables mode (issue #11 targets)"
    echo
    echo "The release \`kube-proxy --proxy-mode iptables --manifests DIR\` inside a private network"
    echo "namespace, N Services × 1 port with one EndpointSlice of 10 endpoints each,"
    echo "\`--iptables-min-sync-period=0\`. Median of $runs run(s). Start time is wall clock from"
    echo "spawning the process (50 ms polling) to \"first sync complete\" (which includes"
    echo "\`iptables-restore\` for IPv4 and IPv6), at the default log level, bounded by"
    echo "${BENCH_IPT_LIMIT:-300} s. The change (svc-1 loses one endpoint, manifest renamed into place) runs"
    echo "from just before the rename to the klog timestamp of the next partial \"iptables sync\" debug"
    echo "line of a second run with \`-v 4\` (logged once \`iptables-restore\` exited); that line and the"
    echo "first full one give our planning time (render, diff, restore text) and the tools' own times"
    echo "(process start to exit), and the restore lines, for IPv4. Variants: \`system\` is this host's"
    echo "\`iptables-restore\`; \`legacy\` the xtables-legacy tools, selected only inside the run's own"
    echo "mount namespace as \`update-alternatives --set iptables iptables-legacy\` would."
    echo
    echo "| N | variant | measure | target | measured | result |"
    echo "| ---: | --- | --- | --- | ---: | --- |"
    for variant in $variants; do
      for n in $(awk -F'\t' -v v="$variant" '$2 == v { print $1 }' "$tsv" | awk '!seen[$0]++'); do
        local f=() g=() note
        for c in 4 5 15; do f[c]=$(awk -F'\t' -v n="$n" -v v="$variant" -v c="$c" '$1 == n && $2 == v && $3 == "no" { print $c }' "$tsv" | median); done
        for c in 6 7 8 9 10 11 12 13 16 17 18 19 20; do
          g[c]=$(awk -F'\t' -v n="$n" -v v="$variant" -v c="$c" '$1 == n && $2 == v && $3 == "yes" { print $c }' "$tsv" | median)
        done
        note=$(awk -F'\t' -v n="$n" -v v="$variant" '$1 == n && $2 == v && $14 != "" { print $3 == "yes" ? "-v 4: " $14 : $14 }' "$tsv" |
          sort -u | paste -sd ';')
        if [ "${f[4]}" = "-" ]; then
          echo "| $n | $variant | start → first sync complete (incl. iptables-restore) | < 3 s | did not finish | FAIL |"
        else
          echo "| $n | $variant | start → first sync complete (incl. iptables-restore) | < 3 s | ${f[4]} s | $(real_lt "${f[4]}" 3) |"
          echo "| $n | $variant | peak RSS (VmHWM) | < 150 MiB | ${f[5]} MiB | $(real_lt "${f[5]}" 150) |"
        fi
        echo "| $n | $variant | first sync: our planning / iptables-save / iptables-restore, lines | | ${g[7]} ms / ${g[8]} ms / ${g[9]} ms, ${g[10]} lines | |"
        echo "| $n | $variant | one EndpointSlice change → applied (partial sync) | < 100 ms | ${g[6]} ms | $(real_lt "${g[6]}" 100) |"
        echo "| $n | $variant | that change: our planning / iptables-restore, lines | | ${g[11]} ms / ${g[12]} ms, ${g[13]} lines | |"
        if [ "${BENCH_IPT_RESTART:-1}" != 0 ]; then
          if [ "${f[15]}" = "-" ]; then
            echo "| $n | $variant | restart over the rules in place → first sync complete | < 3 s | did not finish | FAIL |"
          else
            echo "| $n | $variant | restart over the rules in place → first sync complete | < 3 s | ${f[15]} s | $(real_lt "${f[15]}" 3) |"
          fi
          echo "| $n | $variant | restart's first sync: iptables-save / our parsing / our planning / iptables-restore, lines | | ${g[17]} ms / ${g[20]} ms / ${g[16]} ms / ${g[18]} ms, ${g[19]} lines | |"
        fi
        [ -n "$note" ] && echo "| $n | $variant | note | | $note | |"
      done
      echo "| | $variant | tool | | $(ipt_tool_version "$variant") | |"
    done
    echo
  }
}
