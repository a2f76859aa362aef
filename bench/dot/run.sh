#!/usr/bin/env bash
# DoT throughput on the cache-hit path: dnsward vs dnsdist vs unbound, all on
# this machine, answering the same 1000 names locally (unbound local-data,
# dnsdist a spoofing rule, dnsward its cache warmed from unbound). Each server
# is driven by dnsward's load generator (`dnsward bench`) and cross-checked
# with `dnsperf -m dot`, DURATION seconds a run, ROUNDS rounds alternating
# servers; medians and ratios are printed, with each server's CPU time per
# answered query (from /proc, all threads): on a shared machine qps depends
# on what else runs, CPU per query much less. Then the same dnsward is measured
# over DoT, DoQ, DoH/2 and DoH/3 with the load generator.
# Usage: bench/dot/run.sh [DURATION] [ROUNDS]   (needs: unbound dnsdist dnsperf openssl)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../.."
DURATION=${1:-5}
ROUNDS=${2:-3}
CONNS=${CONNS:-4}
INFLIGHT=${INFLIGHT:-64}
UB_PLAIN=${UB_PLAIN:-26353} UB_DOT=${UB_DOT:-26853}
DD_PLAIN=${DD_PLAIN:-26354} DD_DOT=${DD_DOT:-26854}
DW_DOT=${DW_DOT:-26855} DW_DOH=${DW_DOH:-26856}
work=$(mktemp -d)
. bench/common.sh
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=bench.example \
  -addext subjectAltName=DNS:bench.example,IP:127.0.0.1 -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
for i in $(seq 1 1000); do printf '  local-data: "n%d.bench.example. 3600 IN A 127.0.0.1"\n' "$i"; done >"$work/local-data.conf"
for i in $(seq 1 1000); do echo "n$i.bench.example A"; done >"$work/queries"
subst() {
  sed -e "s|@WORK@|$work|g" -e "s|@UB_PLAIN@|$UB_PLAIN|g" -e "s|@UB_DOT@|$UB_DOT|g" -e "s|@DD_PLAIN@|$DD_PLAIN|g" \
    -e "s|@DD_DOT@|$DD_DOT|g" -e "s|@DW_DOT@|$DW_DOT|g" -e "s|@DW_DOH@|$DW_DOH|g" -e "s|@THREADS@|$(nproc)|g" "$here/$1.in" >"$work/$1"
}
subst unbound.conf; subst dnsdist.conf; subst dnsward.yaml

go build -o "$work/dnsward" ./cmd/dnsward
unbound -d -c "$work/unbound.conf" & pids+=($!); ub_pid=$!
dnsdist --supervised --disable-syslog -C "$work/dnsdist.conf" >"$work/dnsdist.log" 2>&1 & pids+=($!); dd_pid=$!
"$work/dnsward" serve --config "$work/dnsward.yaml" >"$work/dnsward.log" 2>&1 & pids+=($!); dw_pid=$!
sleep 2
# Warm dnsward's cache; fail early if a server does not answer DoT.
for p in "$UB_DOT" "$DD_DOT" "$DW_DOT"; do
  "$work/dnsward" bench -s "tls://127.0.0.1:$p" -k -d "$work/queries" -n 2000 -c 1 -q 50 -quiet >/dev/null ||
    { echo "server on port $p does not answer DoT"; cat "$work"/*.log; exit 1; }
done

loadgen() { "$work/dnsward" bench -s "${2:-tls}://127.0.0.1:$1${3:-}" -k -d "$work/queries" -l "${DURATION}s" -c "$CONNS" -q "$INFLIGHT" -quiet; }
lg_qps() { awk '/^qps:/ {print $2}' <<<"$1"; }
lg_answered() { awk '/^queries:/ {print $4}' <<<"$1"; }
hz=$(getconf CLK_TCK)
lg_p99() { awk '/^latency:/ {print $5}' <<<"$1"; }
dp_qps() { dnsperf -m dot -s 127.0.0.1 -p "$1" -d "$work/queries" -l "$DURATION" -c "$CONNS" -q "$((CONNS * INFLIGHT))" 2>/dev/null |
  awk '/Queries per second/ {print $4}'; }

declare -A lg dp p99 cpu
names=(dnsward dnsdist unbound)
declare -A port=([dnsward]=$DW_DOT [dnsdist]=$DD_DOT [unbound]=$UB_DOT)
declare -A pid=([dnsward]=$dw_pid [dnsdist]=$dd_pid [unbound]=$ub_pid)
for r in $(seq 1 "$ROUNDS"); do
  for n in "${names[@]}"; do
    t0=$(ticks "${pid[$n]}")
    out=$(loadgen "${port[$n]}")
    t1=$(ticks "${pid[$n]}")
    lg[$n]+="$(lg_qps "$out") "; p99[$n]+="$(lg_p99 "$out") "
    cpu[$n]+="$(awk -v t=$((t1 - t0)) -v hz="$hz" -v q="$(lg_answered "$out")" 'BEGIN {printf "%.2f", t / hz * 1e6 / q}') "
    dp[$n]+="$(dp_qps "${port[$n]}") "
  done
  echo "round $r done"
done
printf '%-8s %14s %14s %16s %18s\n' server "loadgen qps" "p99 (loadgen)" "dnsperf -m dot" "server CPU µs/query"
for n in "${names[@]}"; do
  printf '%-8s %14s %14s %16s %18s\n' "$n" "$(median "${lg[$n]}")" "$(median "${p99[$n]}")" "$(median "${dp[$n]}")" "$(median "${cpu[$n]}")"
done
best=$(for n in dnsdist unbound; do median "${lg[$n]}"; done | sort -g | tail -1)
echo "dnsward / best peer (loadgen medians): $(awk -v a="$(median "${lg[dnsward]}")" -v b="$best" 'BEGIN {printf "%.2f", a/b}')"

declare -A tq tp tc
transports=(tls quic https h3)
declare -A tport=([tls]=$DW_DOT [quic]=$DW_DOT [https]=$DW_DOH [h3]=$DW_DOH)
declare -A tpath=([https]=/dns-query [h3]=/dns-query)
for r in $(seq 1 "$ROUNDS"); do
  for x in "${transports[@]}"; do
    t0=$(ticks "$dw_pid")
    out=$(loadgen "${tport[$x]}" "$x" "${tpath[$x]:-}")
    t1=$(ticks "$dw_pid")
    tq[$x]+="$(lg_qps "$out") "; tp[$x]+="$(lg_p99 "$out") "
    tc[$x]+="$(awk -v t=$((t1 - t0)) -v hz="$hz" -v q="$(lg_answered "$out")" 'BEGIN {printf "%.2f", t / hz * 1e6 / q}') "
  done
done
echo
printf '%-10s %14s %14s %18s\n' "dnsward" "loadgen qps" "p99" "server CPU µs/query"
for x in "${transports[@]}"; do
  printf '%-10s %14s %14s %18s\n' "$x" "$(median "${tq[$x]}")" "$(median "${tp[$x]}")" "$(median "${tc[$x]}")"
done
echo "DoQ / DoT: $(awk -v a="$(median "${tq[quic]}")" -v b="$(median "${tq[tls]}")" 'BEGIN {printf "%.2f", a/b}')"
