// Package framingtest provides the real parts the DoT, DoQ and load generator
// tests share: a CA with an intermediate and leaf certificates, an upstream DNS
// server on loopback and a handler that forwards to it per profile.
package framingtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// PKI is a root CA, an intermediate and one leaf for the given hosts.
type PKI struct {
	Server *tls.Config    // serves leaf + intermediate (the full chain)
	Pool   *x509.CertPool // trusts the root only
	CAFile string         // the root in PEM, for kdig +tls-ca / curl --cacert
}

// NewPKI builds a PKI whose leaf is valid for hosts and 127.0.0.1, 127.0.0.2, ::1.
func NewPKI(t testing.TB, hosts ...string) *PKI {
	t.Helper()
	rootKey, root := newCert(t, &x509.Certificate{
		Subject: pkix.Name{CommonName: "dnsward test root"}, IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true,
	}, nil, nil)
	interKey, inter := newCert(t, &x509.Certificate{
		Subject: pkix.Name{CommonName: "dnsward test intermediate"}, IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true,
	}, root, rootKey)
	leafKey, leaf := newCert(t, &x509.Certificate{
		Subject:     pkix.Name{CommonName: hosts[0]},
		DNSNames:    hosts,
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv4(127, 0, 0, 2), net.IPv6loopback},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, inter, interKey)
	pool := x509.NewCertPool()
	pool.AddCert(root)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: root.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return &PKI{
		Server: &tls.Config{Certificates: []tls.Certificate{{
			Certificate: [][]byte{leaf.Raw, inter.Raw},
			PrivateKey:  leafKey,
			Leaf:        leaf,
		}}},
		Pool:   pool,
		CAFile: caFile,
	}
}

// Client returns a client TLS config for serverName trusting the root.
func (p *PKI) Client(serverName string, alpn ...string) *tls.Config {
	return &tls.Config{RootCAs: p.Pool, ServerName: serverName, NextProtos: alpn}
}

var serial int64

func newCert(t testing.TB, tmpl, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*ecdsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial++
	tmpl.SerialNumber = big.NewInt(serial)
	tmpl.NotBefore = time.Now().Add(-time.Hour)
	tmpl.NotAfter = time.Now().Add(24 * time.Hour)
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return key, cert
}
