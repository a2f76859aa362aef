package upstream

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/dnsward/dnsward/internal/dnstest"

	"github.com/miekg/dns"
)

// startUnbound runs Debian's unbound on a free loopback port, serving only
// local data (it never recurses: the zone is static and nothing else is asked).
func startUnbound(t *testing.T) string {
	t.Helper()
	bin := dnstest.NeedBinary(t, "unbound", "unbound")
	pc, ln := listenPair(t)
	port := ln.Addr().(*net.TCPAddr).Port
	pc.Close()
	ln.Close()
	dir := t.TempDir()
	conf := filepath.Join(dir, "unbound.conf")
	err := os.WriteFile(conf, fmt.Appendf(nil, `server:
	interface: 127.0.0.1
	port: %d
	do-ip6: no
	do-daemonize: no
	chroot: ""
	username: ""
	directory: %q
	pidfile: ""
	use-syslog: no
	logfile: ""
	verbosity: 0
	access-control: 127.0.0.0/8 allow
	module-config: "iterator"
	local-zone: "dnsward.test." static
	local-data: "www.dnsward.test. 300 IN A 192.0.2.1"
	local-data: "www.dnsward.test. 300 IN TXT \"hello\""
remote-control:
	control-enable: no
`, port, dir), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-d", "-c", conf)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	c := &dns.Client{Net: "tcp", Timeout: 200 * time.Millisecond}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if _, _, err := c.Exchange(query("www.dnsward.test.", 1), addr); err == nil {
			return addr
		}
	}
	t.Fatal("unbound did not answer within 10s")
	return ""
}

// TestUnbound exchanges with a real unbound over UDP and TCP.
func TestUnbound(t *testing.T) {
	addr := startUnbound(t)
	for _, scheme := range []string{"udp", "tcp"} {
		t.Run(scheme, func(t *testing.T) {
			u := newUpstream(t, scheme+"://"+addr, testOptions())
			q := query("WWW.dnsward.test.", 0xbeef)
			q.SetEdns0(1232, false)
			r, err := u.Exchange(context.Background(), q)
			if err != nil {
				t.Fatal(err)
			}
			checkAnswer(t, q, r)
			if r.IsEdns0() == nil {
				t.Error("unbound's OPT record lost")
			}
			nx := query("nope.dnsward.test.", 7)
			r, err = u.Exchange(context.Background(), nx)
			if err != nil {
				t.Fatal(err)
			}
			if r.Rcode != dns.RcodeNameError || r.Id != 7 {
				t.Errorf("got rcode %s id %d, want NXDOMAIN id 7", dns.RcodeToString[r.Rcode], r.Id)
			}
		})
	}
}
