// Package testpki builds throw-away certificate authorities and server
// certificates for tests: a root CA, optionally an intermediate, leaves for
// DNS names and IP addresses, PEM encodings, a *x509.CertPool and
// *tls.Config values. Failures of the crypto primitives panic: they do not
// happen with the fixed templates used here.
package testpki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"sync/atomic"
	"time"
)

// CA issues certificates. Its leaves are signed by the issuer: the root, or
// the intermediate made by Intermediate.
type CA struct {
	Root *x509.Certificate
	Pool *x509.CertPool // trusts Root only

	issuer    *x509.Certificate
	issuerKey crypto.Signer
}

// NewCA returns a root CA named name, valid from an hour ago for a day.
func NewCA(name string) *CA {
	key, root := sign(&x509.Certificate{
		SerialNumber: nextSerial(), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}, nil, nil)
	pool := x509.NewCertPool()
	pool.AddCert(root)
	return &CA{Root: root, Pool: pool, issuer: root, issuerKey: key}
}

// Intermediate returns a CA with the same root whose leaves are signed by a
// new intermediate named name, so servers must send the full chain.
func (ca *CA) Intermediate(name string) *CA {
	key, inter := sign(&x509.Certificate{
		SerialNumber: nextSerial(), Subject: pkix.Name{CommonName: name},
		NotBefore: ca.Root.NotBefore, NotAfter: ca.Root.NotAfter,
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}, ca.issuer, ca.issuerKey)
	return &CA{Root: ca.Root, Pool: ca.Pool, issuer: inter, issuerKey: key}
}

// Leaf describes a server certificate to issue.
type Leaf struct {
	Names    []string  // DNS names and IP literals; the first is the common name
	Serial   int64     // 0: the next of a process-wide counter
	NotAfter time.Time // zero: the CA's own expiry
}

// Issue returns a server certificate for l, its chain the leaf then the
// issuer (the intermediate, or the root when there is none).
func (ca *CA) Issue(l Leaf) tls.Certificate {
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(l.Serial), Subject: pkix.Name{CommonName: l.Names[0]},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: l.NotAfter,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if l.Serial == 0 {
		tmpl.SerialNumber = nextSerial()
	}
	if l.NotAfter.IsZero() {
		tmpl.NotAfter = ca.Root.NotAfter
	}
	for _, n := range l.Names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	key, leaf := sign(tmpl, ca.issuer, ca.issuerKey)
	return tls.Certificate{Certificate: [][]byte{leaf.Raw, ca.issuer.Raw}, PrivateKey: key, Leaf: leaf}
}

// RootPEM returns the root certificate in PEM.
func (ca *CA) RootPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Root.Raw})
}

// PEM encodes c's chain and its private key (PKCS #8) in PEM.
func PEM(c tls.Certificate) (certPEM, keyPEM []byte) {
	for _, der := range c.Certificate {
		certPEM = append(certPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
	if err != nil {
		panic("testpki: " + err.Error())
	}
	return certPEM, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
}

var serial atomic.Int64

func nextSerial() *big.Int { return big.NewInt(1000 + serial.Add(1)) }

// sign creates a certificate from tmpl with a new P-256 key, signed by
// parent and parentKey (self-signed when parent is nil).
func sign(tmpl, parent *x509.Certificate, parentKey crypto.Signer) (*ecdsa.PrivateKey, *x509.Certificate) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic("testpki: " + err.Error())
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		panic("testpki: " + err.Error())
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		panic("testpki: " + err.Error())
	}
	return key, cert
}
