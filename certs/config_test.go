package certs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dnsward/dnsward/internal/testpki"
)

func TestConfigErrorsNameTheKey(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "root.txt")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	acme := func(a ACMEConfig) Config {
		return Config{Mode: ModeACME, ServerName: "dns.example.test", DataDir: dir, ACME: a}
	}
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"unknown mode", Config{Mode: "letsencrypt", DataDir: dir}, "tls.mode: "},
		{"server name with space", Config{ServerName: "dns example.org", DataDir: dir}, "server_name: "},
		{"server name IP", Config{ServerName: "192.0.2.1", DataDir: dir}, "server_name: "},
		{"server name wildcard", Config{ServerName: "*.example.org", DataDir: dir}, "server_name: "},
		{"server name long label", Config{ServerName: strings.Repeat("a", 64) + ".org", DataDir: dir}, "server_name: "},
		{"server name leading hyphen", Config{ServerName: "-a.org", DataDir: dir}, "server_name: "},
		{"bad host", Config{Hosts: []string{"a..b"}, DataDir: dir}, "profiles.hosts: "},
		{"no data dir", Config{}, "data_dir: required"},
		{"data dir is a file", Config{DataDir: notPEM}, "data_dir: "},
		{"files without cert", Config{Mode: ModeFiles, KeyFile: "k"}, "tls.cert_file: required"},
		{"files without key", Config{Mode: ModeFiles, CertFile: "c"}, "tls.key_file: required"},
		{"acme without server name", Config{Mode: ModeACME, DataDir: dir}, "server_name: required"},
		{"acme bad email", acme(ACMEConfig{Email: "not an email"}), "tls.acme.email: "},
		{"acme http CA", acme(ACMEConfig{CA: "http://ca.example/dir"}), "tls.acme.ca: "},
		{"acme CA root missing", acme(ACMEConfig{CARoot: filepath.Join(dir, "none.pem")}), "tls.acme.ca_root: open "},
		{"acme CA root not PEM", acme(ACMEConfig{CARoot: notPEM}), "tls.acme.ca_root: "},
		{"acme unknown challenge", acme(ACMEConfig{Challenges: []string{"dns-01"}}), "tls.acme.challenges: "},
		{"acme bad port", acme(ACMEConfig{HTTPPort: 70000}), "tls.acme.http_port: "},
		{"acme bad ratio", acme(ACMEConfig{RenewalWindowRatio: 1}), "tls.acme.renewal_window_ratio: "},
		{"negative interval", Config{DataDir: dir, CheckInterval: -1}, "tls.check_interval: "},
		{"bad https port", Config{DataDir: dir, HTTPSPort: -1}, "tls.https_port: "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := New(tc.cfg)
			if err == nil {
				m.Close()
				t.Fatalf("no error, want one containing %q", tc.want)
			}
			if !strings.HasPrefix(err.Error(), "certs: "+tc.want) {
				t.Fatalf("error %q, want prefix %q", err, "certs: "+tc.want)
			}
		})
	}
}

func TestNormalizeHostname(t *testing.T) {
	tests := []struct{ in, want string }{
		{"DNS.Example.ORG.", "dns.example.org"},
		{"a-b.c1", "a-b.c1"},
		{"xn--bcher-kva.example", "xn--bcher-kva.example"},
		{"localhost", "localhost"},
	}
	for _, tc := range tests {
		got, err := normalizeHostname(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("normalizeHostname(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func FuzzNormalizeHostname(f *testing.F) {
	for _, s := range []string{"dns.example.org", "", ".", "a..b", "1.2.3.4", "*.x", "é.example"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := normalizeHostname(s)
		if err != nil {
			return
		}
		again, err := normalizeHostname(n)
		if err != nil || again != n {
			t.Fatalf("normalised %q to %q, which normalises to %q, %v", s, n, again, err)
		}
		if len(n) > 253 || strings.ContainsAny(n, "*_ ") {
			t.Fatalf("accepted %q", n)
		}
	})
}

func FuzzParsePair(f *testing.F) {
	ca := testpki.NewCA("test root")
	c, k := issuePEM(ca, 1, ca.Root.NotAfter, "dns.example.test")
	f.Add(c, k)
	f.Add(k, c)
	f.Add([]byte("-----BEGIN CERTIFICATE-----\n\n-----END CERTIFICATE-----\n"), []byte{})
	f.Fuzz(func(t *testing.T, certPEM, keyPEM []byte) {
		pair, err := parsePair(certPEM, keyPEM, ca.Root.NotBefore)
		if err != nil {
			if strings.Contains(err.Error(), "PRIVATE KEY-----") {
				t.Fatalf("error leaks key material: %v", err)
			}
			return
		}
		if pair.Leaf == nil || pair.PrivateKey == nil || len(pair.Certificate) == 0 {
			t.Fatalf("accepted an incomplete pair: %+v", pair)
		}
	})
}

func TestSecondManagerOnOneRegistryIsAnError(t *testing.T) {
	m, _, reg := newTestManager(t, Config{DataDir: t.TempDir()})
	defer m.Close()
	_, err := New(Config{DataDir: t.TempDir(), Metrics: reg})
	if err == nil || !strings.HasPrefix(err.Error(), "certs: ") {
		t.Fatalf("second registration: %v, want a certs error", err)
	}
}
