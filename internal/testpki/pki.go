package testpki

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"
)

// PKI is what most server tests need: a root CA, an intermediate and one
// leaf, a server config sending the full chain, and the root as a pool and
// as a file.
type PKI struct {
	CA     *CA             // issues further leaves through the same intermediate
	Leaf   tls.Certificate // leaf and intermediate
	Server *tls.Config     // serves Leaf
	Pool   *x509.CertPool  // trusts the root only
	CAFile string          // the root in PEM, for kdig +tls-ca / curl --cacert
}

// New builds a PKI whose leaf is valid for names (DNS names and IP
// literals); the CA file lives in a directory removed when t ends.
func New(t testing.TB, names ...string) *PKI {
	t.Helper()
	ca := NewCA("dnsward test root").Intermediate("dnsward test intermediate")
	leaf := ca.Issue(Leaf{Names: names})
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, ca.RootPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	return &PKI{
		CA:     ca,
		Leaf:   leaf,
		Server: &tls.Config{Certificates: []tls.Certificate{leaf}},
		Pool:   ca.Pool,
		CAFile: caFile,
	}
}

// Client returns a client config for serverName and alpn trusting the root.
func (p *PKI) Client(serverName string, alpn ...string) *tls.Config {
	return &tls.Config{RootCAs: p.Pool, ServerName: serverName, NextProtos: alpn}
}
