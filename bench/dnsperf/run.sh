#!/usr/bin/env bash
# Cache-hit UDP throughput: dnsward vs unbound, same names, same machine, same run.
# unbound answers 1000 names from local-data; dnsward forwards to that unbound
# and is warmed so every measured query is a cache hit. dnsperf (Debian
# package) drives both with the same query file for DURATION seconds each,
# ROUNDS times alternating, and the medians are compared.
# Server CPU per query (user+system ticks of each server over the queries it
# answered) is reported beside qps, since dnsperf itself may be the limit.
# DNSWARD_BIN=path runs that binary instead of building ./cmd/dnsward (to
# compare two builds with the same script).
# Usage: bench/dnsperf/run.sh [DURATION] [ROUNDS]   (needs: unbound dnsperf)
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${1:-10}
ROUNDS=${2:-3}
UB_PORT=${UB_PORT:-25353}
DW_PORT=${DW_PORT:-25354}
work=$(mktemp -d)
. bench/dnsperf/common.sh
bench_names "$UB_PORT" 1000
cat >"$work/dnsward.yaml" <<YAML
listen: {dns: ["127.0.0.1:$DW_PORT"]}
upstreams: [udp://127.0.0.1:$UB_PORT]
cache: {size: 100000}
log: {level: warn}
YAML

dnsward_bin
unbound -d -c "$work/unbound.conf" & pids+=($!); ub_pid=$!
"$work/dnsward" serve --config "$work/dnsward.yaml" >/dev/null & pids+=($!); dw_pid=$!
sleep 1
# Warm dnsward's cache (and check both answer).
dnsperf -s 127.0.0.1 -p "$DW_PORT" -d "$work/queries" -n 2 -q 100 >/dev/null

hz=$(getconf CLK_TCK)
# run PORT PID: one dnsperf run; prints "qps µs-per-query".
run() {
  local t0 t1 out
  t0=$(ticks "$2")
  out=$(dnsperf -s 127.0.0.1 -p "$1" -d "$work/queries" -l "$DURATION" -c 4 -T 1 -q 500 2>/dev/null)
  t1=$(ticks "$2")
  awk -v t=$((t1 - t0)) -v hz="$hz" '/Queries completed/ {n = $3} /Queries per second/ {q = $4}
    END {printf "%.0f %.2f\n", q, t / hz * 1e6 / n}' <<<"$out"
}
declare -a ub dw ubc dwc
for r in $(seq 1 "$ROUNDS"); do
  read -r q c < <(run "$UB_PORT" "$ub_pid"); ub+=("$q"); ubc+=("$c")
  read -r q c < <(run "$DW_PORT" "$dw_pid"); dw+=("$q"); dwc+=("$c")
  echo "round $r: unbound ${ub[-1]} qps ${ubc[-1]} µs/query, dnsward ${dw[-1]} qps ${dwc[-1]} µs/query"
done
mu=$(median "${ub[@]}"); md=$(median "${dw[@]}"); cu=$(median "${ubc[@]}"); cd=$(median "${dwc[@]}")
echo "median: unbound $mu qps $cu µs/query, dnsward $md qps $cd µs/query," \
  "ratio dnsward/unbound qps $(awk -v a="$md" -v b="$mu" 'BEGIN {printf "%.2f", a/b}')," \
  "unbound/dnsward CPU per query $(awk -v a="$cu" -v b="$cd" 'BEGIN {printf "%.2f", a/b}')"
