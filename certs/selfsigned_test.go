package certs

import (
	"bytes"
	"os"
	"slices"
	"testing"

	"github.com/dnsward/dnsward/internal/metricstest"
)

func TestSelfSignedVerifiesAndIsReusedAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{Mode: ModeSelfSigned, ServerName: "dns.example.test", Hosts: []string{"ads.example.test"}, DataDir: dir}
	m, _, reg := newTestManager(t, cfg)
	if m.CAFile() == "" {
		t.Fatal("CAFile is empty in self_signed mode")
	}
	caPEM, err := os.ReadFile(m.CAFile())
	if err != nil {
		t.Fatal(err)
	}
	addr := serveEcho(t, m.TLSConfig(ALPNDoT))
	roots := poolFromFile(t, m.CAFile())

	for _, name := range []string{"dns.example.test", "ads.example.test", "localhost", "127.0.0.1", "::1"} {
		st, err := handshake(addr, name, roots, ALPNDoT)
		if err != nil {
			t.Fatalf("client trusting CAFile, server name %q: %v", name, err)
		}
		if len(st.PeerCertificates) != 2 {
			t.Errorf("%s: chain of %d certificates, want leaf + CA", name, len(st.PeerCertificates))
		}
	}
	if _, err := handshake(addr, "dns.example.test", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := handshake(addr, "other.example.test", roots); err == nil {
		t.Error("a name not on the certificate verified")
	}
	if v, ok := metricstest.Lookup(t, reg, "dnsward_cert_expiry_seconds", "name", "dns.example.test"); !ok || v < 80*24*3600 {
		t.Errorf("expiry metric = %v (present %v); want about 90 days", v, ok)
	}
	first, _ := handshake(addr, "dns.example.test", roots)
	m.Close()

	// Restart with the same names: same CA, same leaf.
	m2, _, _ := newTestManager(t, cfg)
	again, _ := os.ReadFile(m2.CAFile())
	if !bytes.Equal(caPEM, again) {
		t.Fatal("CA changed across a restart")
	}
	st, err := handshake(serveEcho(t, m2.TLSConfig()), "dns.example.test", roots)
	if err != nil {
		t.Fatal(err)
	}
	if st.PeerCertificates[0].SerialNumber.Cmp(first.PeerCertificates[0].SerialNumber) != 0 {
		t.Error("leaf re-issued although names and validity were unchanged")
	}
	m2.Close()

	// Restart with a new host: same CA, a new leaf carrying the host.
	cfg.Hosts = append(cfg.Hosts, "kids.example.test")
	m3, _, _ := newTestManager(t, cfg)
	again, _ = os.ReadFile(m3.CAFile())
	if !bytes.Equal(caPEM, again) {
		t.Fatal("CA changed when the names changed")
	}
	st, err = handshake(serveEcho(t, m3.TLSConfig()), "kids.example.test", roots)
	if err != nil {
		t.Fatalf("new host after restart: %v", err)
	}
	if !slices.Contains(st.PeerCertificates[0].DNSNames, "kids.example.test") {
		t.Error("leaf lacks the new host")
	}
}

func TestSelfSignedKeyFilesArePrivate(t *testing.T) {
	m, logs, _ := newTestManager(t, Config{DataDir: t.TempDir()})
	for _, name := range []string{caKeyName, leafKeyName} {
		fi, err := os.Stat(m.local.path(name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", name, fi.Mode().Perm())
		}
		key, _ := os.ReadFile(m.local.path(name))
		if bytes.Contains([]byte(logs.String()), key[30:60]) || bytes.Contains([]byte(logs.String()), []byte("PRIVATE KEY")) {
			t.Errorf("log contains private key material of %s", name)
		}
	}
	if !bytes.Contains([]byte(logs.String()), []byte(m.CAFile())) {
		t.Error("CA file path not printed at start")
	}
}
