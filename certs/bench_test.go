package certs

import (
	"crypto/tls"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/dnsward/dnsward/internal/testpki"
)

// BenchmarkHandshake compares a full TLS 1.3 handshake through the Manager's
// GetCertificate with a baseline tls.Config holding the same certificate in
// Certificates.
func BenchmarkHandshake(b *testing.B) {
	dir := b.TempDir()
	ca := testpki.NewCA("test root")
	certPEM, keyPEM := issuePEM(ca, 1, time.Now().Add(time.Hour), "dns.example.test")
	certFile, keyFile := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	os.WriteFile(certFile, certPEM, 0o600)
	os.WriteFile(keyFile, keyPEM, 0o600)
	m, err := New(Config{Mode: ModeFiles, CertFile: certFile, KeyFile: keyFile, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	pair, _ := tls.X509KeyPair(certPEM, keyPEM)
	configs := map[string]*tls.Config{
		"baseline-static": {Certificates: []tls.Certificate{pair}, NextProtos: []string{ALPNDoT}},
		"manager":         m.TLSConfig(ALPNDoT),
	}
	for _, name := range []string{"baseline-static", "manager"} {
		srvCfg := configs[name]
		b.Run(name, func(b *testing.B) {
			cliCfg := &tls.Config{ServerName: "dns.example.test", RootCAs: ca.Pool, NextProtos: []string{ALPNDoT}}
			for b.Loop() {
				c, s := net.Pipe()
				done := make(chan error, 1)
				go func() { done <- tls.Server(s, srvCfg).Handshake() }()
				if err := tls.Client(c, cliCfg).Handshake(); err != nil {
					b.Fatal(err)
				}
				if err := <-done; err != nil {
					b.Fatal(err)
				}
				c.Close()
				s.Close()
			}
		})
	}
}

// BenchmarkGetCertificate measures the per-handshake certificate lookup of
// each mode (acme before issuance serves the fallback).
func BenchmarkGetCertificate(b *testing.B) {
	modes := []struct {
		name string
		cfg  Config
	}{
		{"self_signed", Config{ServerName: "dns.example.test", DataDir: b.TempDir()}},
		{"acme-fallback", Config{Mode: ModeACME, ServerName: "dns.example.test", DataDir: b.TempDir(),
			ACME: ACMEConfig{CA: "https://127.0.0.1:1/dir"}}},
	}
	for _, mode := range modes {
		mode.cfg.Logger = slog.New(slog.DiscardHandler)
		m, err := New(mode.cfg)
		if err != nil {
			b.Fatal(err)
		}
		hello := &tls.ClientHelloInfo{ServerName: "dns.example.test", SupportedProtos: []string{ALPNDoT}, Conn: dummyConn{}}
		b.Run(mode.name, func(b *testing.B) {
			for b.Loop() {
				if c, err := m.getCertificate(hello); err != nil || c == nil {
					b.Fatal(err)
				}
			}
		})
		m.Close()
	}
}

// dummyConn gives certmagic the addresses it logs.
type dummyConn struct{ net.Conn }

func (dummyConn) RemoteAddr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1} }
func (dummyConn) LocalAddr() net.Addr  { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 853} }
