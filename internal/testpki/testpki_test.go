package testpki

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"os"
	"testing"
	"time"
)

// TestHandshake serves a PKI's leaf on loopback and verifies it with a real
// TLS client by name and by IP address, and that the chain is complete.
func TestHandshake(t *testing.T) {
	p := New(t, "dns.test", "127.0.0.1", "::1")
	ln, err := tls.Listen("tcp", "127.0.0.1:0", p.Server)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); io.Copy(io.Discard, c) }()
		}
	}()
	for _, tc := range []struct {
		serverName string
		wantErr    bool
	}{
		{"dns.test", false},
		{"127.0.0.1", false},
		{"other.test", true},
	} {
		t.Run(tc.serverName, func(t *testing.T) {
			c, err := tls.Dial("tcp", ln.Addr().String(), p.Client(tc.serverName))
			if tc.wantErr {
				if err == nil {
					c.Close()
					t.Fatal("handshake for a name the leaf does not cover succeeded")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if n := len(c.ConnectionState().PeerCertificates); n != 2 {
				t.Fatalf("chain of %d certificates, want leaf + intermediate", n)
			}
		})
	}
	pem, err := os.ReadFile(p.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	if pool := x509.NewCertPool(); !pool.AppendCertsFromPEM(pem) {
		t.Fatal("CA file holds no certificate")
	}
}

func TestIssuePEM(t *testing.T) {
	ca := NewCA("root")
	notAfter := time.Now().Add(time.Hour).Truncate(time.Second)
	certPEM, keyPEM := PEM(ca.Issue(Leaf{Names: []string{"a.test"}, Serial: 7, NotAfter: notAfter}))
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	if len(pair.Certificate) != 2 {
		t.Fatalf("chain of %d, want leaf + root", len(pair.Certificate))
	}
	leaf := pair.Leaf
	if leaf.SerialNumber.Int64() != 7 || !leaf.NotAfter.Equal(notAfter) {
		t.Fatalf("serial %v, not after %v", leaf.SerialNumber, leaf.NotAfter)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: "a.test", Roots: ca.Pool}); err != nil {
		t.Fatal(err)
	}
	other := NewCA("other root")
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: "a.test", Roots: other.Pool}); err == nil {
		t.Fatal("leaf verified against another root")
	}
}
