#!/usr/bin/env bash
# Cache memory through the whole gateway process, BASE against this tree: each
# dnsward forwards to a local unbound that answers every NAMES unique name with
# one A record (a redirect zone); dnsperf asks each name once, and the growth
# of go_memstats_heap_alloc_bytes over those answers, per answer, is reported
# with the process's RSS growth. GOGC=5 keeps the heap within some 5% of what
# is live, so that the figure is the cache's and not uncollected garbage.
# Usage: bench/cachemem/gateway.sh BASE [NAMES]   (needs: unbound dnsperf curl)
set -euo pipefail
cd "$(dirname "$0")/../.."
BASE=${1:?usage: bench/cachemem/gateway.sh BASE [NAMES]}
NAMES=${2:-100000}
UB_PORT=${UB_PORT:-25373}
DW_PORT=${DW_PORT:-25374}
MX_PORT=${MX_PORT:-25375}
work=$(mktemp -d)
. bench/dnsperf/common.sh
unbound_conf "$UB_PORT" '  local-zone: "n.bench.example." redirect
  local-data: "n.bench.example. 3600 IN A 192.0.2.1"
'
seq 1 "$NAMES" | awk '{print "u" $1 ".n.bench.example A"}' >"$work/queries"
cat >"$work/dnsward.yaml" <<YAML
listen: {dns: ["127.0.0.1:$DW_PORT"], metrics: "127.0.0.1:$MX_PORT"}
upstreams: [udp://127.0.0.1:$UB_PORT]
cache: {size: $((2 * NAMES))}
log: {level: warn}
YAML
mkdir "$work/base"
git archive "$BASE" | tar -x -C "$work/base"
(cd "$work/base" && go build -o "$work/dnsward-base" ./cmd/dnsward)
dnsward_bin
unbound -d -c "$work/unbound.conf" & pids+=($!)
sleep 1
metric() { curl -s "http://127.0.0.1:$MX_PORT/metrics" | awk -v m="$1" '$1 == m {printf "%.0f", $2}'; }
for bin in dnsward-base dnsward; do
  GOGC=5 "$work/$bin" serve --config "$work/dnsward.yaml" >"$work/log" 2>&1 & pid=$!
  sleep 1
  heap0=$(metric go_memstats_heap_alloc_bytes) rss0=$(metric process_resident_memory_bytes)
  dnsperf -s 127.0.0.1 -p "$DW_PORT" -d "$work/queries" -n 1 -c 4 -q 200 -t 5 2>/dev/null | grep -E 'Queries (completed|lost)' | tr -s ' ' | tr '\n' ' '
  echo
  cached=$(metric dnsward_cache_misses_total)
  heap1=$(metric go_memstats_heap_alloc_bytes) rss1=$(metric process_resident_memory_bytes)
  awk -v b="$bin" -v h0="$heap0" -v h1="$heap1" -v r0="$rss0" -v r1="$rss1" -v n="$cached" \
    'BEGIN {printf "%s: %d answers cached; heap +%.1f MB, %.0f B/answer; RSS +%.1f MB\n", b, n, (h1-h0)/1e6, (h1-h0)/n, (r1-r0)/1e6}'
  kill "$pid"; wait "$pid" 2>/dev/null || true
done
