#!/usr/bin/env bash
# DoH throughput on the cache-hit path: dnsward vs dnsdist vs unbound, all on
# this machine, answering the same NAMES names. unbound answers them from
# local-data (and is the plain-DNS upstream of the other two), dnsdist forwards
# to it with its packet cache on, dnsward forwards to it with its cache on;
# both caches are warmed with the very URIs that are measured.
#
# h2load (nghttp2-client) drives each server over HTTP/2 with GET
# /dns-query?dns=<base64url>, rotating through the names, DURATION seconds a
# run, ROUNDS rounds alternating servers. Printed per server (medians over the
# rounds): requests/s answered 200 and mean latency (h2load's summary), p50/p99
# latency (from h2load's per-request log, written in a separate LAT_DURATION
# run because it costs h2load about a fifth of its CPU), and server CPU per
# request (from /proc, all threads) — on a shared machine req/s depends on
# what else runs, CPU per request much less.
# `dnsward bench` (POST over HTTP/2) cross-checks h2load on every server, and
# measures dnsward over HTTP/3.
#
# Usage: bench/doh/run.sh [DURATION] [ROUNDS]
#   env: CLIENTS (8) connections, STREAMS (32) streams per connection,
#        H2_THREADS (1) h2load threads, NAMES (100), LAT_DURATION (2) seconds
#        of the latency runs, *_PORT overrides,
#        PIN (0): 1 runs every server on CPU 0 and the clients on the other
#        CPUs (taskset), so that req/s measures what one server core
#        answers rather than how the CPUs were shared with the client.
# Needs: unbound (built with libnghttp2), dnsdist (with DoH), nghttp2-client,
#        openssl, curl, go.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../.."
DURATION=${1:-8}
LAT_DURATION=${LAT_DURATION:-2}
ROUNDS=${2:-3}
CLIENTS=${CLIENTS:-8}
STREAMS=${STREAMS:-32}
H2_THREADS=${H2_THREADS:-1}
PIN=${PIN:-0}
server_cpus=$(nproc) srv=() cli=()
if [[ $PIN == 1 ]]; then
  (($(nproc) >= 2)) || { echo "bench/doh: PIN=1 needs at least 2 CPUs"; exit 1; }
  server_cpus=1 srv=(taskset -c 0) cli=(taskset -c "1-$(($(nproc) - 1))")
fi
NAMES=${NAMES:-100}
UB_PLAIN=${UB_PLAIN:-27353} UB_DOH=${UB_DOH:-27443}
DD_PLAIN=${DD_PLAIN:-27354} DD_DOH=${DD_DOH:-27444} DD_WEB=${DD_WEB:-27480}
DW_DOH=${DW_DOH:-27445} DW_METRICS=${DW_METRICS:-27481}
for tool in unbound dnsdist h2load openssl curl go taskset; do
  command -v "$tool" >/dev/null || { echo "bench/doh: $tool not found (apt-get install -y unbound dnsdist nghttp2-client openssl curl)"; exit 1; }
done
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

. bench/common.sh
bench_pki "$work"
for i in $(seq 1 "$NAMES"); do
  printf '  local-data: "n%d.bench.example. 3600 IN A 127.0.0.1"\n' "$i" >>"$work/local-data.conf"
  echo "n$i.bench.example A" >>"$work/queries"
  doh_path "n$i.bench.example" >>"$work/paths"
done
DD_KEY=$(openssl rand -hex 16)
subst() {
  sed -e "s|@WORK@|$work|g" -e "s|@UB_PLAIN@|$UB_PLAIN|g" -e "s|@UB_DOH@|$UB_DOH|g" -e "s|@DD_PLAIN@|$DD_PLAIN|g" \
    -e "s|@DD_DOH@|$DD_DOH|g" -e "s|@DD_WEB@|$DD_WEB|g" -e "s|@DD_KEY@|$DD_KEY|g" -e "s|@DW_DOH@|$DW_DOH|g" \
    -e "s|@DW_METRICS@|$DW_METRICS|g" -e "s|@THREADS@|$server_cpus|g" "$here/$1.in" >"$work/$1"
}
subst unbound.conf; subst dnsdist.conf; subst dnsward.yaml

