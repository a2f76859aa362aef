#!/usr/bin/env bash
# Cache memory and cache-hit cost, this tree against BASE, with unbound as the
# yardstick, all in one run:
#  1. BenchmarkCacheMemory (resolver/cache_mem_bench_test.go) for BASE and
#     for this tree: ENTRIES one-A-record answers cached through the whole
#     chain; B/entry is the live heap they add, ns/op and cpu-ns/op a hit on
#     a random one of them (wall clock and the process's CPU time).
#  2. BenchmarkCacheMemoryUnbound: unbound filled with the same names, its
#     mem.cache.message + mem.cache.rrset growth per entry.
#  3. The hit on one hot entry, for BASE and this tree, ROUNDS times in
#     turn: BenchmarkCacheHit (the cache step alone; cpu-ns/op is the
#     process's CPU time per hit) and BenchmarkChainCacheHit (the whole
#     chain; a fixed count, and the CPU time of the whole test process per
#     hit from bash's `time`). On a shared machine CPU time is the steadier
#     figure; compare medians.
# BASE's tree is taken with `git archive` and given this tree's
# cache_mem_bench_test.go, so both run the same benchmark code.
# Usage: bench/cachemem/run.sh BASE [ENTRIES] [ROUNDS]
#   (BASE: the commit to compare with, e.g. the one before a cache change;
#    ENTRIES default 1000000; ROUNDS default 5; needs: unbound, unbound-control)
set -euo pipefail
cd "$(dirname "$0")/../.."
BASE=${1:?usage: bench/cachemem/run.sh BASE [ENTRIES] [ROUNDS]}
ENTRIES=${2:-1000000}
ROUNDS=${3:-5}
HITS=1000000
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/base"
git archive "$BASE" | tar -x -C "$work/base"
cp resolver/cache_mem_bench_test.go "$work/base/resolver/"
(cd "$work/base" && go test -c -o "$work/base.test" ./resolver)
go test -c -o "$work/new.test" ./resolver
cd resolver
bench() { "$work/$1.test" -test.run '^$' -test.benchmem "${@:2}" | grep '^Benchmark' | sed "s/^/$1 /"; }
echo "# cache memory, $ENTRIES entries (BASE=$(git rev-parse --short "$BASE"))"
bench base -test.bench 'CacheMemory$' -cachemem.entries="$ENTRIES"
bench new -test.bench 'CacheMemory$' -cachemem.entries="$ENTRIES"
bench new -test.bench 'CacheMemoryUnbound$' -cachemem.entries="$ENTRIES"
echo "# hot cache hit, $HITS hits per chain run"
TIMEFORMAT='%U %S'
for _ in $(seq "$ROUNDS"); do
  for v in base new; do
    bench "$v" -test.bench 'BenchmarkCacheHit$'
    t=$( { time bench "$v" -test.bench 'ChainCacheHit$' -test.benchtime "${HITS}x" >"$work/out"; } 2>&1 )
    awk -v t="$t" -v n="$HITS" '{split(t, c, " "); printf "%s\tcpu %.0f ns/hit\n", $0, (c[1] + c[2]) * 1e9 / n}' "$work/out"
  done
done
