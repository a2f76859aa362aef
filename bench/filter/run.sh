#!/usr/bin/env bash
# Filtering overhead on the hot path. One dnsward process serves two
# profiles on two loopback addresses of the same port (profiles selected by
# addrs): 127.0.0.1 unfiltered, 127.0.0.2 blocking malware, ads and adult
# with NAMES synthetic names each (bench/listgen; hosts, adblock and RPZ
# formats) plus safe search. unbound answers 1000 names from local-data;
# dnsward is warmed so every measured query is a cache hit that no list
# matches. dnsperf drives both addresses with the same query file for
# DURATION seconds, ROUNDS times alternating, then blocked names through the
# filtered profile (answered by the policy, no cache). For each run: qps and
# the gateway's CPU time per query; medians and ratios are printed. Last, the
# resident memory (VmRSS, and the peak VmHWM) of this gateway is compared
# with a second one without lists, warmed the same way.
# Usage: bench/filter/run.sh [DURATION] [ROUNDS]   (needs: unbound dnsperf)
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${1:-5}
ROUNDS=${2:-5}
NAMES=${NAMES:-300000}
UB_PORT=${UB_PORT:-25363}
DW_PORT=${DW_PORT:-25364}
BARE_PORT=${BARE_PORT:-25365}
METRICS_PORT=${METRICS_PORT:-25366}
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

go build -o "$work/dnsward" ./cmd/dnsward
go build -o "$work/listgen" ./bench/listgen
"$work/listgen" -n "$NAMES" -seed 1 -format hosts >"$work/malware.hosts"
"$work/listgen" -n "$NAMES" -seed 2 -format adblock >"$work/ads.txt"
"$work/listgen" -n "$NAMES" -seed 3 -format rpz >"$work/adult.rpz"
# Blocked-name queries: the first 1000 names of the malware list.
awk 'NR <= 1000 {print $2 " A"}' "$work/malware.hosts" >"$work/blocked"

{
  printf 'server:\n  interface: 127.0.0.1@%s\n  do-daemonize: no\n  chroot: ""\n  username: ""\n' "$UB_PORT"
  printf '  directory: "%s"\n  pidfile: ""\n  use-syslog: no\n  verbosity: 0\n' "$work"
  printf '  num-threads: 1\n  access-control: 127.0.0.0/8 allow\n'
  printf '  local-zone: "bench.example." static\n'
  for i in $(seq 1 1000); do printf '  local-data: "n%d.bench.example. 3600 IN A 127.0.0.1"\n' "$i"; done
  printf 'remote-control:\n  control-enable: no\n'
} >"$work/unbound.conf"
for i in $(seq 1 1000); do echo "n$i.bench.example A"; done >"$work/queries"

