package certs

import (
	"bytes"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Config keys named in pair errors.
const (
	keyCertFile = "tls.cert_file"
	keyKeyFile  = "tls.key_file"
)

// readPair reads and checks a certificate chain file and its key file.
func readPair(certFile, keyFile string) (*tls.Certificate, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", keyCertFile, err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", keyKeyFile, err)
	}
	return parsePair(certPEM, keyPEM, time.Now())
}

// parsePair parses a PEM chain (leaf first) and a PEM private key, checks
// that they belong together and that the leaf is valid at now. Errors name
// the config key at fault and never contain key material.
func parsePair(certPEM, keyPEM []byte, now time.Time) (*tls.Certificate, error) {
	var out tls.Certificate
	for rest := certPEM; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: certificate %d: %w", keyCertFile, len(out.Certificate)+1, err)
		}
		if out.Leaf == nil {
			out.Leaf = c
		}
		out.Certificate = append(out.Certificate, block.Bytes)
	}
	if out.Leaf == nil {
		return nil, fmt.Errorf("%s: no PEM CERTIFICATE block", keyCertFile)
	}
	key, err := parsePrivateKey(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", keyKeyFile, err)
	}
	pub, ok := out.Leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(key.Public()) {
		return nil, fmt.Errorf("%s, %s: the private key does not match the certificate", keyCertFile, keyKeyFile)
	}
	if now.After(out.Leaf.NotAfter) {
		return nil, fmt.Errorf("%s: the certificate expired at %s", keyCertFile, out.Leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	out.PrivateKey = key
	return &out, nil
}

// parsePrivateKey reads the first PEM private key block (PKCS#8, SEC 1 or
// PKCS#1).
func parsePrivateKey(keyPEM []byte) (crypto.Signer, error) {
	for rest := keyPEM; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, errors.New("no PEM PRIVATE KEY block")
		}
		if !strings.HasSuffix(block.Type, "PRIVATE KEY") {
			continue
		}
		var key any
		var err error
		switch block.Type {
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(block.Bytes)
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		default:
			key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		}
		if err != nil {
			return nil, fmt.Errorf("parsing %s: %w", block.Type, err)
		}
		signer, ok := key.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("unsupported private key type %T", key)
		}
		return signer, nil
	}
}

// leafOnly reports whether a chain is a single certificate that is not
// self-signed, i.e. its intermediates are missing.
func leafOnly(c *tls.Certificate) bool {
	return len(c.Certificate) == 1 && !bytes.Equal(c.Leaf.RawIssuer, c.Leaf.RawSubject)
}

// writeFileAtomic writes data to path through a temporary file and a rename,
// so readers never see a partial file.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
