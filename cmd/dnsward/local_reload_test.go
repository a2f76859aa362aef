package main

import (
	"fmt"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/miekg/dns"

	"github.com/dnsward/dnsward/internal/dnstest"
)

// TestLocalRecordsSIGHUP runs the dnsward binary with a local zone file and
// a profile's own record: SIGHUP applies an edited zone file and record; a
// zone file with a bad line is refused, named by file and line, and the
// last good records keep answering.
func TestLocalRecordsSIGHUP(t *testing.T) {
	bin := dnstest.BuildDnsward(t)
	auth := dnstest.StartAuthority(t, []string{"www.example.org. 300 IN A 127.0.0.30"}, nil)
	dir := t.TempDir()
	zone := filepath.Join(dir, "home.zone")
	zoneText := func(ip string) string {
		return "$ORIGIN home.example.\n@ 600 IN SOA ns admin 1 3600 600 86400 60\nnas 600 IN A " + ip + "\n"
	}
	writeFile(t, zone, zoneText("192.0.2.5"))
	addr := fmt.Sprintf("127.0.0.1:%d", dnstest.FreePort(t))
	config := filepath.Join(dir, "dnsward.yaml")
	configText := func(ip string) string {
		return fmt.Sprintf(`
listen: {dns: [%q]}
upstreams: [udp://%s]
data_dir: %q
local_zone_files: [home.zone]
profiles:
  default: {local_records: ["own.example. 60 IN A %s"]}
`, addr, auth.Addr, filepath.Join(dir, "data"), ip)
	}
	writeFile(t, config, configText("192.0.2.7"))
	d := startDaemon(t, bin, config)
	d.waitLog(t, "dnsward started", 1)
	check := func(when, name, want string) {
		t.Helper()
		resp := askA(t, addr, name)
		if resp.Rcode != dns.RcodeSuccess || len(resp.Answer) != 1 || resp.Answer[0].(*dns.A).A.String() != want || !resp.Authoritative {
			t.Errorf("%s: %s: %v, want %s with AA", when, name, resp, want)
		}
	}
	check("at start", "nas.home.example.", "192.0.2.5")
	check("at start", "own.example.", "192.0.2.7")

	writeFile(t, zone, zoneText("192.0.2.55"))
	writeFile(t, config, configText("192.0.2.77"))
	if err := d.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	d.waitLog(t, "dnsward: reloaded", 1)
	check("after the reload", "nas.home.example.", "192.0.2.55")
	check("after the reload", "own.example.", "192.0.2.77")

	writeFile(t, zone, zoneText("192.0.2.300"))
	if err := d.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	d.waitLog(t, zone+`:3: dns: bad A A: \"192.0.2.300\"`, 1)
	check("after a bad zone file", "nas.home.example.", "192.0.2.55")
	check("after a bad zone file", "own.example.", "192.0.2.77")
}
