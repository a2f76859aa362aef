package filter

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dnsward/dnsward/bench/listgen/names"
)

// BenchmarkMISPIngest compares, in one process, the ingest of N MISP domain
// attributes (env DNSWARD_BENCH_MISP, default 1,000,000) pulled by REST
// restSearch from a loopback server with building a plain domain list of
// the same names, and then an incremental refresh with 1 % of the
// attributes changed (half updated, half deleted). Reported per step: wall
// seconds, process CPU seconds (the loopback server's included; GC
// included, so more than wall time on several cores), peak heap above the
// heap before the step, peak process RSS.
//
//	go test -run '^$' -bench MISPIngest -benchtime 1x ./resolver/filter/
func BenchmarkMISPIngest(b *testing.B) {
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("DNSWARD_BENCH_MISP")); err == nil && v > 0 {
		n = v
	}
	dir := b.TempDir()
	now := time.Now().Unix()
	all := make([]string, 0, n)
	g := names.New(hitSeed)
	for range n {
		all = append(all, g.Next())
	}
	hosts := filepath.Join(dir, "plain.txt")
	full := filepath.Join(dir, "full.json")
	incr := filepath.Join(dir, "incr.json")
	writeFile := func(path string, write func(w *bufio.Writer)) {
		f, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		w := bufio.NewWriterSize(f, 1<<20)
		write(w)
		if err := errors.Join(w.Flush(), f.Close()); err != nil {
			b.Fatal(err)
		}
	}
	attr := func(w *bufio.Writer, i int, ts int64, deleted bool) {
		fmt.Fprintf(w, `{"uuid":"%08x-0000-4000-8000-%012x","type":"domain","value":%q,"category":"Network activity","to_ids":true,"deleted":%v,"disable_correlation":false,"comment":"","timestamp":"%d","Event":{"uuid":"20ce8968-0bed-5526-acb4-%012x","info":"bench","published":true,"org_id":"1"}}`,
			i, i, all[i], deleted, ts, i/1000)
	}
	writeFile(hosts, func(w *bufio.Writer) {
		for _, name := range all {
			w.WriteString(name + "\n")
		}
	})
	writeFile(full, func(w *bufio.Writer) {
		w.WriteString(`{"response":{"Attribute":[`)
		for i := range all {
			if i > 0 {
				w.WriteByte(',')
			}
			attr(w, i, now, false)
		}
		w.WriteString("]}}")
	})
	changed := n / 100
	writeFile(incr, func(w *bufio.Writer) {
		w.WriteString(`{"response":{"Attribute":[`)
		for k := range changed {
			if k > 0 {
				w.WriteByte(',')
			}
			attr(w, k*100, now+1, k%2 == 1)
		}
		w.WriteString("]}}")
	})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var q restQuery
		body := full
		if err := decodeJSONBody(r, &q); err == nil && q.Timestamp != 0 {
			body = incr
		}
		http.ServeFile(w, r, body)
	}))
	defer srv.Close()

	step := func(name string, run func()) {
		debug.FreeOSMemory()
		base := heapBytes()
		resetPeakRSS()
		var took, cpu time.Duration
		peak := peakHeap(func() {
			start, cpu0 := time.Now(), processCPU()
			run()
			took, cpu = time.Since(start), processCPU()-cpu0
		})
		_, peakRSS := rss()
		b.Logf("%s: %.2fs (CPU %.2fs), peak heap +%d MiB, peak RSS %d MiB", name, took.Seconds(), cpu.Seconds(), (peak-min(peak, base))>>20, peakRSS>>20)
		b.ReportMetric(took.Seconds(), name+"-s")
		b.ReportMetric(cpu.Seconds(), name+"-cpu-s")
		b.ReportMetric(float64((peak-min(peak, base))>>20), name+"-peak-heap-MiB")
	}
	for b.Loop() {
		var plain *Manager
		step("plain-list", func() {
			m, err := NewManager(ManagerConfig{Lists: map[string][]Source{"malware": {{Location: hosts, Format: FormatHosts}}}})
			if err != nil {
				b.Fatal(err)
			}
			if err := m.Reload(); err != nil {
				b.Fatal(err)
			}
			plain = m
		})
		if got := plain.cats["malware"].cur.Load().entries; got < n/2 {
			b.Fatalf("plain list: %d entries", got)
		}
		plain = nil
		runtime.GC()
		m, err := NewManager(ManagerConfig{DataDir: filepath.Join(dir, "data"), ThreatIntel: ThreatIntelConfig{
			MISP: []MISPSource{{Name: "bench", URL: srv.URL, APIKey: "k", Category: "malware"}}}})
		if err != nil {
			b.Fatal(err)
		}
		step("misp-full", func() {
			if err := m.RefreshIntel(context.Background()); err != nil {
				b.Fatal(err)
			}
		})
		c := m.cats["malware"]
		if got := c.cur.Load().entries; got < n/2 {
			b.Fatalf("MISP: %d entries", got)
		}
		step("misp-incremental-1pct", func() {
			if err := m.RefreshIntel(context.Background()); err != nil {
				b.Fatal(err)
			}
		})
		if got, want := len(c.intel[0].state.Indicators), n-changed/2; got != want {
			b.Fatalf("after the incremental pull: %d indicators, want %d", got, want)
		}
		pol, _ := m.Policy(PolicyConfig{Block: []string{"malware"}})
		if v := pol.Check(all[101], 1); v.Action == 0 || !strings.HasPrefix(v.Detail, "bench event ") {
			b.Fatalf("%s: verdict %+v", all[101], v)
		}
	}
}

func decodeJSONBody(r *http.Request, v any) error {
	return json.NewDecoder(r.Body).Decode(v)
}
