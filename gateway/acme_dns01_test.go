package gateway

import (
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsward/dnsward/internal/dnstest"
	"github.com/dnsward/dnsward/internal/pebbletest"
)

// TestACMEDNS01Wildcard issues *.dns.test from pebble with DNS-01: the
// gateway writes the challenge into a zone that knot serves, by TSIG-signed
// RFC 2136 updates, and pebble validates it by asking knot. A DoT client
// with SNI anything.dns.test then verifies the chain against pebble's root
// and gets its answer; the challenge record is gone from the zone
// afterwards, and the TSIG secret is in no log line.
func TestACMEDNS01Wildcard(t *testing.T) {
	knot := dnstest.StartUpdatableKnot(t, "dns.test")
	p := pebbletest.Start(t, knot.Addr, pebbletest.Options{})
	addr := func() string { return "127.0.0.1:" + strconv.Itoa(dnstest.FreePort(t)) }
	e := &acmeEnv{pebble: p, dataDir: dataDir(t), logPath: filepath.Join(t.TempDir(), "gateway.log"), doh: addr(), dot: addr()}
	var err error
	if e.log, err = os.Create(e.logPath); err != nil {
		t.Fatal(err)
	}
	auth := dnstest.StartAuthority(t, []string{acmeQuery + " 300 IN A " + acmeQueryIP}, nil)
	secretFile := filepath.Join(t.TempDir(), "tsig")
	if err := os.WriteFile(secretFile, []byte(knot.Secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.start(t, fmt.Sprintf(`
listen: {doh: [%q], dot: [%q]}
upstreams: [udp://%s]
server_name: "*.dns.test"
data_dir: %s
tls:
  mode: acme
  acme:
    ca: %s
    ca_root: %s
    challenges: [dns-01]
    dns: {provider: rfc2136, server: %q, tsig_key: %s, tsig_secret_file: %s,
          tsig_algorithm: hmac-sha256}
`, e.doh, e.dot, auth.Addr, e.dataDir, p.DirURL, p.APIRoot, knot.Addr, knot.Key, secretFile))

	roots := e.roots(t)
	leaf := pebbletest.WaitIssued(t, 60*time.Second, e.dot, "anything.dns.test", roots, nil)
	if !slices.Equal(leaf.DNSNames, []string{"*.dns.test"}) {
		t.Errorf("issued for %q, want [*.dns.test]", leaf.DNSNames)
	}
	if _, ok := pebbletest.IssuedBy(e.doh, "other.dns.test", roots); !ok {
		t.Error("DoH does not serve the wildcard certificate for other.dns.test")
	}
	if noSNI, _ := pebbletest.IssuedBy(e.dot, "", nil); noSNI == nil || noSNI.SerialNumber.Cmp(leaf.SerialNumber) != 0 {
		t.Errorf("a handshake without SNI got %v, want the wildcard certificate", noSNI)
	}

	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", e.dot,
		&tls.Config{ServerName: "anything.dns.test", RootCAs: roots, NextProtos: []string{"dot"}})
	if err != nil {
		t.Fatalf("DoT with SNI anything.dns.test, trusting pebble's root: %v", err)
	}
	defer conn.Close()
	q := new(dns.Msg)
	q.SetQuestion(acmeQuery, dns.TypeA)
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	dc := &dns.Conn{Conn: conn}
	if err := dc.WriteMsg(q); err != nil {
		t.Fatal(err)
	}
	answer, err := dc.ReadMsg()
	if err != nil {
		t.Fatal(err)
	}
	checkAnswer(t, answer)

	// The record was added and removed: two updates, and none is left.
	waitFor(t, "the challenge record's removal", func() bool {
		return len(knot.TXT(t, "_acme-challenge.dns.test")) == 0 && knot.Serial(t) >= 3
	})
	if strings.Contains(e.logs(t), knot.Secret) {
		t.Error("the TSIG secret shows in the gateway's log")
	}
}
