package certs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Lifetimes of the local CA and its leaf. The leaf is re-issued once less
// than a third of its lifetime remains.
const (
	localCALifetime   = 10 * 365 * 24 * time.Hour
	localLeafLifetime = 90 * 24 * time.Hour
	localCAMinLeft    = 30 * 24 * time.Hour
)

// localCA is a self-signed ECDSA P-256 CA kept in a directory, and the leaf
// it issued for the configured names. It serves self_signed mode and the
// fallback of acme mode.
type localCA struct {
	dir      string
	dnsNames []string // DNS names on the leaf
	ips      []net.IP
	log      *slog.Logger

	mu     sync.Mutex // serialises ensureLeaf
	caCert *x509.Certificate
	caKey  crypto.Signer
	cur    atomic.Pointer[tls.Certificate]
}

// File names inside the local CA's directory.
const (
	caCertName   = "ca.pem"
	caKeyName    = "ca.key"
	leafCertName = "leaf.pem"
	leafKeyName  = "leaf.key"
)

// openLocalCA loads (or creates) the CA in dir and makes sure a current leaf
// for names, localhost, 127.0.0.1 and ::1 exists.
func openLocalCA(dir string, names []string, log *slog.Logger) (*localCA, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	l := &localCA{
		dir:      dir,
		dnsNames: appendUnique(slices.Clone(names), "localhost"),
		ips:      []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		log:      log,
	}
	if err := l.loadOrCreateCA(time.Now()); err != nil {
		return nil, err
	}
	if err := l.ensureLeaf(time.Now()); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *localCA) path(name string) string { return filepath.Join(l.dir, name) }

// caFile is the path of the CA certificate clients should trust.
func (l *localCA) caFile() string { return l.path(caCertName) }

func (l *localCA) loadOrCreateCA(now time.Time) error {
	pair, err := readPair(l.path(caCertName), l.path(caKeyName))
	switch {
	case err == nil && pair.Leaf.IsCA && pair.Leaf.NotAfter.Sub(now) > localCAMinLeft:
		l.caCert, l.caKey = pair.Leaf, pair.PrivateKey.(crypto.Signer)
		return nil
	case err == nil:
		l.log.Warn("local CA is expiring or unusable; creating a new one, clients must trust the new CA file",
			"ca_file", l.caFile(), "not_after", pair.Leaf.NotAfter)
	case !errors.Is(err, fs.ErrNotExist):
		l.log.Warn("local CA unreadable; creating a new one, clients must trust the new CA file",
			"ca_file", l.caFile(), "error", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: "dnsward local CA", Organization: []string{"dnsward"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(localCALifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := sign(tmpl, tmpl, key.Public(), key)
	if err != nil {
		return err
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		return err
	}
	if err := l.write(caCertName, caKeyName, [][]byte{der}, key); err != nil {
		return err
	}
	l.caCert, l.caKey = ca, key
	l.log.Info("created local CA", "ca_file", l.caFile())
	return nil
}

// ensureLeaf keeps the current leaf if it was issued by the CA, covers every
// name and has more than a third of its lifetime left; otherwise it issues a
// new one.
func (l *localCA) ensureLeaf(now time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	cur := l.cur.Load()
	if cur == nil {
		if pair, err := readPair(l.path(leafCertName), l.path(leafKeyName)); err == nil {
			cur = pair
		}
	}
	if cur != nil && l.usable(cur.Leaf, now) {
		l.cur.Store(cur)
		return nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: l.dnsNames[0]},
		DNSNames:    l.dnsNames,
		IPAddresses: l.ips,
		NotBefore:   now.Add(-time.Hour),
		NotAfter:    now.Add(localLeafLifetime),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := sign(tmpl, l.caCert, key.Public(), l.caKey)
	if err != nil {
		return err
	}
	chain := [][]byte{der, l.caCert.Raw}
	if err := l.write(leafCertName, leafKeyName, chain, key); err != nil {
		return err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return err
	}
	l.cur.Store(&tls.Certificate{Certificate: chain, PrivateKey: key, Leaf: leaf})
	l.log.Info("issued local certificate", "names", l.dnsNames, "not_after", leaf.NotAfter, "ca_file", l.caFile())
	return nil
}

// usable reports whether leaf may keep being served.
func (l *localCA) usable(leaf *x509.Certificate, now time.Time) bool {
	if leaf.CheckSignatureFrom(l.caCert) != nil {
		return false
	}
	for _, n := range l.dnsNames {
		if !slices.Contains(leaf.DNSNames, n) {
			return false
		}
	}
	for _, ip := range l.ips {
		if !slices.ContainsFunc(leaf.IPAddresses, ip.Equal) {
			return false
		}
	}
	left := leaf.NotAfter.Sub(now)
	return left > leaf.NotAfter.Sub(leaf.NotBefore)/3
}

// write stores a chain and its key as PEM files (key mode 0600).
func (l *localCA) write(certName, keyName string, chain [][]byte, key *ecdsa.PrivateKey) error {
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	var certPEM []byte
	for _, der := range chain {
		certPEM = append(certPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	if err := writeFileAtomic(l.path(keyName), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return err
	}
	return writeFileAtomic(l.path(certName), certPEM, 0o644)
}

// sign creates a certificate with a random 128-bit serial number.
func sign(tmpl, parent *x509.Certificate, pub crypto.PublicKey, priv crypto.Signer) ([]byte, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, err
	}
	tmpl.SerialNumber = serial
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, priv)
	if err != nil {
		return nil, fmt.Errorf("signing certificate: %w", err)
	}
	return der, nil
}

// certificate serves the current leaf for every handshake.
func (l *localCA) certificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return l.cur.Load(), nil
}

func appendUnique(s []string, v string) []string {
	if slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}

// leaf returns the served leaf.
func (l *localCA) leaf(string) *x509.Certificate { return l.cur.Load().Leaf }

// check re-issues the leaf when it gets close to expiry.
func (l *localCA) check(r *reporter) { _ = l.reload(r) }

// reload re-issues the leaf if it is no longer usable.
func (l *localCA) reload(r *reporter) error {
	err := l.ensureLeaf(time.Now())
	if err != nil {
		r.fail(l.dnsNames[0], "re-issuing the local certificate failed; keeping the current one", err)
	}
	return err
}
