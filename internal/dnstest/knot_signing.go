package dnstest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// SigningKnot is Debian's Knot DNS (knotd) serving zones it signs itself
// (dnssec-signing: on, keys generated on the first load).
type SigningKnot struct {
	Addr string // host:port, UDP and TCP
}

// StartSigningKnot runs knotd on 127.0.0.1 serving zones (apex → zone-file lines;
// each zone needs its SOA and NS) signed with automatic keys, and waits until
// every zone answers its DNSKEY set. It stops when t ends.
func StartSigningKnot(t testing.TB, zones map[string][]string) *SigningKnot {
	t.Helper()
	dir := t.TempDir()
	port := FreePort(t)
	var conf strings.Builder
	fmt.Fprintf(&conf, `server:
  listen: 127.0.0.1@%d
  rundir: "%s"
database:
  storage: "%s"
template:
  - id: default
    storage: "%s"
    dnssec-signing: on
    zonefile-sync: -1
    journal-content: none
log:
  - target: stderr
    any: warning
zone:
`, port, dir, dir, dir)
	for apex, lines := range zones {
		apex = dns.Fqdn(apex)
		fmt.Fprintf(&conf, "  - domain: %q\n", apex)
		file := filepath.Join(dir, apex+"zone")
		if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	runKnotd(t, dir, conf.String())
	k := &SigningKnot{Addr: fmt.Sprintf("127.0.0.1:%d", port)}
	for apex := range zones {
		k.KSK(t, apex)
	}
	return k
}

// KSK returns the zone's key-signing key (flags 257), asking knotd for the
// DNSKEY set until it has one, for up to 10 s: signing happens after load.
func (k *SigningKnot) KSK(t testing.TB, apex string) *dns.DNSKEY {
	t.Helper()
	q := new(dns.Msg)
	q.SetQuestion(dns.Fqdn(apex), dns.TypeDNSKEY)
	c := &dns.Client{Net: "tcp", Timeout: 500 * time.Millisecond}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if resp, _, err := c.Exchange(q, k.Addr); err == nil {
			for _, rr := range resp.Answer {
				if key, ok := rr.(*dns.DNSKEY); ok && key.Flags == 257 {
					return key
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("knotd on %s served no KSK for %s", k.Addr, apex)
	return nil
}
