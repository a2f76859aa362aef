#!/usr/bin/env bash
# Server CPU per query on the cache-hit path with the query shapes stub
# resolvers send: plain UDP and DoT driven by dnsperf (DoT: one query per
# TLS record, CONNS connections with INFLIGHT queries each in flight),
# dnsward against dnsdist (packet cache) and Knot Resolver (kresd, cache),
# all three forwarding to one unbound that answers NAMES names from
# local-data, all warmed so every measured query is a cache hit. Over UDP
# a fourth, bench/shape/floor, answers each query with itself (QR set)
# through the same recvmmsg/sendmmsg loop and nothing else: its CPU per
# query is what the kernel and the Go runtime cost on this machine, the
# floor under any server's figure.
# Each server runs pinned to CPU 0, dnsperf and unbound to the other CPUs
# (taskset), DURATION seconds a run, ROUNDS rounds alternating servers.
# Printed: medians of qps and of server CPU per answered query (user+system
# ticks from /proc, all threads), and the ratio of each peer's CPU per query
# to dnsward's. dnsperf is often the limit on qps; CPU per query is the claim.
# DNSWARD_BIN=path runs that binary instead of building ./cmd/dnsward.
# Usage: bench/shape/run.sh [DURATION] [ROUNDS]
#   env: CONNS (4), INFLIGHT (100, dnsperf -q is CONNS x INFLIGHT), NAMES (1000)
# Needs: unbound dnsdist knot-resolver dnsperf openssl taskset go.
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${1:-10}
ROUNDS=${2:-3}
CONNS=${CONNS:-4}
INFLIGHT=${INFLIGHT:-100}
NAMES=${NAMES:-1000}
UB_PORT=${UB_PORT:-30353}
declare -A udp=([dnsward]=30354 [dnsdist]=30355 [kresd]=30356 [floor]=30357) dot=([dnsward]=30854 [dnsdist]=30855 [kresd]=30856)
(($(nproc) >= 2)) || { echo "bench/shape: needs at least 2 CPUs"; exit 1; }
for tool in unbound dnsdist kresd dnsperf openssl taskset; do
  command -v "$tool" >/dev/null || { echo "bench/shape: $tool not found (apt-get install -y unbound dnsdist knot-resolver dnsperf)"; exit 1; }
done
work=$(mktemp -d)
. bench/dnsperf/common.sh
bench_pki "$work"
bench_names "$UB_PORT" "$NAMES"
dnsward_tls_conf "{dns: [\"127.0.0.1:${udp[dnsward]}\"], dot: [\"127.0.0.1:${dot[dnsward]}\"]}" "$UB_PORT"
cat >"$work/dnsdist.conf" <<LUA
setLocal("127.0.0.1:${udp[dnsdist]}")
addTLSLocal("127.0.0.1:${dot[dnsdist]}", "$work/chain.pem", "$work/key.pem", {provider="openssl"})
setSecurityPollSuffix("")
newServer({address="127.0.0.1:$UB_PORT", checkName="n1.bench.example.", healthCheckMode="lazy"})
pc = newPacketCache(100000)
getPool(""):setCache(pc)
LUA
mkdir -p "$work/kresd"
cat >"$work/kresd.conf" <<LUA
net.listen('127.0.0.1', ${udp[kresd]}, { kind = 'dns' })
net.listen('127.0.0.1', ${dot[kresd]}, { kind = 'tls' })
net.tls('$work/chain.pem', '$work/key.pem')
trust_anchors.remove('.') -- the bench zone is unsigned and offline
cache.open(100 * MB, 'lmdb://$work/kresd')
policy.add(policy.all(policy.STUB('127.0.0.1@$UB_PORT')))
LUA
dnsward_bin
go build -o "$work/floor" ./bench/shape/floor

srv=(taskset -c 0) cli=(taskset -c "1-$(($(nproc) - 1))")
"${cli[@]}" unbound -d -c "$work/unbound.conf" >"$work/unbound.log" 2>&1 & pids+=($!)
"${srv[@]}" "$work/dnsward" serve --config "$work/dnsward.yaml" >"$work/dnsward.log" 2>&1 & pids+=($!)
declare -A pid=([dnsward]=$!)
"${srv[@]}" dnsdist --supervised --disable-syslog -C "$work/dnsdist.conf" >"$work/dnsdist.log" 2>&1 & pids+=($!)
pid[dnsdist]=$!
"${srv[@]}" kresd -n -c "$work/kresd.conf" "$work/kresd" >"$work/kresd.log" 2>&1 </dev/null & pids+=($!)
pid[kresd]=$!
"${srv[@]}" "$work/floor" -listen "127.0.0.1:${udp[floor]}" >"$work/floor.log" 2>&1 & pids+=($!)
pid[floor]=$!
sleep 2
names=(dnsward dnsdist kresd)
# servers MODE: the servers measured in MODE (the floor answers UDP only).
servers() { if [[ $1 == udp ]]; then echo "${names[@]} floor"; else echo "${names[@]}"; fi; }
# dp MODE PORT ARGS...: one dnsperf run against 127.0.0.1:PORT.
dp() { local m=$1 p=$2; shift 2; "${cli[@]}" dnsperf -m "$m" -s 127.0.0.1 -p "$p" -d "$work/queries" "$@" 2>/dev/null; }
for n in "${names[@]}"; do # warm every cache, and fail early on a server that does not answer
  for m in udp dot; do
    port=${udp[$n]}; [[ $m == dot ]] && port=${dot[$n]}
    out=$(dp "$m" "$port" -n 2 -q 50 -t 1)
    grep -q 'Response codes: *NOERROR [0-9]* (100' <<<"$out" ||
      { echo "bench/shape: $n does not answer $m"; echo "$out"; cat "$work/$n.log"; exit 1; }
  done
done

hz=$(getconf CLK_TCK)
# measure NAME MODE: prints "qps µs-per-query" of one run.
measure() {
  local port=${udp[$1]} t0 t1 out
  [[ $2 == dot ]] && port=${dot[$1]}
  t0=$(ticks "${pid[$1]}")
  out=$(dp "$2" "$port" -l "$DURATION" -c "$CONNS" -q $((CONNS * INFLIGHT)))
  t1=$(ticks "${pid[$1]}")
  awk -v t=$((t1 - t0)) -v hz="$hz" '/Queries completed/ {n = $3} /Queries per second/ {q = $4}
    END {printf "%.0f %.2f\n", q, t / hz * 1e6 / n}' <<<"$out"
}
declare -A qps cpu
for r in $(seq 1 "$ROUNDS"); do
  for m in udp dot; do
    for n in $(servers "$m"); do
      read -r q c < <(measure "$n" "$m")
      qps[$n.$m]+="$q " cpu[$n.$m]+="$c "
      echo "round $r $m $n: $q qps, $c µs/query"
    done
  done
done
echo "medians over $ROUNDS rounds of ${DURATION}s, server on one CPU (dnsperf -c $CONNS -q $((CONNS * INFLIGHT)))"
printf '%-5s %-8s %10s %10s %18s\n' mode server qps "µs/query" "peer/dnsward CPU"
for m in udp dot; do
  for n in $(servers "$m"); do
    printf '%-5s %-8s %10s %10s %18s\n' "$m" "$n" "$(median "${qps[$n.$m]}")" "$(median "${cpu[$n.$m]}")" \
      "$(awk -v a="$(median "${cpu[$n.$m]}")" -v b="$(median "${cpu[dnsward.$m]}")" 'BEGIN {printf "%.2f", a / b}')"
  done
done
