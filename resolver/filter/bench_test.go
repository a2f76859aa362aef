package filter

import (
	"fmt"
	"os"
	"runtime"
	rtmetrics "runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dnsward/dnsward/bench/listgen/names"
)

// The benchmarks compile benchNames() synthetic names (env
// DNSWARD_BENCH_NAMES, default 2,000,000) into a Set and, as the baseline,
// into a map[string]struct{} walked by suffix, and report per structure:
// bytes/name of live heap, build seconds, the heap peak of a rebuild while
// the previous copy is still serving (as a multiple of the steady state),
// and ns per match for hits and misses: wall time (ns/op) and the thread's
// CPU time (cpu-ns/op), which leaves out the time other processes take on
// a shared machine.
//
//	go test -run '^$' -bench 'Set2M|Map2M' -benchtime 1s ./resolver/filter/

const hitSeed, missSeed = 1, 2

func benchNames() int {
	if n, err := strconv.Atoi(os.Getenv("DNSWARD_BENCH_NAMES")); err == nil && n > 0 {
		return n
	}
	return 2_000_000
}

// structure is what the comparison needs from each candidate.
type structure interface{ Contains(string) bool }

// mapSet is the baseline: one map entry per name, parents found by walking
// the name's suffixes.
type mapSet map[string]struct{}

func (m mapSet) Contains(name string) bool {
	name = strings.TrimSuffix(name, ".")
	for {
		if _, ok := m[name]; ok {
			return true
		}
		i := strings.IndexByte(name, '.')
		if i < 0 {
			return false
		}
		name = name[i+1:]
	}
}

func buildCompiled(n int) structure {
	var b Builder
	g := names.New(hitSeed)
	for range n {
		b.Add(g.Next(), ScopeSubtree)
	}
	return b.Build()
}

func buildMap(n int) structure {
	m := mapSet{}
	g := names.New(hitSeed)
	for range n {
		m[g.Next()] = struct{}{}
	}
	return m
}

// footprint is what one structure costs.
type footprint struct {
	s           structure
	bytesPerN   float64
	buildS      float64
	rebuildPeak float64 // peak heap during a rebuild / steady heap
}

var (
	fpMu  sync.Mutex
	fpMem = map[string]*footprint{}
)

func heapBytes() uint64 {
	s := []rtmetrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	rtmetrics.Read(s)
	return s[0].Value.Uint64()
}

// measure builds with build (once per process per name) and measures it.
func measure(b *testing.B, name string, build func(int) structure) *footprint {
	fpMu.Lock()
	defer fpMu.Unlock()
	if fp, ok := fpMem[name]; ok {
		return fp
	}
	n := benchNames()
	runtime.GC()
	base := heapBytes()
	start := time.Now()
	s := build(n)
	took := time.Since(start)
	runtime.GC()
	steady := heapBytes() - base

	// Rebuild with s still live, sampling the heap every millisecond.
	var peak uint64
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			peak = max(peak, heapBytes())
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	s2 := build(n)
	close(stop)
	<-done
	runtime.KeepAlive(s2)
	fp := &footprint{s: s, bytesPerN: float64(steady) / float64(n), buildS: took.Seconds(),
		rebuildPeak: float64(peak-base) / float64(steady)}
	fpMem[name] = fp
	b.Logf("%s: %d names, %.1f bytes/name, build %.2fs, rebuild peak %.2f× steady", name, n, fp.bytesPerN, fp.buildS, fp.rebuildPeak)
	return fp
}

// queries returns hit names (children of generated names: they test the
// parent walk) and miss names: another seed's names with "zq" appended to
// the label before the last, a pair the generator never writes, so they
// land all over the set without matching.
func queries(k int) (hits, misses []string) {
	g, h := names.New(hitSeed), names.New(missSeed)
	for i := range k {
		hits = append(hits, "x"+strconv.Itoa(i%7)+"."+g.Next())
		n := h.Next()
		i := strings.LastIndexByte(n, '.')
		misses = append(misses, n[:i]+"zq"+n[i:])
	}
	return hits, misses
}

func benchStructure(b *testing.B, name string, build func(int) structure) {
	fp := measure(b, name, build)
	hits, misses := queries(1 << 16)
	for _, c := range []struct {
		name string
		qs   []string
		want bool
	}{{"hit", hits, true}, {"miss", misses, false}} {
		b.Run(c.name, func(b *testing.B) {
			for _, q := range c.qs[:100] {
				if got := fp.s.Contains(q); got != c.want {
					b.Fatalf("Contains(%q) = %v, want %v", q, got, c.want)
				}
			}
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			i, cpu := 0, threadCPU()
			for b.Loop() {
				fp.s.Contains(c.qs[i&(len(c.qs)-1)])
				i++
			}
			if cpu := threadCPU() - cpu; cpu > 0 {
				b.ReportMetric(float64(cpu.Nanoseconds())/float64(i), "cpu-ns/op")
			}
			b.ReportMetric(fp.bytesPerN, "B/name")
			b.ReportMetric(fp.buildS, "build-s")
			b.ReportMetric(fp.rebuildPeak, "peak/steady")
		})
	}
}

func BenchmarkSet2M(b *testing.B) { benchStructure(b, "compiled set", buildCompiled) }
func BenchmarkMap2M(b *testing.B) { benchStructure(b, "map baseline", buildMap) }

// BenchmarkParseHosts measures parsing plus building, the work of a reload.
func BenchmarkParseHosts(b *testing.B) {
	var sb strings.Builder
	g := names.New(hitSeed)
	for range 100000 {
		fmt.Fprintf(&sb, "0.0.0.0 %s\n", g.Next())
	}
	list := sb.String()
	b.SetBytes(int64(len(list)))
	for b.Loop() {
		var bl Builder
		if _, err := Parse(strings.NewReader(list), FormatHosts, "bench", nil, func(e Entry) { bl.Add(e.Name, e.Scope) }); err != nil {
			b.Fatal(err)
		}
		bl.Build()
	}
}
