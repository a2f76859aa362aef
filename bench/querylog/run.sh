#!/usr/bin/env bash
# Query-log cost on the cache-hit path: three dnsward instances, the same
# except for query_log (off; a JSON sink; a dnstap unix-socket sink read by
# golang-dnstap's `dnstap -u`), forwarding to one unbound that answers NAMES
# names from local-data, warmed so that every measured query is a cache hit.
# Each round measures every instance in turn, DURATION seconds each: UDP with
# dnsperf, then DoH over HTTP/2 with h2load (GET). Printed per instance: the
# median qps over the rounds, and the server's CPU per query (user+system
# ticks from /proc), which depends less on what else the machine runs.
# DNSWARD_BINS="name=path ..." compares builds: each runs every mode, all
# interleaved within each round (default: ./cmd/dnsward built, as "dnsward").
# Usage: bench/querylog/run.sh [DURATION] [ROUNDS]
# Needs: unbound, dnsperf, nghttp2-client (h2load), curl, go, dnstap
#   (go install github.com/dnstap/golang-dnstap/dnstap@v0.4.0).
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${1:-5}
ROUNDS=${2:-3}
NAMES=${NAMES:-100}
UB_PORT=${UB_PORT:-28353}
PATH=$PATH:$(go env GOPATH)/bin
for tool in unbound dnsperf h2load dnstap; do
  command -v "$tool" >/dev/null || { echo "bench/querylog: $tool not found"; exit 1; }
done
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

{
  printf 'server:\n  interface: 127.0.0.1@%s\n  do-daemonize: no\n  chroot: ""\n  username: ""\n' "$UB_PORT"
  printf '  directory: "%s"\n  pidfile: ""\n  use-syslog: no\n  verbosity: 0\n  access-control: 127.0.0.0/8 allow\n' "$work"
  printf '  local-zone: "bench.example." static\n'
  for i in $(seq 1 "$NAMES"); do printf '  local-data: "n%d.bench.example. 3600 IN A 127.0.0.1"\n' "$i"; done
  printf 'remote-control:\n  control-enable: no\n'
} >"$work/unbound.conf"
wire() { # an A query for $1 in wire format, ID 0, RD set
  local out='\0000\0000\0001\0000\0000\0001\0000\0000\0000\0000\0000\0000' l labels
  IFS=. read -ra labels <<<"$1"
  for l in "${labels[@]}"; do out+="$(printf '\\0%03o' "${#l}")$l"; done
  printf '%b' "$out"'\0000\0000\0001\0000\0001'
}
for i in $(seq 1 "$NAMES"); do
  echo "n$i.bench.example A" >>"$work/queries"
  echo "/dns-query?dns=$(wire "n$i.bench.example" | base64 -w0 | tr '+/' '-_' | tr -d '=')" >>"$work/paths"
done

if [[ -z ${DNSWARD_BINS:-} ]]; then
  go build -o "$work/dnsward" ./cmd/dnsward
  DNSWARD_BINS="dnsward=$work/dnsward"
fi
declare -A bin dns_port doh_port metrics_port pid
modes=() # instances: build-mode
for m in off json dnstap; do
  for b in $DNSWARD_BINS; do modes+=("${b%%=*}-$m"); bin[${b%%=*}-$m]=${b#*=}; done
done
port=28360
for m in "${modes[@]}"; do
  dns_port[$m]=$port doh_port[$m]=$((port + 1)) metrics_port[$m]=$((port + 2)); port=$((port + 3))
  case $m in
    *-off) qlog="" ;;
    *-json) qlog="query_log: {sinks: [{json: \"$work/$m.jsonl\"}]}" ;;
    *-dnstap) qlog="query_log: {sinks: [{dnstap: \"unix://$work/$m.sock\"}]}" ;;
  esac
  cat >"$work/$m.yaml" <<YAML
listen: {dns: ["127.0.0.1:${dns_port[$m]}"], doh: ["127.0.0.1:${doh_port[$m]}"], metrics: "127.0.0.1:${metrics_port[$m]}"}
upstreams: [udp://127.0.0.1:$UB_PORT]
data_dir: "$work/data-$m"
cache: {size: 100000}
log: {level: warn}
$qlog
YAML
  sed "1s|^|https://127.0.0.1:${doh_port[$m]}|" "$work/paths" >"$work/uris.$m"
done

unbound -d -c "$work/unbound.conf" & pids+=($!)
for m in "${modes[@]}"; do
  [[ $m == *-dnstap ]] && { dnstap -u "$work/$m.sock" -w /dev/null & pids+=($!); }
done
sleep 0.5
for m in "${modes[@]}"; do "${bin[$m]}" serve --config "$work/$m.yaml" >"$work/$m.log" 2>&1 & pids+=($!); pid[$m]=$!; done
sleep 2
for m in "${modes[@]}"; do # warm the caches over both transports
  dnsperf -s 127.0.0.1 -p "${dns_port[$m]}" -d "$work/queries" -n 3 -q 50 >/dev/null
  h2load -i "$work/uris.$m" -n $((NAMES * 10)) -c 2 -m 8 >/dev/null 2>&1
done

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
us_per() { awk -v t="$1" -v hz="$hz" -v q="$2" 'BEGIN {if (q > 0) printf "%.2f", t / hz * 1e6 / q; else print "-"}'; }
declare -A udp doh udpcpu dohcpu
for r in $(seq 1 "$ROUNDS"); do
  for m in "${modes[@]}"; do
    t0=$(ticks "${pid[$m]}")
    out=$(dnsperf -s 127.0.0.1 -p "${dns_port[$m]}" -d "$work/queries" -l "$DURATION" -c 4 -T 1 -q 500 2>/dev/null)
    t1=$(ticks "${pid[$m]}")
    q=$(awk '/Queries per second/ {print $4}' <<<"$out"); n=$(awk '/Queries completed/ {print $3}' <<<"$out")
    udp[$m]+="$q "; udpcpu[$m]+="$(us_per $((t1 - t0)) "$n") "
    t0=$(ticks "${pid[$m]}")
    out=$(h2load -i "$work/uris.$m" -D "$DURATION" -c 8 -m 32 -t 1 2>&1)
    t1=$(ticks "${pid[$m]}")
    q=$(awk '/^finished in/ {print $4}' <<<"$out"); n=$(awk '/^status codes:/ {print $3}' <<<"$out")
    doh[$m]+="$q "; dohcpu[$m]+="$(us_per $((t1 - t0)) "$n") "
    echo "round $r $m: udp $(awk '{print $NF}' <<<"${udp[$m]}") qps ($(awk '{print $NF}' <<<"${udpcpu[$m]}") µs CPU/query), doh2 $(awk '{print $NF}' <<<"${doh[$m]}") req/s ($(awk '{print $NF}' <<<"${dohcpu[$m]}") µs CPU/query)"
  done
done
median() { tr ' ' '\n' <<<"$1" | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "medians (load $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) CPUs):"
for m in "${modes[@]}"; do
  printf '  %-14s udp %s qps, %s µs CPU/query; doh2 %s req/s, %s µs CPU/query\n' "$m" \
    "$(median "${udp[$m]}")" "$(median "${udpcpu[$m]}")" "$(median "${doh[$m]}")" "$(median "${dohcpu[$m]}")"
done
for m in "${modes[@]}"; do
  [[ $m == *-off ]] && continue
  echo "  $m: $(curl -s "http://127.0.0.1:${metrics_port[$m]}/metrics" | awk '/^dnsward_querylog_dropped_total/ {d += $2} END {printf "%d", d}') records dropped"
done
