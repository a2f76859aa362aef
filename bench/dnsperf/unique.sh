#!/usr/bin/env bash
# Cache-miss UDP loss: every query is a new name, so dnsward forwards each one
# to a local unbound (which answers NXDOMAIN from a static zone at once).
# Reports dnsperf's sent/lost and the kernel drops of dnsward's UDP sockets
# (dnsward_udp_receive_drops_total). The issue's figure came from
# `dnsperf -c 20 -q 500` without a rate cap; RATE caps it (-Q).
# DNSWARD_BIN=path runs that binary instead of building ./cmd/dnsward.
# Usage: bench/dnsperf/unique.sh [DURATION] [RATE]   (needs: unbound dnsperf)
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${1:-20}
RATE=${2:-}
UB_PORT=${UB_PORT:-25363}
DW_PORT=${DW_PORT:-25364}
MX_PORT=${MX_PORT:-25365}
work=$(mktemp -d)
. bench/dnsperf/common.sh
unbound_conf "$UB_PORT" "  so-rcvbuf: 8m
"
seq 1 1000000 | awk '{print "u" $1 ".bench.example A"}' >"$work/queries"
cat >"$work/dnsward.yaml" <<YAML
listen: {dns: ["127.0.0.1:$DW_PORT"], metrics: "127.0.0.1:$MX_PORT"}
upstreams: [udp://127.0.0.1:$UB_PORT]
cache: {size: 100000}
log: {level: warn}
YAML
dnsward_bin
unbound -d -c "$work/unbound.conf" & pids+=($!)
"$work/dnsward" serve --config "$work/dnsward.yaml" >"$work/log" 2>&1 & pids+=($!)
sleep 1
dnsperf -s 127.0.0.1 -p "$DW_PORT" -d "$work/queries" -l "$DURATION" -c 20 -q 500 ${RATE:+-Q "$RATE"} 2>/dev/null |
  grep -E 'Queries (sent|completed|lost)|Queries per second|Average Latency'
ss -uamn "sport = :$DW_PORT" | grep -o 'd[0-9]*)' | tr -d 'd)' | awk '{s+=$1} END {print "kernel drops (ss -uamn):", s+0}'
curl -s "http://127.0.0.1:$MX_PORT/metrics" | grep -E '^dnsward_udp_(receive_drops|misses_refused)' || true
