package dnstest

import (
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// CachingUnbound is an unbound caching forwarder whose counters can be read
// with unbound-control, for benchmarks that compare a cache with unbound's.
type CachingUnbound struct {
	Addr string // host:port it answers on
	conf string // its configuration, which unbound-control reads too
	ctl  string // unbound-control's path
}

// StartCachingUnbound runs unbound on 127.0.0.1 as a caching forwarder that
// sends every query to upstream (host:port on loopback), with message and
// RRset caches of cacheSize each (unbound's syntax: "512m") and remote
// control on a loopback port without certificates. Extended statistics are
// on: without them unbound reports no memory or cache counts.
func StartCachingUnbound(t testing.TB, upstream, cacheSize string) *CachingUnbound {
	t.Helper()
	ctl := NeedBinary(t, "unbound-control", "unbound")
	host, port, _ := strings.Cut(upstream, ":")
	server := fmt.Sprintf("  module-config: \"iterator\"\n  do-not-query-localhost: no\n"+
		"  msg-cache-size: %s\n  rrset-cache-size: %s\n  extended-statistics: yes\n", cacheSize, cacheSize)
	tail := fmt.Sprintf("forward-zone:\n  name: \".\"\n  forward-addr: %s@%s\n", host, port)
	control := fmt.Sprintf("  control-enable: yes\n  control-interface: 127.0.0.1\n  control-port: %d\n  control-use-cert: no\n", FreePort(t))
	u := startUnbound(t, server, tail, control)
	return &CachingUnbound{Addr: u.addr, conf: u.conf, ctl: ctl}
}

// Stats returns `unbound-control stats_noreset` as counter name → value
// (mem.cache.rrset, mem.cache.message, msg.cache.count, ...).
func (u *CachingUnbound) Stats(t testing.TB) map[string]float64 {
	t.Helper()
	out, err := exec.Command(u.ctl, "-c", u.conf, "stats_noreset").CombinedOutput()
	if err != nil {
		t.Fatalf("unbound-control stats_noreset: %v\n%s", err, out)
	}
	stats := map[string]float64{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		name, value, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("unbound-control stats_noreset: unexpected line %q", line)
		}
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			t.Fatalf("unbound-control stats_noreset: %q: %v", line, err)
		}
		stats[name] = v
	}
	return stats
}
