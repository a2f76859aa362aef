package filter

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
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
// bytes/name of live heap, build seconds (parsing a generated hosts list
// included), the peak of a rebuild while the previous copy is still serving
// (heap and process RSS, each as a multiple of its steady state),
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

// writeList writes n generated names as a hosts file and returns its path.
func writeList(b *testing.B, n int) string {
	f, err := os.CreateTemp(b.TempDir(), "bench-*.hosts")
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	g := names.New(hitSeed)
	for range n {
		fmt.Fprintf(w, "0.0.0.0 %s\n", g.Next())
	}
	if err := errors.Join(w.Flush(), f.Close()); err != nil {
		b.Fatal(err)
	}
	return f.Name()
}

// parseList feeds every entry of the hosts file at path to add.
func parseList(b *testing.B, path string, add func(Entry)) {
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if _, err := Parse(f, FormatHosts, path, nil, add); err != nil {
		b.Fatal(err)
	}
}

func buildCompiled(b *testing.B, path string) structure {
	var bl Builder
	parseList(b, path, func(e Entry) { bl.Add(e.Name, e.Scope) })
	return bl.Build()
}

func buildMap(b *testing.B, path string) structure {
	m := mapSet{}
	parseList(b, path, func(e Entry) { m[strings.Clone(e.Name)] = struct{}{} })
	return m
}

// footprint is what one structure costs.
type footprint struct {
	s           structure
	bytesPerN   float64
	buildS      float64
	rebuildPeak float64 // peak heap during a rebuild / steady heap
	rssPeak     float64 // peak process RSS during a rebuild / steady RSS
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

// peakHeap runs run and returns the largest heap (live and not yet
// collected objects) seen while it ran, sampled every millisecond.
func peakHeap(run func()) uint64 {
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
	run()
	close(stop)
	<-done
	return peak
}

// measure builds with build from a generated list (once per process per
// name) and measures it: the heap it keeps, then a rebuild with the first
// copy still live, as a peak of the heap (live and not yet collected
// objects, sampled every millisecond) over the kept heap, and as the peak
// process RSS over the RSS before the rebuild.
func measure(b *testing.B, name string, build func(*testing.B, string) structure) *footprint {
	fpMu.Lock()
	defer fpMu.Unlock()
	if fp, ok := fpMem[name]; ok {
		return fp
	}
	n := benchNames()
	path := writeList(b, n)
	debug.FreeOSMemory()
	base := heapBytes()
	start := time.Now()
	s := build(b, path)
	took := time.Since(start)
	debug.FreeOSMemory()
	steady := heapBytes() - base
	steadyRSS, _ := rss()
	resetPeakRSS()

	var s2 structure
	peak := peakHeap(func() { s2 = build(b, path) })
	_, peakRSS := rss()
	runtime.KeepAlive(s2)
	fp := &footprint{s: s, bytesPerN: float64(steady) / float64(n), buildS: took.Seconds(),
		rebuildPeak: float64(peak-base) / float64(steady), rssPeak: float64(peakRSS) / float64(max(steadyRSS, 1))}
	fpMem[name] = fp
	b.Logf("%s: %d names, %.1f bytes/name, build %.2fs, rebuild peak %.2f× steady heap, %.2f× steady RSS (%d MiB → %d MiB)",
		name, n, fp.bytesPerN, fp.buildS, fp.rebuildPeak, fp.rssPeak, steadyRSS>>20, peakRSS>>20)
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

func benchStructure(b *testing.B, name string, build func(*testing.B, string) structure) {
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
			b.ReportMetric(fp.rssPeak, "rss-peak/steady")
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

// BenchmarkParseRPZ measures parsing plus building an RPZ zone of 100,000
// names, each with its subtree (an exact and a wildcard trigger).
func BenchmarkParseRPZ(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("$TTL 300\n$ORIGIN rpz.local.\n@ SOA localhost. root.localhost. 1 3600 600 86400 60\n@ NS localhost.\n")
	g := names.New(hitSeed)
	for range 50000 {
		n := g.Next()
		fmt.Fprintf(&sb, "%s CNAME .\n*.%s CNAME .\n", n, n)
	}
	list := sb.String()
	b.SetBytes(int64(len(list)))
	b.ReportAllocs()
	for b.Loop() {
		var bl Builder
		if _, err := Parse(strings.NewReader(list), FormatRPZ, "bench", nil, func(e Entry) { bl.Add(e.Name, e.Scope) }); err != nil {
			b.Fatal(err)
		}
		bl.Build()
	}
}
