#!/usr/bin/env bash
# Cache-hit UDP throughput: dnsward vs unbound, same names, same machine, same run.
# unbound answers 1000 names from local-data; dnsward forwards to that unbound
# and is warmed so every measured query is a cache hit. dnsperf (Debian
# package) drives both with the same query file for DURATION seconds each,
# ROUNDS times alternating, and the medians are compared.
# Usage: bench/dnsperf/run.sh [DURATION] [ROUNDS]   (needs: unbound dnsperf)
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${1:-10}
ROUNDS=${2:-3}
UB_PORT=${UB_PORT:-25353}
DW_PORT=${DW_PORT:-25354}
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

{
  printf 'server:\n  interface: 127.0.0.1@%s\n  do-daemonize: no\n  chroot: ""\n  username: ""\n' "$UB_PORT"
  printf '  directory: "%s"\n  pidfile: ""\n  use-syslog: no\n  verbosity: 0\n' "$work"
  printf '  num-threads: %s\n  so-reuseport: yes\n  access-control: 127.0.0.0/8 allow\n' "$(nproc)"
  printf '  local-zone: "bench.example." static\n'
  for i in $(seq 1 1000); do printf '  local-data: "n%d.bench.example. 3600 IN A 127.0.0.1"\n' "$i"; done
  printf 'remote-control:\n  control-enable: no\n'
} >"$work/unbound.conf"
for i in $(seq 1 1000); do echo "n$i.bench.example A"; done >"$work/queries"
cat >"$work/dnsward.yaml" <<YAML
listen: {dns: ["127.0.0.1:$DW_PORT"]}
upstreams: [udp://127.0.0.1:$UB_PORT]
cache: {size: 100000}
log: {level: warn}
YAML

go build -o "$work/dnsward" ./cmd/dnsward
unbound -d -c "$work/unbound.conf" & pids+=($!)
"$work/dnsward" serve --config "$work/dnsward.yaml" >/dev/null & pids+=($!)
sleep 1
# Warm dnsward's cache (and check both answer).
dnsperf -s 127.0.0.1 -p "$DW_PORT" -d "$work/queries" -n 2 -q 100 >/dev/null

qps() { dnsperf -s 127.0.0.1 -p "$1" -d "$work/queries" -l "$DURATION" -c 4 -T 1 -q 500 2>/dev/null | awk '/Queries per second/ {print $4}'; }
declare -a ub dw
for r in $(seq 1 "$ROUNDS"); do
  ub+=("$(qps "$UB_PORT")"); dw+=("$(qps "$DW_PORT")")
  echo "round $r: unbound ${ub[-1]} qps, dnsward ${dw[-1]} qps"
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
mu=$(median "${ub[@]}"); md=$(median "${dw[@]}")
echo "median: unbound $mu qps, dnsward $md qps, ratio dnsward/unbound $(awk -v a="$md" -v b="$mu" 'BEGIN {printf "%.2f", a/b}')"
