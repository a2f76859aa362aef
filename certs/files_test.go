package certs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dnsward/dnsward/internal/metricstest"
	"github.com/dnsward/dnsward/internal/testpki"
)

func TestFilesReplacedOnDiskAreServedWithoutRestart(t *testing.T) {
	dir := t.TempDir()
	ca := testpki.NewCA("test root")
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	c1, k1 := issuePEM(ca, 1, time.Now().Add(time.Hour), "dns.example.test")
	writeFile(t, certFile, c1)
	writeFile(t, keyFile, k1)

	m, logs, reg := newTestManager(t, Config{Mode: ModeFiles, ServerName: "dns.example.test",
		CertFile: certFile, KeyFile: keyFile, CheckInterval: 50 * time.Millisecond})
	addr := serveEcho(t, m.TLSConfig(ALPNHTTP2, ALPNHTTP11))
	if err := m.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	serial := func() int64 {
		st, err := handshake(addr, "dns.example.test", ca.Pool)
		if err != nil {
			t.Fatalf("handshake: %v", err)
		}
		if len(st.PeerCertificates) != 2 {
			t.Fatalf("chain of %d certificates, want the full chain of 2", len(st.PeerCertificates))
		}
		return st.PeerCertificates[0].SerialNumber.Int64()
	}
	if got := serial(); got != 1 {
		t.Fatalf("serial %d, want 1", got)
	}

	c2, k2 := issuePEM(ca, 2, time.Now().Add(time.Hour), "dns.example.test")
	writeFile(t, keyFile, k2)
	writeFile(t, certFile, c2)
	waitFor(t, 5*time.Second, "the replaced certificate", func() bool { return serial() == 2 })

	// A mismatched pair (new cert, old key) keeps serving serial 2.
	c3, _ := issuePEM(ca, 3, time.Now().Add(time.Hour), "dns.example.test")
	writeFile(t, certFile, c3)
	waitFor(t, 5*time.Second, "the reload error", func() bool {
		return metricstest.Value(t, reg, "dnsward_cert_errors_total", "name", "dns.example.test") >= 1
	})
	if got := serial(); got != 2 {
		t.Fatalf("serial %d after a bad pair, want the old 2", got)
	}
	if !strings.Contains(logs.String(), "does not match") {
		t.Error("log does not say why the pair was refused")
	}
	err := m.Reload()
	if err == nil || !strings.Contains(err.Error(), "tls.cert_file, tls.key_file") {
		t.Fatalf("Reload of a mismatched pair: %v", err)
	}

	// A good pair again: Reload (the SIGHUP path) serves it at once.
	c4, k4 := issuePEM(ca, 4, time.Now().Add(time.Hour), "dns.example.test")
	writeFile(t, keyFile, k4)
	writeFile(t, certFile, c4)
	if err := m.Reload(); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	if got := serial(); got != 4 {
		t.Fatalf("serial %d after Reload, want 4", got)
	}
	if strings.Contains(logs.String(), "PRIVATE KEY") {
		t.Error("log contains private key material")
	}
}

func TestFilesBadPairErrorsNameTheKey(t *testing.T) {
	dir := t.TempDir()
	ca := testpki.NewCA("test root")
	good, goodKey := issuePEM(ca, 1, time.Now().Add(time.Hour), "dns.example.test")
	_, otherKey := issuePEM(ca, 2, time.Now().Add(time.Hour), "dns.example.test")
	expired, expiredKey := issuePEM(ca, 3, time.Now().Add(-time.Minute), "dns.example.test")
	file := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	unreadable := file("unreadable.pem", good)
	if err := os.Chmod(unreadable, 0); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, cert, key, want string
	}{
		{"missing cert", filepath.Join(dir, "nope.pem"), file("k1", goodKey), "tls.cert_file: open "},
		{"missing key", file("c1", good), filepath.Join(dir, "nope.key"), "tls.key_file: open "},
		{"mismatched", file("c2", good), file("k2", otherKey), "tls.cert_file, tls.key_file: the private key does not match"},
		{"key is a cert", file("c3", good), file("k3", good), "tls.key_file: no PEM PRIVATE KEY block"},
		{"cert is a key", file("c4", goodKey), file("k4", goodKey), "tls.cert_file: no PEM CERTIFICATE block"},
		{"expired", file("c5", expired), file("k5", expiredKey), "tls.cert_file: the certificate expired"},
		{"garbage cert", file("c6", []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")), file("k6", goodKey), "tls.cert_file: certificate 1:"},
	}
	if os.Geteuid() != 0 { // root reads mode-0 files
		tests = append(tests, struct{ name, cert, key, want string }{"unreadable", unreadable, file("k7", goodKey), "permission denied"})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(Config{Mode: ModeFiles, CertFile: tc.cert, KeyFile: tc.key})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "certs: ") || strings.Contains(err.Error(), "PRIVATE KEY-----") {
				t.Errorf("error %q: want the component prefix and no key material", err)
			}
		})
	}
}