go build -o "$work/dnsward" ./cmd/dnsward
# answers PORT: one GET over HTTP/2, certificate verified against the test CA;
# true when the answer is HTTP/2 200 carrying n1's A record 127.0.0.1.
answers() {
  local code
  code=$(curl -sS --http2 --cacert "$work/ca.pem" -H 'accept: application/dns-message' -o "$work/answer" \
    -w '%{http_code} %{http_version}' "https://localhost:$1$(head -1 "$work/paths")" 2>/dev/null) || return 1
  [[ $code == "200 2" ]] && od -An -tx1 "$work/answer" | tr -d ' \n' | grep -q '00010001[0-9a-f]\{8\}00047f000001$'
}
# ready NAME: wait (10 s at most) until NAME answers.
ready() {
  for _ in $(seq 1 50); do answers "${port[$1]}" && return; sleep 0.2; done
  echo "bench/doh: $1 does not answer DoH GET on port ${port[$1]}"; cat "$work/$1.log"; exit 1
}
names=(dnsward dnsdist unbound)
declare -A port=([dnsward]=$DW_DOH [dnsdist]=$DD_DOH [unbound]=$UB_DOH)
# unbound first: it is the upstream of the other two.
"${srv[@]}" unbound -d -c "$work/unbound.conf" >"$work/unbound.log" 2>&1 & pids+=($!); ub_pid=$!
ready unbound
"${srv[@]}" dnsdist --supervised --disable-syslog -C "$work/dnsdist.conf" >"$work/dnsdist.log" 2>&1 & pids+=($!); dd_pid=$!
"${srv[@]}" "$work/dnsward" serve --config "$work/dnsward.yaml" >"$work/dnsward.log" 2>&1 & pids+=($!); dw_pid=$!
ready dnsdist; ready dnsward
declare -A pid=([dnsward]=$dw_pid [dnsdist]=$dd_pid [unbound]=$ub_pid)
for n in "${names[@]}"; do sed "1s|^|https://127.0.0.1:${port[$n]}|" "$work/paths" >"$work/uris.$n"; done

# h2load_run NAME ARGS...: h2load against NAME's port with its URI list; the
# report goes to $work/h2.out, the client's user+system CPU seconds to $work/h2.cpu.
h2load_run() {
  local n=$1; shift
  local TIMEFORMAT='%U %S'
  { time "${cli[@]}" h2load -i "$work/uris.$n" -c "$CLIENTS" -m "$STREAMS" -t "$H2_THREADS" "$@" >"$work/h2.out" 2>&1; } 2>"$work/h2.cpu"
}
# Warm the caches with the measured URIs: every name many times over. A
# server's first pass may fail some requests while it finds its upstream
# (dnsdist's lazy health check); three passes that all fail end the run.
warm() {
  h2load_run "$1" -n $((NAMES * 20))
  grep -q "^status codes: $((NAMES * 20)) 2xx" "$work/h2.out" && grep -q "^Application protocol: h2$" "$work/h2.out"
}
for n in "${names[@]}"; do
  warm "$n" || warm "$n" || warm "$n" || { echo "bench/doh: warming $n over HTTP/2 failed:"; cat "$work/h2.out"; exit 1; }
done

# failed: the requests of the last h2load run that failed, errored or were not 2xx.
failed() { awk '/^requests:/ {n += $10 + $12} /^status codes:/ {n += $5 + $7 + $9} END {print n}' "$work/h2.out"; }
hz=$(getconf CLK_TCK)
per_req() { awk -v t="$1" -v hz="$hz" -v q="$2" 'BEGIN {if (q > 0) printf "%.1f", t / hz * 1e6 / q; else print "-"}'; }
# pct P FILE: the P-th percentile of a column of microseconds, printed in ms.
pct() { sort -n "$2" | awk -v p="$1" '{a[NR]=$1} END {i=int(NR*p/100+0.999999); if (i<1) i=1; printf "%.2f", a[i]/1000}'; }
lg_field() { awk -v k="$1" -v f="$2" '$1 == k {print $f}' <<<"$3"; }
# loadgen_run KEY SCHEME NAME: one `dnsward bench` run (POST) against NAME over
# SCHEME (https: HTTP/2, h3: HTTP/3), its figures appended under KEY.
loadgen_run() {
  local out t0 t1 answered
  t0=$(ticks "${pid[$3]}")
  out=$("${cli[@]}" "$work/dnsward" bench -s "$2://localhost:${port[$3]}/dns-query" -cacert "$work/ca.pem" -d "$work/queries" \
    -l "${DURATION}s" -c "$CLIENTS" -q "$STREAMS" -quiet)
  t1=$(ticks "${pid[$3]}")
  answered=$(lg_field queries: 4 "$out")
  lq[$1]+="$(lg_field qps: 2 "$out") "; lp50[$1]+="$(lg_field latency: 3 "$out" | tr -d ms) "
  lp99[$1]+="$(lg_field latency: 5 "$out" | tr -d ms) "; lcpu[$1]+="$(per_req $((t1 - t0)) "$answered") "
  lerr[$1]+="$(($(lg_field queries: 2 "$out") - answered)) "
}
dw_metric() { curl -s "http://127.0.0.1:$DW_METRICS/metrics" | awk -v m="$1" '$1 == m {printf "%.0f", $2}'; }
dd_stat() { curl -s -H "X-API-Key: $DD_KEY" "http://127.0.0.1:$DD_WEB/jsonstat?command=stats" | grep -o "\"$1\": *[0-9]*" | grep -o '[0-9]*$'; }
last() { awk '{print $NF}' <<<"$1"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "-"}'; }

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) CPUs, servers on $([[ $PIN == 1 ]] && echo "CPU 0, clients on the others" || echo "any"); h2load -c $CLIENTS -m $STREAMS -t $H2_THREADS -D $DURATION; $NAMES names"
dw_h0=$(dw_metric dnsward_cache_hits_total) dw_m0=$(dw_metric dnsward_cache_misses_total)
dd_h0=$(dd_stat cache-hits) dd_m0=$(dd_stat cache-misses)
declare -A rps avg p50 p99 cpu ccpu bad lq lp50 lp99 lcpu lerr
for r in $(seq 1 "$ROUNDS"); do
  for n in "${names[@]}"; do
    # Throughput without h2load's per-request log, which costs the client
    # a fifth of its CPU; then a shorter run with it for the percentiles.
    t0=$(ticks "${pid[$n]}")
    h2load_run "$n" -D "$DURATION"
    t1=$(ticks "${pid[$n]}")
    ok=$(awk '/^status codes:/ {print $3}' "$work/h2.out")
    secs=$(awk '/^finished in/ {sub(/s,$/, "", $3); print $3}' "$work/h2.out")
    rps[$n]+="$(awk -v q="$ok" -v s="$secs" 'BEGIN {printf "%.0f", q / s}') "
    avg[$n]+="$(awk '/^time for request:/ {v = $6; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v)
      printf "%.2f", v * (u == "us" ? 0.001 : u == "s" ? 1000 : 1)}' "$work/h2.out") "
    cpu[$n]+="$(per_req $((t1 - t0)) "$ok") "
    ccpu[$n]+="$(awk -v s="$secs" '{printf "%.2f", ($1 + $2) / s}' "$work/h2.cpu") "
    bad[$n]+="$(failed) "
    h2load_run "$n" -D "$LAT_DURATION" --log-file="$work/h2.log"
    cut -f3 "$work/h2.log" >"$work/h2.us"
    p50[$n]+="$(pct 50 "$work/h2.us") "; p99[$n]+="$(pct 99 "$work/h2.us") "
    bad[$n]+="$(failed) "
    rm -f "$work/h2.log" "$work/h2.us"
    loadgen_run "$n" https "$n"
  done
  loadgen_run h3 h3 dnsward
  echo "round $r: h2load req/s dnsward $(last "${rps[dnsward]}") dnsdist $(last "${rps[dnsdist]}")" \
    "unbound $(last "${rps[unbound]}"); dnsward bench h3 qps $(last "${lq[h3]}")"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

