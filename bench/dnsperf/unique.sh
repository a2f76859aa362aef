#!/usr/bin/env bash
# Cache-miss UDP loss: every query is a new name, so dnsward forwards each one
# to a local unbound (which answers NXDOMAIN from a static zone at once).
# Reports dnsperf's sent/lost and the kernel drops of dnsward's UDP sockets
# (dnsward_udp_receive_drops_total). The issue's figure came from
# `dnsperf -c 20 -q 500` without a rate cap; RATE caps it (-Q).
# Usage: bench/dnsperf/unique.sh [DURATION] [RATE] [DNSWARD_BINARY]   (needs: unbound dnsperf)
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${1:-20}
RATE=${2:-}
BIN=${3:-}
UB_PORT=${UB_PORT:-25363}
DW_PORT=${DW_PORT:-25364}
MX_PORT=${MX_PORT:-25365}
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

{
  printf 'server:\n  interface: 127.0.0.1@%s\n  do-daemonize: no\n  chroot: ""\n  username: ""\n' "$UB_PORT"
  printf '  directory: "%s"\n  pidfile: ""\n  use-syslog: no\n  verbosity: 0\n' "$work"
  printf '  num-threads: %s\n  so-reuseport: yes\n  so-rcvbuf: 8m\n  access-control: 127.0.0.0/8 allow\n' "$(nproc)"
  printf '  local-zone: "bench.example." static\nremote-control:\n  control-enable: no\n'
} >"$work/unbound.conf"
seq 1 1000000 | awk '{print "u" $1 ".bench.example A"}' >"$work/queries"
cat >"$work/dnsward.yaml" <<YAML
listen: {dns: ["127.0.0.1:$DW_PORT"], metrics: "127.0.0.1:$MX_PORT"}
upstreams: [udp://127.0.0.1:$UB_PORT]
cache: {size: 100000}
log: {level: warn}
YAML
if [ -z "$BIN" ]; then BIN="$work/dnsward"; go build -o "$BIN" ./cmd/dnsward; fi
unbound -d -c "$work/unbound.conf" & pids+=($!)
"$BIN" serve --config "$work/dnsward.yaml" >"$work/log" 2>&1 & pids+=($!)
sleep 1
dnsperf -s 127.0.0.1 -p "$DW_PORT" -d "$work/queries" -l "$DURATION" -c 20 -q 500 ${RATE:+-Q "$RATE"} 2>/dev/null |
  grep -E 'Queries (sent|completed|lost)|Queries per second|Average Latency'
ss -uamn "sport = :$DW_PORT" | grep -o 'd[0-9]*)' | tr -d 'd)' | awk '{s+=$1} END {print "kernel drops (ss -uamn):", s+0}'
curl -s "http://127.0.0.1:$MX_PORT/metrics" | grep -E '^dnsward_udp_(receive_drops|misses_refused)' || true
