package main

import (
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsward/dnsward/internal/dnstest"
)

// TestSecondSignalExitsAtOnce: the first SIGTERM drains (a query is stuck on
// a slow upstream, so the drain would take the full bound), and a second one
// ends the process at once, as README promises.
func TestSecondSignalExitsAtOnce(t *testing.T) {
	bin := dnstest.BuildDnsward(t)
	auth := dnstest.StartAuthority(t, []string{"slow.example. 300 IN A 127.0.0.1"},
		func(string) time.Duration { return 4 * time.Second })
	dir := t.TempDir()
	addr := fmt.Sprintf("127.0.0.1:%d", dnstest.FreePort(t))
	config := filepath.Join(dir, "dnsward.yaml")
	writeFile(t, config, fmt.Sprintf("listen: {dns: [%q]}\nupstreams: [udp://%s]\nupstream_timeout: 8s\ndata_dir: %q\n", addr, auth.Addr, dir))
	d := startDaemon(t, bin, config)
	d.waitLog(t, "dnsward started", 1)

	go func() { // held in flight by the slow upstream
		q := new(dns.Msg)
		q.SetQuestion("slow.example.", dns.TypeA)
		(&dns.Client{Timeout: 10 * time.Second}).Exchange(q, addr)
	}()
	for auth.Queries.Load() == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	d.waitLog(t, "draining in-flight queries", 1)
	select {
	case <-d.done:
		t.Fatal("dnsward exited at the first SIGTERM with a query in flight; want a drain")
	case <-time.After(300 * time.Millisecond):
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(2 * time.Second):
		t.Fatal("dnsward still draining 2 s after a second SIGTERM")
	}
}
