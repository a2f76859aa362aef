#!/usr/bin/env bash
# DoQ and DoH over HTTP/3 on the cache-hit path: dnsward vs AdGuard's
# dnsproxy (--cache, --http3), both forwarding to one unbound that answers
# NAMES names from local-data, warmed so every measured query is a cache hit.
# The load generator is dnsward's own (`dnsward bench`; dnsperf and h2load
# speak neither protocol) with -single: one query per QUIC stream write, as a
# stub sends, not batched across streams. Each server runs pinned to CPU 0,
# the generator and unbound on the other CPUs; DURATION seconds a run,
# ROUNDS rounds alternating servers. DoH/3 is measured on both of dnsward's
# HTTP/3 engines (doh.http3: builtin and stdlib), each in a server of its
# own. Printed: medians of qps and of server CPU per answered query
# (user+system ticks from /proc), and the ratios to dnsproxy.
#
# dnsproxy is not served by the Go module proxy: build it from its public
# repository outside this one (git clone https://github.com/AdguardTeam/dnsproxy;
# go build -o /some/where/dnsproxy .) and point DNSPROXY_BIN at it. Never
# commit it.
# Usage: DNSPROXY_BIN=path bench/quic/run.sh [DURATION] [ROUNDS]
#   env: CONNS (4), INFLIGHT (64 per connection), NAMES (1000), DNSWARD_BIN.
# Needs: unbound openssl taskset go, a dnsproxy binary.
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${1:-10}
ROUNDS=${2:-3}
CONNS=${CONNS:-4}
INFLIGHT=${INFLIGHT:-64}
NAMES=${NAMES:-1000}
UB_PORT=${UB_PORT:-31353}
declare -A quic=([dnsward]=31854 [dnsproxy]=31855) doh=([dnsward]=31443 [dnsproxy]=31444 [dnsward-stdlib]=31445)
[[ -x ${DNSPROXY_BIN:-} ]] || { echo "bench/quic: set DNSPROXY_BIN to a dnsproxy binary (see the header)"; exit 1; }
(($(nproc) >= 2)) || { echo "bench/quic: needs at least 2 CPUs"; exit 1; }
work=$(mktemp -d)
. bench/dnsperf/common.sh
bench_pki "$work"
bench_names "$UB_PORT" "$NAMES"
dnsward_tls_conf "{doh: [\"127.0.0.1:${doh[dnsward-stdlib]}\"]}" "$UB_PORT"
{ cat "$work/dnsward.yaml"; echo "doh: {http3: stdlib}"; } | sed "s|dnsward-data|dnsward-stdlib-data|" >"$work/dnsward-stdlib.yaml"
dnsward_tls_conf "{doq: [\"127.0.0.1:${quic[dnsward]}\"], doh: [\"127.0.0.1:${doh[dnsward]}\"]}" "$UB_PORT"
echo "doh: {http3: builtin}" >>"$work/dnsward.yaml"
dnsward_bin

srv=(taskset -c 0) cli=(taskset -c "1-$(($(nproc) - 1))")
"${cli[@]}" unbound -d -c "$work/unbound.conf" >"$work/unbound.log" 2>&1 & pids+=($!)
"${srv[@]}" "$work/dnsward" serve --config "$work/dnsward.yaml" >"$work/dnsward.log" 2>&1 & pids+=($!)
declare -A pid=([dnsward]=$!)
"${srv[@]}" "$work/dnsward" serve --config "$work/dnsward-stdlib.yaml" >"$work/dnsward-stdlib.log" 2>&1 & pids+=($!)
pid[dnsward-stdlib]=$!
"${srv[@]}" "$DNSPROXY_BIN" --listen 127.0.0.1 --port 0 --quic-port "${quic[dnsproxy]}" --https-port "${doh[dnsproxy]}" \
  --http3 --tls-crt "$work/chain.pem" --tls-key "$work/key.pem" --upstream "127.0.0.1:$UB_PORT" \
  --cache --cache-size 67108864 >"$work/dnsproxy.log" 2>&1 & pids+=($!)
pid[dnsproxy]=$!
sleep 2
# names KIND: the servers measured for KIND.
names() { if [[ $1 == doq ]]; then echo dnsward dnsproxy; else echo dnsward dnsward-stdlib dnsproxy; fi; }
# url NAME KIND: the load generator's server URL.
url() { if [[ $2 == doq ]]; then echo "quic://localhost:${quic[$1]}"; else echo "h3://localhost:${doh[$1]}/dns-query"; fi; }
lg() { "${cli[@]}" "$work/dnsward" bench -s "$1" -cacert "$work/ca.pem" -d "$work/queries" -single -quiet "${@:2}"; }
for k in doq doh3; do # warm the caches; fail early on a server that does not answer
  for n in $(names $k); do
    out=$(lg "$(url "$n" "$k")" -n $((2 * NAMES)) -c 1 -q 50 -t 2s) && grep -q '^errors: *none' <<<"$out" ||
      { echo "bench/quic: $n does not answer $k"; echo "$out"; cat "$work/$n.log"; exit 1; }
  done
done

hz=$(getconf CLK_TCK)
# measure NAME KIND: prints "qps µs-per-query" of one run.
measure() {
  local t0 t1 out
  t0=$(ticks "${pid[$1]}")
  out=$(lg "$(url "$1" "$2")" -l "${DURATION}s" -c "$CONNS" -q "$INFLIGHT")
  t1=$(ticks "${pid[$1]}")
  awk -v t=$((t1 - t0)) -v hz="$hz" '/^qps:/ {q = $2} /^queries:/ {n = $4}
    END {printf "%.0f %.2f\n", q, t / hz * 1e6 / n}' <<<"$out"
}
declare -A qps cpu
for r in $(seq 1 "$ROUNDS"); do
  for k in doq doh3; do
    for n in $(names $k); do
      read -r q c < <(measure "$n" "$k")
      qps[$n.$k]+="$q " cpu[$n.$k]+="$c "
      echo "round $r $k $n: $q qps, $c µs/query"
    done
  done
done
echo "medians over $ROUNDS rounds of ${DURATION}s, server on one CPU (-c $CONNS -q $INFLIGHT -single)"
printf '%-5s %-14s %10s %10s\n' kind server qps "µs/query"
for k in doq doh3; do
  for n in $(names $k); do printf '%-5s %-14s %10s %10s\n' "$k" "$n" "$(median "${qps[$n.$k]}")" "$(median "${cpu[$n.$k]}")"; done
  for n in $(names $k); do
    [[ $n == dnsproxy ]] && continue
    echo "$k: $n/dnsproxy qps $(awk -v a="$(median "${qps[$n.$k]}")" -v b="$(median "${qps[dnsproxy.$k]}")" 'BEGIN {printf "%.2f", a / b}'), dnsproxy/$n CPU per query $(awk -v a="$(median "${cpu[dnsproxy.$k]}")" -v b="$(median "${cpu[$n.$k]}")" 'BEGIN {printf "%.2f", a / b}')"
  done
done
