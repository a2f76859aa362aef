package certs

import (
	"fmt"
	"log/slog"
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
	secretFile := filepath.Join(dir, "tsig")
	if err := os.WriteFile(secretFile, []byte("c2VjcmV0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dns01 := func(change func(*DNSConfig)) Config {
		d := DNSConfig{Provider: "rfc2136", Server: "192.0.2.53:53", TSIGKey: "acme-key", TSIGSecretFile: secretFile}
		change(&d)
		return acme(ACMEConfig{Challenges: []string{ChallengeDNS}, DNS: d})
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
		{"wildcard without dns-01", Config{Mode: ModeACME, ServerName: "*.example.org", DataDir: dir}, "server_name: wildcard"},
		{"wildcard in the middle", Config{Mode: ModeACME, ServerName: "a.*.example.org", DataDir: dir,
			ACME: dns01(func(*DNSConfig) {}).ACME}, "server_name: "},
		{"dns-01 with another challenge", acme(ACMEConfig{Challenges: []string{ChallengeDNS, ChallengeHTTP}}), "tls.acme.challenges: dns-01 cannot"},
		{"dns without dns-01", acme(ACMEConfig{DNS: DNSConfig{Provider: "rfc2136"}}), "tls.acme.dns: set, but"},
		{"dns-01 without provider", dns01(func(d *DNSConfig) { d.Provider = "" }), "tls.acme.dns.provider: required"},
		{"dns-01 unknown provider", dns01(func(d *DNSConfig) { d.Provider = "route53" }), "tls.acme.dns.provider: "},
		{"dns-01 server without port", dns01(func(d *DNSConfig) { d.Server = "192.0.2.53" }), "tls.acme.dns.server: "},
		{"dns-01 bad key name", dns01(func(d *DNSConfig) { d.TSIGKey = "a..b" }), "tls.acme.dns.tsig_key: "},
		{"dns-01 unknown algorithm", dns01(func(d *DNSConfig) { d.TSIGAlgorithm = "hmac-md5" }), "tls.acme.dns.tsig_algorithm: "},
		{"dns-01 no secret", dns01(func(d *DNSConfig) { d.TSIGSecretFile = "" }), "tls.acme.dns.tsig_secret: required"},
		{"dns-01 two secrets", dns01(func(d *DNSConfig) { d.TSIGSecret = "c2VjcmV0" }), "tls.acme.dns.tsig_secret: give"},
		{"dns-01 secret file missing", dns01(func(d *DNSConfig) { d.TSIGSecretFile = filepath.Join(dir, "none") }), "tls.acme.dns.tsig_secret_file: open "},
		{"dns-01 secret file not base64", dns01(func(d *DNSConfig) { d.TSIGSecretFile = notPEM }), "tls.acme.dns.tsig_secret_file: not a base64"},
		{"dns-01 secret not base64", dns01(func(d *DNSConfig) { d.TSIGSecretFile, d.TSIGSecret = "", "s3cr#t" }), "tls.acme.dns.tsig_secret: not a base64"},
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
		{"acme unknown challenge", acme(ACMEConfig{Challenges: []string{"dns-02"}}), "tls.acme.challenges: "},
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
			if strings.Contains(err.Error(), "s3cr#t") || strings.Contains(err.Error(), "c2VjcmV0") {
				t.Fatalf("error %q shows the TSIG secret", err)
			}
		})
	}
}

// TestWildcardWithDNS01 checks a wildcard server_name is accepted with
// dns-01 (and lower-cased), and that the TSIG secret, read from its file,
// never shows when the configuration is printed or logged.
func TestWildcardWithDNS01(t *testing.T) {
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "tsig")
	const secret = "c2VjcmV0LXRzaWcta2V5"
	if err := os.WriteFile(secretFile, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Config{Mode: ModeACME, ServerName: "*.DNS.example", DataDir: dir, ACME: ACMEConfig{
		Challenges: []string{ChallengeDNS},
		DNS:        DNSConfig{Provider: "rfc2136", Server: "192.0.2.53:53", TSIGKey: "Acme-Key", TSIGSecretFile: secretFile},
	}}.validate()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ServerName != "*.dns.example" || cfg.ACME.DNS.TSIGKey != "acme-key." || cfg.ACME.DNS.TSIGAlgorithm != "hmac-sha256" {
		t.Errorf("normalised to %q, key %q, algorithm %q", cfg.ServerName, cfg.ACME.DNS.TSIGKey, cfg.ACME.DNS.TSIGAlgorithm)
	}
	if string(cfg.ACME.DNS.TSIGSecret) != secret {
		t.Errorf("secret not read from %s", secretFile)
	}
	var logged strings.Builder
	slog.New(slog.NewTextHandler(&logged, nil)).Info("config", "dns", cfg.ACME.DNS, "secret", cfg.ACME.DNS.TSIGSecret)
	for _, out := range []string{fmt.Sprintf("%v %+v %#v %s %q", cfg, cfg, cfg, cfg.ACME.DNS.TSIGSecret, cfg.ACME.DNS.TSIGSecret), logged.String()} {
		if strings.Contains(out, secret) {
			t.Errorf("secret shows in %q", out)
		}
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
