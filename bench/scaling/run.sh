#!/usr/bin/env bash
# Multi-core scaling of the cache-hit path, plain UDP (dnsperf) and DoH over
# HTTP/2 (h2load GET), with dnsward pinned to 1, 2, 4, ... cores (taskset;
# Go sizes GOMAXPROCS from the affinity mask) and the load generators pinned
# to the cores left. One unbound (on the generators' cores) answers NAMES
# names from local-data and is dnsward's upstream; dnsward is warmed, so every
# measured query is a cache hit.
#
# For each core count, the median over ROUNDS runs of DURATION seconds:
# qps, speedup over one core, server CPU per query (user+system ticks from
# /proc) and server utilisation (CPU seconds used / (cores x seconds)). When
# utilisation is well under 100 %, the generators were the limit, not
# dnsward: judge scaling by CPU per query staying flat, not by qps.
#
# Usage: bench/scaling/run.sh [DURATION] [ROUNDS]
#   env: CORES ("1 2 4 ..." up to half the machine's CPUs), NAMES (100),
#        CLIENTS (dnsperf -c and h2load -c, 64), DNSWARD_BIN (a binary to
#        run instead of building ./cmd/dnsward), *_PORT overrides.
# Needs: unbound dnsperf nghttp2-client openssl taskset go.
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${1:-10}
ROUNDS=${2:-3}
NAMES=${NAMES:-100}
CLIENTS=${CLIENTS:-64}
UB_PORT=${UB_PORT:-29353} DW_PORT=${DW_PORT:-29354} DW_DOH=${DW_DOH:-29443}
ncpu=$(nproc)
if [[ -z ${CORES:-} ]]; then
  CORES=1
  for ((c = 2; c <= ncpu / 2; c *= 2)); do CORES+=" $c"; done
fi
for tool in unbound dnsperf h2load openssl taskset; do
  command -v "$tool" >/dev/null || { echo "bench/scaling: $tool not found"; exit 1; }
done
work=$(mktemp -d)
. bench/dnsperf/common.sh
bench_pki "$work"
bench_names "$UB_PORT" "$NAMES"
for i in $(seq 1 "$NAMES"); do echo "https://127.0.0.1:$DW_DOH$(doh_path "n$i.bench.example")"; done >"$work/uris"
dnsward_tls_conf "{dns: [\"127.0.0.1:$DW_PORT\"], doh: [\"127.0.0.1:$DW_DOH\"]}" "$UB_PORT"
dnsward_bin

# others C: the CPU list left to the generators when dnsward has 0..C-1.
others() { if ((ncpu > $1)); then echo "$1-$((ncpu - 1))"; else echo "0-$((ncpu - 1))"; fi; }
# measure KIND PID: one run against dnsward (pid PID); prints "qps µs/query util".
measure() {
  local t0 t1 out n qps
  t0=$(ticks "$2")
  if [[ $1 == udp ]]; then
    out=$(taskset -c "$gen" dnsperf -s 127.0.0.1 -p "$DW_PORT" -d "$work/queries" -l "$DURATION" \
      -c "$CLIENTS" -T "$gen_threads" -q $((CLIENTS * 20)) 2>/dev/null)
    t1=$(ticks "$2")
    n=$(awk '/Queries completed/ {print $3}' <<<"$out"); qps=$(awk '/Queries per second/ {print $4}' <<<"$out")
  else
    out=$(taskset -c "$gen" h2load -i "$work/uris" -c "$CLIENTS" -m 16 -t "$gen_threads" -D "$DURATION" \
      -H 'accept: application/dns-message' 2>/dev/null)
    t1=$(ticks "$2")
    n=$(awk '/^status codes:/ {print $3}' <<<"$out"); qps=$(awk '/^finished in/ {sub(",", "", $4); print $4}' <<<"$out")
  fi
  awk -v t=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" -v n="$n" -v q="$qps" -v c="$cores" -v d="$DURATION" \
    'BEGIN {printf "%.0f %.2f %.0f\n", q, t / hz * 1e6 / n, 100 * t / hz / (c * d)}'
}

declare -A base
printf '%-5s %5s %10s %8s %10s %6s\n' kind cores qps speedup "µs/query" util
for cores in $CORES; do
  ((cores <= ncpu)) || continue
  gen=$(others "$cores")
  gen_threads=$(( ncpu > cores ? ncpu - cores : 1 ))
  rm -rf "$work/dnsward-data"
  taskset -c "$gen" unbound -d -c "$work/unbound.conf" >"$work/unbound.log" 2>&1 & ub_pid=$!; pids+=("$ub_pid")
  taskset -c "0-$((cores - 1))" "$work/dnsward" serve --config "$work/dnsward.yaml" >"$work/dnsward.log" 2>&1 &
  dw_pid=$!; pids+=("$dw_pid")
  sleep 1
  dnsperf -s 127.0.0.1 -p "$DW_PORT" -d "$work/queries" -n 2 -q 100 >/dev/null # warm the cache
  for kind in udp doh2; do
    qs=() cs=() us=()
    for _ in $(seq 1 "$ROUNDS"); do read -r q c u < <(measure "$kind" "$dw_pid"); qs+=("$q") cs+=("$c") us+=("$u"); done
    q=$(median "${qs[@]}")
    [[ -n ${base[$kind]:-} ]] || base[$kind]=$q
    printf '%-5s %5d %10s %8s %10s %5s%%\n' "$kind" "$cores" "$q" \
      "$(awk -v a="$q" -v b="${base[$kind]}" 'BEGIN {printf "%.2fx", a / b}')" "$(median "${cs[@]}")" "$(median "${us[@]}")"
  done
  kill "$dw_pid" "$ub_pid"; wait "$dw_pid" "$ub_pid" 2>/dev/null || true
done
