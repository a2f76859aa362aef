package pebbletest

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"testing"
	"time"
)

// IssuedBy handshakes with the TLS server at addr using SNI name ("" for
// none) and reports whether the chain it serves verifies for name against
// roots; it returns the served leaf either way (nil when the handshake
// failed).
func IssuedBy(addr, name string, roots *x509.CertPool) (*x509.Certificate, bool) {
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr,
		&tls.Config{ServerName: name, InsecureSkipVerify: true}) //nolint:gosec // verified below against roots
	if err != nil {
		return nil, false
	}
	defer c.Close()
	chain := c.ConnectionState().PeerCertificates
	if len(chain) == 0 {
		return nil, false
	}
	inter := x509.NewCertPool()
	for _, cert := range chain[1:] {
		inter.AddCert(cert)
	}
	_, err = chain[0].Verify(x509.VerifyOptions{DNSName: name, Roots: roots, Intermediates: inter})
	return chain[0], err == nil
}

// WaitIssued polls addr every 50 ms for up to d until it serves name a chain
// that verifies against roots and whose leaf passes accept (nil accepts any),
// and returns that leaf; the test fails when d passes first.
func WaitIssued(t testing.TB, d time.Duration, addr, name string, roots *x509.CertPool, accept func(*x509.Certificate) bool) *x509.Certificate {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		if leaf, ok := IssuedBy(addr, name, roots); ok && (accept == nil || accept(leaf)) {
			return leaf
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not serve %s an accepted certificate from pebble within %s", addr, name, d)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
