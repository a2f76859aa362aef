package main

import (
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/dnsward/dnsward/internal/dnstest"
	"github.com/dnsward/dnsward/internal/pebbletest"
)

// replicaName is the name the replicas certify; pebble's DNS stub resolves
// it to 127.0.0.1.
const replicaName = "dns.dnsward.test"

// replica is one dnsward process of TestReplicasShareOneCertificate.
type replica struct {
	d        *daemon
	doh, dot string
}

// TestReplicasShareOneCertificate starts three dnsward processes, each
// with its own data_dir whose certmagic folder is the same shared directory
// (a symlink standing in for a shared volume). Only the first replica
// listens on pebble's TLS-ALPN-01 port, so an order placed by another is
// validated through the challenge it wrote to the shared storage. Each
// replica's tls_alpn_port is its own DoH port, as on separate hosts: were
// it pebble's port, a replica ordering first would bind that port for its
// own solver before replica 0 listens there. Pebble must see exactly one
// order, all three must serve its certificate on DoT and DoH, and the
// renewal (forced by a 40 s validity and renewal_window_ratio 0.75) must be
// one more order, served by all.
func TestReplicasShareOneCertificate(t *testing.T) {
	bin := dnstest.BuildDnsward(t)
	stub, _ := pebbletest.StartDNS(t)
	addr := func() string { return "127.0.0.1:" + strconv.Itoa(dnstest.FreePort(t)) }
	alpnPort := dnstest.FreePort(t)
	p := pebbletest.Start(t, stub, pebbletest.Options{TLSPort: alpnPort, Validity: 40 * time.Second})
	roots, err := p.Root()
	if err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	shared := filepath.Join(dir, "shared-certmagic")
	if err := os.Mkdir(shared, 0o700); err != nil {
		t.Fatal(err)
	}
	var configs []string
	var replicas []*replica
	for i := range 3 {
		dohPort := dnstest.FreePort(t)
		if i == 0 {
			dohPort = alpnPort
		}
		r := &replica{doh: "127.0.0.1:" + strconv.Itoa(dohPort), dot: addr()}
		data := filepath.Join(dir, fmt.Sprintf("node%d", i))
		if err := os.Mkdir(data, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(shared, filepath.Join(data, "certmagic")); err != nil {
			t.Fatal(err)
		}
		config := filepath.Join(dir, fmt.Sprintf("node%d.yaml", i))
		writeFile(t, config, fmt.Sprintf(`
listen: {dns: [%q], doh: [%q], dot: [%q]}
upstreams: [udp://%s]
server_name: %s
data_dir: %q
tls:
  mode: acme
  check_interval: 250ms
  acme:
    email: ops@dnsward.test
    ca: %s
    ca_root: %s
    challenges: [tls-alpn-01]
    tls_alpn_port: %d
    renewal_window_ratio: 0.75
`, addr(), r.doh, r.dot, stub, replicaName, data, p.DirURL, p.APIRoot, dohPort))
		configs = append(configs, config)
		replicas = append(replicas, r)
	}
	// Replica 0 first: an order placed before it listens on pebble's port
	// would fail its validation and be retried only a minute later. The
	// others start at once, racing it for the shared storage's lock.
	replicas[0].d = startDaemon(t, bin, configs[0])
	replicas[0].d.waitLog(t, `msg="dnsward started"`, 1)
	for i, r := range replicas[1:] {
		r.d = startDaemon(t, bin, configs[i+1])
	}

	first := sameLeaf(t, replicas, roots, nil)
	if n := p.Orders(t); n != 1 {
		t.Fatalf("pebble got %d orders for three replicas, want 1", n)
	}
	renewed := sameLeaf(t, replicas, roots, func(c *x509.Certificate) bool {
		return c.SerialNumber.Cmp(first.SerialNumber) != 0
	})
	if !renewed.NotAfter.After(first.NotAfter) {
		t.Errorf("renewed certificate expires %v, not after the first's %v", renewed.NotAfter, first.NotAfter)
	}
	time.Sleep(time.Second) // four check intervals: a replica that renews on its own would order now
	if n := p.Orders(t); n != 2 {
		t.Fatalf("pebble got %d orders after the renewal, want 2 (one issuance, one renewal)", n)
	}
	obtained := 0
	for _, r := range replicas {
		obtained += r.d.count(`msg="certificate obtained"`)
	}
	if obtained != 2 {
		t.Errorf("%d certificate obtained log lines across the replicas, want 2", obtained)
	}
}

// sameLeaf waits until every replica serves, on DoT and on DoH, a chain
// from pebble whose leaf passes accept (nil: any), checks that it is one
// certificate everywhere, and returns it.
func sameLeaf(t *testing.T, replicas []*replica, roots *x509.CertPool, accept func(*x509.Certificate) bool) *x509.Certificate {
	t.Helper()
	var leaf *x509.Certificate
	for i, r := range replicas {
		for _, a := range []string{r.dot, r.doh} {
			got := pebbletest.WaitIssued(t, 40*time.Second, a, replicaName, roots, accept)
			if leaf == nil {
				leaf = got
			} else if got.SerialNumber.Cmp(leaf.SerialNumber) != 0 {
				t.Fatalf("replica %d (%s) serves serial %x, replica 0 serves %x", i, a, got.SerialNumber, leaf.SerialNumber)
			}
		}
	}
	return leaf
}