sum() { tr ' ' '\n' <<<"$1" | awk '{s+=$1} END {print s+0}'; }
echo
echo "HTTP/2 GET, h2load (medians of $ROUNDS runs of ${DURATION}s; p50/p99 from further runs of ${LAT_DURATION}s logging"
echo "every request; non-200 = failed, errored or not 2xx, summed over all runs)"
printf '%-8s %10s %9s %9s %9s %14s %13s %8s\n' server "req/s" "mean ms" "p50 ms" "p99 ms" "server µs/req" "h2load cores" non-200
for n in "${names[@]}"; do
  printf '%-8s %10s %9s %9s %9s %14s %13s %8s\n' "$n" "$(median "${rps[$n]}")" "$(median "${avg[$n]}")" "$(median "${p50[$n]}")" \
    "$(median "${p99[$n]}")" "$(median "${cpu[$n]}")" "$(median "${ccpu[$n]}")" "$(sum "${bad[$n]}")"
done
echo
echo "dnsward bench (POST; medians of $ROUNDS runs of ${DURATION}s; errors = unanswered, summed)"
printf '%-13s %10s %9s %9s %14s %8s\n' "server" "qps" "p50 ms" "p99 ms" "server µs/req" errors
for n in "${names[@]}" h3; do
  label="$n h2"; [[ $n == h3 ]] && label="dnsward h3"
  printf '%-13s %10s %9s %9s %14s %8s\n' "$label" "$(median "${lq[$n]}")" "$(median "${lp50[$n]}")" \
    "$(median "${lp99[$n]}")" "$(median "${lcpu[$n]}")" "$(sum "${lerr[$n]}")"
done
echo
dw_h1=$(dw_metric dnsward_cache_hits_total) dw_m1=$(dw_metric dnsward_cache_misses_total)
dd_h1=$(dd_stat cache-hits) dd_m1=$(dd_stat cache-misses)
echo "cache hits while measuring: dnsward $((dw_h1 - dw_h0)) hits / $((dw_m1 - dw_m0)) misses," \
  "dnsdist $((dd_h1 - dd_h0)) hits / $((dd_m1 - dd_m0)) misses"
best=peer bestq=0 bestc=
for n in dnsdist unbound; do
  q=$(median "${rps[$n]}")
  if awk -v a="$q" -v b="$bestq" 'BEGIN {exit !(a > b)}'; then best=$n bestq=$q; fi
done
for n in dnsdist unbound; do
  c=$(median "${cpu[$n]}")
  if [[ -z $bestc ]] || awk -v a="$c" -v b="$bestc" 'BEGIN {exit !(a < b)}'; then bestc=$c; fi
done
echo "dnsward / best peer ($best), h2load req/s: $(ratio "$(median "${rps[dnsward]}")" "$bestq")"
echo "best peer server µs/req / dnsward server µs/req: $(ratio "$bestc" "$(median "${cpu[dnsward]}")")"
echo "dnsward h3 / h2 (dnsward bench qps): $(ratio "$(median "${lq[h3]}")" "$(median "${lq[dnsward]}")")"
