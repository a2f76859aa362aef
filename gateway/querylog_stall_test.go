package gateway

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	dnstap "github.com/dnstap/golang-dnstap"
	framestream "github.com/farsightsec/golang-framestream"
	"github.com/miekg/dns"

	"github.com/dnsward/dnsward/internal/dnstest"
	"github.com/dnsward/dnsward/internal/metricstest"
)

// stallingCollector accepts dnstap connections on a Unix socket, completes
// the Frame Streams handshake, then never reads again.
func stallingCollector(t *testing.T, sock string) {
	t.Helper()
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
			go framestream.NewReader(c, &framestream.ReaderOptions{
				ContentTypes: [][]byte{dnstap.FSContentType}, Bidirectional: true,
			}) // the handshake, and nothing more
		}
	}()
}

// hammer sends n UDP queries for name one after the other and returns the
// slowest's latency; every query must be answered.
func hammer(t *testing.T, addr, name string, n int) time.Duration {
	t.Helper()
	c := &dns.Client{Timeout: 2 * time.Second}
	conn, err := c.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	rtts := make([]time.Duration, n)
	for i := range n {
		q := new(dns.Msg)
		q.SetQuestion(name, dns.TypeA)
		resp, rtt, err := c.ExchangeWithConn(q, conn)
		if err != nil || resp.Rcode != dns.RcodeSuccess {
			t.Fatalf("query %d: %v %v", i, err, resp)
		}
		rtts[i] = rtt
	}
	return slices.Max(rtts)
}

// stallGateway runs a gateway with plain DNS and the given query_log sink.
func stallGateway(t *testing.T, sink string) (*Gateway, string) {
	t.Helper()
	auth := dnstest.StartAuthority(t, []string{"www.example. 300 IN A 127.0.0.1"}, nil)
	dir := t.TempDir()
	dnsAddr := fmt.Sprintf("127.0.0.1:%d", dnstest.FreePort(t))
	yaml := fmt.Sprintf(`
listen:
  dns: ["%s"]
upstreams: [udp://%s]
data_dir: %s
query_log:
  sinks:
    - %s
      queue: 64
`, dnsAddr, auth.Addr, filepath.Join(dir, "data"), sink)
	return runGateway(t, loadYAML(t, dir, yaml), nil), dnsAddr
}

// TestQueryLogStalledCollector: a dnstap collector that stops reading
// costs queries nothing; its records are dropped and counted.
func TestQueryLogStalledCollector(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "tap.sock")
	stallingCollector(t, sock)
	sink := "dnstap:unix://" + sock
	g, addr := stallGateway(t, "dnstap: unix://"+sock)
	slowest := hammer(t, addr, "www.example.", 5000)
	dropped := metricstest.Value(t, g.registry, "dnsward_querylog_dropped_total", "sink", sink)
	t.Logf("slowest of 5000 queries: %v; %v records dropped", slowest, dropped)
	if dropped == 0 {
		t.Fatal("no record dropped although the collector never reads")
	}
	// A query waiting for the sink would wait for its write timeout (1s).
	if slowest > 500*time.Millisecond {
		t.Fatalf("a query took %v with a stalled collector: the query path waited for the sink", slowest)
	}
}

// TestQueryLogFullDisk: a JSON sink on a full file system (a 64 KiB tmpfs)
// costs queries nothing; records are dropped and counted, and the file
// holds only whole records.
func TestQueryLogFullDisk(t *testing.T) {
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Fatalf("mount a small tmpfs (the test runs as root): %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", mnt).Run() })
	file := filepath.Join(mnt, "queries.jsonl")
	g, addr := stallGateway(t, "json: "+file)
	slowest := hammer(t, addr, "www.example.", 3000)
	g.qlog.Close()
	dropped := metricstest.Value(t, g.registry, "dnsward_querylog_dropped_total", "sink", "json:"+file)
	recs := readJSONLog(t, file)
	st, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("slowest of 3000 queries: %v; %d records written (%d bytes), %v dropped", slowest, len(recs), st.Size(), dropped)
	if dropped == 0 || len(recs) == 0 || float64(len(recs))+dropped != 3000 {
		t.Fatalf("%d records written and %v dropped, want both and 3000 in all", len(recs), dropped)
	}
	if slowest > 500*time.Millisecond {
		t.Fatalf("a query took %v with the disk full", slowest)
	}
}

// TestQueryLogReconnects: a dnstap sink whose collector is not there yet
// drops and counts records, and once golang-dnstap's reader listens, it
// connects (with backoff) and the reader gets the queries sent after.
func TestQueryLogReconnects(t *testing.T) {
	bin := dnstest.NeedBinary(t, "dnstap", "go install github.com/dnstap/golang-dnstap/dnstap@v0.4.0")
	dir := t.TempDir()
	sock, out := filepath.Join(dir, "tap.sock"), filepath.Join(dir, "tap.fstrm")
	g, addr := stallGateway(t, "dnstap: unix://"+sock)
	hammer(t, addr, "www.example.", 50)
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		dropped := metricstest.Value(t, g.registry, "dnsward_querylog_dropped_total", "sink", "dnstap:unix://"+sock)
		if dropped == 50 {
			break
		}
		if dropped > 50 || time.Now().After(deadline) {
			t.Fatalf("%v records dropped without a collector, want all 50", dropped)
		}
	}
	reader := exec.Command(bin, "-u", sock, "-w", out)
	if err := reader.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { reader.Process.Kill(); reader.Wait() }()
	// The sink retries at most every 10 s; keep querying until the reader has frames.
	for deadline := time.Now().Add(15 * time.Second); ; {
		hammer(t, addr, "www.example.", 10)
		time.Sleep(100 * time.Millisecond)
		if st, err := os.Stat(out); err == nil && st.Size() > 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the dnstap reader got nothing 15 s after it started listening")
		}
	}
}
