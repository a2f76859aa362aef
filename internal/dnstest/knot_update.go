package dnstest

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// UpdatableKnot is a knotd serving one zone on loopback UDP and TCP that accepts
// dynamic updates (RFC 2136) signed with one TSIG key (hmac-sha256).
type UpdatableKnot struct {
	Addr   string // host:port
	Zone   string // fully qualified
	Key    string // TSIG key name
	Secret string // TSIG secret, base64
}

// StartUpdatableKnot runs knotd (Debian's knot) authoritative for zone, with an SOA,
// an NS and the records in rrs (zone-file lines), until the test ends.
// Only updates signed with the returned key, of TXT records at
// _acme-challenge.<zone>, are allowed (README's ACL for dns-01).
func StartUpdatableKnot(t testing.TB, zone string, rrs ...string) *UpdatableKnot {
	t.Helper()
	// knotd's control socket lives in its rundir, so the path stays short.
	dir, err := os.MkdirTemp("", "knot-")
	if err != nil {
		t.Fatal(err)
	}
	secret := make([]byte, 32)
	rand.Read(secret)
	port := FreePort(t)
	k := &UpdatableKnot{
		Addr: fmt.Sprintf("127.0.0.1:%d", port), Zone: dns.Fqdn(zone),
		Key: "acme-key", Secret: base64.StdEncoding.EncodeToString(secret),
	}
	conf := fmt.Sprintf(`server:
    rundir: %[1]q
    listen: 127.0.0.1@%[2]d
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
database:
    storage: %[1]q
log:
  - target: stderr
    any: info
key:
  - id: %[3]s
    algorithm: hmac-sha256
    secret: %[4]s
acl:
  - id: update
    key: %[3]s
    action: update
    update-type: TXT
    update-owner: name
    update-owner-match: equal
    update-owner-name: _acme-challenge
template:
  - id: default
    storage: %[1]q
    zonefile-sync: -1
zone:
  - domain: %[5]s
    acl: update
`, dir, port, k.Key, k.Secret, k.Zone)
	zoneText := fmt.Sprintf("$ORIGIN %s\n@ 60 IN SOA ns hostmaster 1 3600 600 86400 60\n@ 60 IN NS ns\nns 60 IN A 127.0.0.1\n", k.Zone)
	for _, rr := range rrs {
		zoneText += rr + "\n"
	}
	if err := os.WriteFile(filepath.Join(dir, strings.TrimSuffix(k.Zone, ".")+".zone"), []byte(zoneText), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) }) // registered first: runs after knotd stopped
	runKnotd(t, dir, conf)
	WaitForDNS(t, k.Addr)
	return k
}

// TXT returns the texts of the TXT records knot serves at name.
func (k *UpdatableKnot) TXT(t testing.TB, name string) []string {
	t.Helper()
	q := new(dns.Msg)
	q.SetQuestion(dns.Fqdn(name), dns.TypeTXT)
	r, _, err := (&dns.Client{Net: "tcp"}).Exchange(q, k.Addr)
	if err != nil {
		t.Fatalf("knot TXT %s: %v", name, err)
	}
	var out []string
	for _, rr := range r.Answer {
		if txt, ok := rr.(*dns.TXT); ok {
			out = append(out, txt.Txt...)
		}
	}
	return out
}

// Serial returns the serial of the zone's SOA, which knot increments on
// every update it applies.
func (k *UpdatableKnot) Serial(t testing.TB) uint32 {
	t.Helper()
	q := new(dns.Msg)
	q.SetQuestion(k.Zone, dns.TypeSOA)
	r, _, err := (&dns.Client{Net: "tcp"}).Exchange(q, k.Addr)
	if err != nil || len(r.Answer) != 1 {
		t.Fatalf("knot SOA %s: %v %v", k.Zone, r, err)
	}
	return r.Answer[0].(*dns.SOA).Serial
}