# $1 port, $2 "lists" or "bare"
config() {
  cat <<YAML
listen:
  dns: ["127.0.0.1:$1", "127.0.0.2:$1"]
$([ "$2" = lists ] && echo "  metrics: \"127.0.0.1:$METRICS_PORT\"")
upstreams: [udp://127.0.0.1:$UB_PORT]
cache: {size: 100000}
log: {level: warn}
data_dir: "$work/data-$2"
default_profile: unfiltered
YAML
  if [ "$2" = lists ]; then
    cat <<YAML
lists: {malware: [malware.hosts], ads: [ads.txt], adult: [adult.rpz]}
profiles:
  unfiltered: {addrs: ["127.0.0.1"]}
  filtered: {addrs: ["127.0.0.2"], block: [malware, ads, adult], safe_search: true}
YAML
  else
    cat <<YAML
profiles:
  unfiltered: {addrs: ["127.0.0.1"]}
  filtered: {addrs: ["127.0.0.2"]}
YAML
  fi
}
config "$DW_PORT" lists >"$work/lists.yaml"
config "$BARE_PORT" bare >"$work/bare.yaml"

# Wait until a server answers (dnsperf exits 0 with a completed query).
wait_dns() {
  for _ in $(seq 1 300); do
    if dnsperf -s "$1" -p "$2" -d "$work/queries" -n 1 -q 10 -t 1 2>/dev/null | grep -q 'Queries completed: *1000 '; then return; fi
    sleep 0.2
  done
  echo "no answer from $1:$2" >&2
  exit 1
}
rss() { awk '/^VmRSS|^VmHWM/ {printf "%s %.1f MiB  ", $1, $2/1024}' "/proc/$1/status"; }

unbound -d -c "$work/unbound.conf" 2>/dev/null & pids+=($!)
start=$(date +%s.%N)
"$work/dnsward" serve --config "$work/lists.yaml" >/dev/null & dw=$!; pids+=($dw)
wait_dns 127.0.0.1 "$UB_PORT"
wait_dns 127.0.0.2 "$DW_PORT" # lists are built before the listeners bind
echo "lists: 3 x $NAMES names loaded and serving after $(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN {printf "%.1f", e-s}') s"
curl -s "http://127.0.0.1:$METRICS_PORT/metrics" | awk '/^dnsward_filter_list_(entries|bytes)\{/ {printf "  %s %s\n", $1, $2}'
wait_dns 127.0.0.1 "$DW_PORT"

# measure ADDR PORT FILE prints "qps cpu": dnsperf's queries per second and
# the gateway's CPU time (user+system, from /proc/PID/stat) per completed
# query in microseconds. On a shared machine the CPU cost per query is the
# steadier figure: other processes lower qps but barely change it.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
measure() {
  local t0 t1 out
  t0=$(ticks "$dw")
  out=$(dnsperf -s "$1" -p "$2" -d "$3" -l "$DURATION" -c 4 -T 1 -q 500 2>/dev/null)
  t1=$(ticks "$dw")
  awk -v t="$((t1 - t0))" -v hz="$(getconf CLK_TCK)" '
    /Queries completed/ {n = $3} /Queries per second/ {q = $4}
    END {printf "%.0f %.2f\n", q, t / hz * 1e6 / n}' <<<"$out"
}
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", a/b}'; }
declare -a uq uc fq fc bq bc pair
for r in $(seq 1 "$ROUNDS"); do
  if ((r % 2)); then # alternate which profile goes first
    read -r q1 c1 < <(measure 127.0.0.1 "$DW_PORT" "$work/queries"); read -r q2 c2 < <(measure 127.0.0.2 "$DW_PORT" "$work/queries")
  else
    read -r q2 c2 < <(measure 127.0.0.2 "$DW_PORT" "$work/queries"); read -r q1 c1 < <(measure 127.0.0.1 "$DW_PORT" "$work/queries")
  fi
  read -r q3 c3 < <(measure 127.0.0.2 "$DW_PORT" "$work/blocked")
  uq+=("$q1"); uc+=("$c1"); fq+=("$q2"); fc+=("$c2"); bq+=("$q3"); bc+=("$c3"); pair+=("$(ratio "$q2" "$q1")")
  echo "round $r: unfiltered $q1 qps ($c1 µs CPU/query), filtered $q2 qps ($c2 µs), blocked names $q3 qps ($c3 µs)"
done
mu=$(median "${uq[@]}"); mf=$(median "${fq[@]}"); mcu=$(median "${uc[@]}"); mcf=$(median "${fc[@]}")
echo "median qps: unfiltered $mu, filtered (3 categories, cache hit) $mf, ratio $(ratio "$mf" "$mu") (median of per-round ratios $(median "${pair[@]}")); blocked names $(median "${bq[@]}")"
echo "median gateway CPU per query: unfiltered $mcu µs, filtered $mcf µs, ratio $(ratio "$mcf" "$mcu"); blocked names $(median "${bc[@]}") µs"
echo "memory with lists:    $(rss "$dw")"

"$work/dnsward" serve --config "$work/bare.yaml" >/dev/null & bare=$!; pids+=($bare)
wait_dns 127.0.0.1 "$BARE_PORT"
wait_dns 127.0.0.2 "$BARE_PORT"
dnsperf -s 127.0.0.2 -p "$BARE_PORT" -d "$work/queries" -l "$DURATION" -c 4 -T 1 -q 500 >/dev/null 2>&1 # the same kind of work
echo "memory without lists: $(rss "$bare")"
