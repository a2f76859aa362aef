package certs

import (
	"crypto/x509"
	"fmt"
	"log/slog"
	"net/mail"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/prometheus/client_golang/prometheus"
)

// Mode selects where certificates come from.
type Mode string

// The certificate modes.
const (
	ModeACME       Mode = "acme"        // obtained and renewed from an ACME CA
	ModeFiles      Mode = "files"       // read from cert_file and key_file
	ModeSelfSigned Mode = "self_signed" // issued by a local CA kept in DataDir
)

// The ACME challenge types the Manager can answer.
const (
	ChallengeTLSALPN = "tls-alpn-01"
	ChallengeHTTP    = "http-01"
	ChallengeDNS     = "dns-01" // through tls.acme.dns; the only one that can prove a wildcard name
)

// Config configures a Manager. Field comments name the YAML keys used in
// error messages.
type Config struct {
	Mode       Mode     // tls.mode; "" means self_signed (the embedded default)
	ServerName string   // server_name: the main name on the certificate
	Hosts      []string // profiles' hosts: extra names on the certificate(s)
	DataDir    string   // data_dir: self-signed CA, ACME storage
	ACME       ACMEConfig
	CertFile   string // tls.cert_file: full chain, leaf first (files mode)
	KeyFile    string // tls.key_file (files mode)

	// HTTPSPort is where HTTPHandler redirects browsers (tls.https_port);
	// 0 → tls.acme.tls_alpn_port in acme mode, else 443.
	HTTPSPort int

	// CheckInterval is how often certificates are checked: files polled for
	// changes (default 5 s), the self-signed leaf for expiry (default 1 h),
	// ACME certificates for renewal (default certmagic's 10 min).
	CheckInterval time.Duration

	Logger  *slog.Logger          // nil → slog.Default()
	Metrics prometheus.Registerer // nil → no metrics
}

// ACMEConfig configures acme mode (tls.acme).
type ACMEConfig struct {
	Email       string   // tls.acme.email: account contact, optional
	CA          string   // tls.acme.ca: directory URL; "" → Let's Encrypt production
	CARoot      string   // tls.acme.ca_root: PEM file of extra roots to trust the CA's API
	Challenges  []string // tls.acme.challenges: tls-alpn-01, http-01, or dns-01 alone; empty → the first two
	HTTPPort    int      // tls.acme.http_port: HTTP-01 port; 0 → 80
	TLSALPNPort int      // tls.acme.tls_alpn_port: TLS-ALPN-01 (DoH TCP) port; 0 → 443

	// RenewalWindowRatio is the share of a certificate's lifetime, at its
	// end, in which it is renewed; 0 → certmagic's default (1/3).
	RenewalWindowRatio float64

	DNS DNSConfig // tls.acme.dns: the DNS-01 provider
}

// letsEncrypt is the default ACME directory.
const letsEncrypt = "https://acme-v02.api.letsencrypt.org/directory"

// validate checks cfg, fills defaults and returns the normalised copy. Errors
// name the config key.
func (cfg Config) validate() (Config, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Mode == "" {
		cfg.Mode = ModeSelfSigned
	}
	if cfg.ServerName != "" {
		if err := CheckWildcard(cfg.ServerName, cfg.Mode, cfg.ACME.Challenges); err != nil {
			return cfg, fmt.Errorf("server_name: %w", err)
		}
		base, wildcard := strings.CutPrefix(cfg.ServerName, "*.")
		name, err := normalizeHostname(base)
		if err != nil {
			return cfg, fmt.Errorf("server_name: %w", err)
		}
		if wildcard {
			name = "*." + name
		}
		cfg.ServerName = name
	}
	hosts := make([]string, 0, len(cfg.Hosts))
	for _, h := range cfg.Hosts {
		name, err := normalizeHostname(h)
		if err != nil {
			return cfg, fmt.Errorf("profiles.hosts: %w", err)
		}
		if name != cfg.ServerName && !slices.Contains(hosts, name) {
			hosts = append(hosts, name)
		}
	}
	cfg.Hosts = hosts
	if cfg.CheckInterval < 0 {
		return cfg, fmt.Errorf("tls.check_interval: %s is negative", cfg.CheckInterval)
	}
	if cfg.HTTPSPort < 0 || cfg.HTTPSPort > 65535 {
		return cfg, fmt.Errorf("tls.https_port: %d is not a port", cfg.HTTPSPort)
	}
	needDataDir := true
	switch cfg.Mode {
	case ModeSelfSigned:
		cfg.CheckInterval = orDefault(cfg.CheckInterval, time.Hour)
	case ModeFiles:
		needDataDir = false
		cfg.CheckInterval = orDefault(cfg.CheckInterval, 5*time.Second)
		if cfg.CertFile == "" {
			return cfg, fmt.Errorf("tls.cert_file: required in files mode")
		}
		if cfg.KeyFile == "" {
			return cfg, fmt.Errorf("tls.key_file: required in files mode")
		}
	case ModeACME:
		if cfg.ServerName == "" {
			return cfg, fmt.Errorf("server_name: required in acme mode")
		}
		acme, err := cfg.ACME.Validate()
		if err != nil {
			return cfg, err
		}
		cfg.ACME = acme
		cfg.CheckInterval = orDefault(cfg.CheckInterval, certmagic.DefaultRenewCheckInterval)
		cfg.HTTPSPort = orDefault(cfg.HTTPSPort, acme.TLSALPNPort)
	default:
		return cfg, fmt.Errorf("tls.mode: %q is not one of acme, files, self_signed", cfg.Mode)
	}
	cfg.HTTPSPort = orDefault(cfg.HTTPSPort, 443)
	if needDataDir {
		if cfg.DataDir == "" {
			return cfg, fmt.Errorf("data_dir: required in %s mode", cfg.Mode)
		}
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return cfg, fmt.Errorf("data_dir: %w", err)
		}
	}
	return cfg, nil
}

// KeyError is a configuration error of one key, named as in dnsward's
// configuration file (e.g. "tls.acme.email").
type KeyError struct {
	Key string
	Err error
}

func (e *KeyError) Error() string { return e.Key + ": " + e.Err.Error() }

func (e *KeyError) Unwrap() error { return e.Err }

func keyErrorf(key, format string, args ...any) error {
	return &KeyError{Key: key, Err: fmt.Errorf(format, args...)}
}

// Validate checks the acme settings and returns them with defaults filled
// in; an error is a *KeyError. New calls it; configuration checks
// (dnsward check) call it too, to report the file's line.
func (a ACMEConfig) Validate() (ACMEConfig, error) {
	if a.Email != "" {
		addr, err := mail.ParseAddress(a.Email)
		if err != nil || addr.Address != a.Email {
			return a, keyErrorf("tls.acme.email", "%q is not a plain e-mail address", a.Email)
		}
	}
	if a.CA == "" {
		a.CA = letsEncrypt
	}
	u, err := url.Parse(a.CA)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return a, keyErrorf("tls.acme.ca", "%q is not an https:// directory URL", a.CA)
	}
	if a.CARoot != "" {
		if _, err := LoadRoots(a.CARoot); err != nil {
			return a, &KeyError{Key: "tls.acme.ca_root", Err: err}
		}
	}
	if len(a.Challenges) == 0 {
		a.Challenges = []string{ChallengeTLSALPN, ChallengeHTTP}
	}
	for _, c := range a.Challenges {
		if c != ChallengeTLSALPN && c != ChallengeHTTP && c != ChallengeDNS {
			return a, keyErrorf("tls.acme.challenges", "%q is not one of %s, %s, %s", c, ChallengeTLSALPN, ChallengeHTTP, ChallengeDNS)
		}
	}
	switch {
	case a.uses(ChallengeDNS) && len(a.Challenges) > 1:
		// certmagic solves DNS-01 alone once it has a DNS provider.
		return a, keyErrorf("tls.acme.challenges", "%s cannot be combined with other challenges", ChallengeDNS)
	case a.uses(ChallengeDNS):
		if a.DNS, err = a.DNS.validate(); err != nil {
			return a, err
		}
	case a.DNS.set():
		return a, keyErrorf("tls.acme.dns", "set, but tls.acme.challenges lacks %s", ChallengeDNS)
	}
	for _, p := range []struct {
		key  string
		port *int
		def  int
	}{{"tls.acme.http_port", &a.HTTPPort, 80}, {"tls.acme.tls_alpn_port", &a.TLSALPNPort, 443}} {
		if *p.port < 0 || *p.port > 65535 {
			return a, keyErrorf(p.key, "%d is not a port", *p.port)
		}
		*p.port = orDefault(*p.port, p.def)
	}
	if a.RenewalWindowRatio < 0 || a.RenewalWindowRatio >= 1 {
		return a, keyErrorf("tls.acme.renewal_window_ratio", "%v is not in [0, 1)", a.RenewalWindowRatio)
	}
	return a, nil
}

// CheckWildcard rejects a wildcard name ("*.dns.example") unless the
// certificates come from ACME with the dns-01 challenge alone, the only one
// CAs (Let's Encrypt, the CA/B Forum rules) accept for a wildcard; other
// names pass.
func CheckWildcard(name string, mode Mode, challenges []string) error {
	if !strings.HasPrefix(name, "*.") || (mode == ModeACME && slices.Equal(challenges, []string{ChallengeDNS})) {
		return nil
	}
	return fmt.Errorf("wildcard %q needs tls.mode acme with tls.acme.challenges: [%s]", name, ChallengeDNS)
}

// uses reports whether challenge c is enabled.
func (a ACMEConfig) uses(c string) bool { return slices.Contains(a.Challenges, c) }

// names returns every DNS name the certificates must carry, server_name first.
func (cfg Config) names() []string {
	var names []string
	if cfg.ServerName != "" {
		names = append(names, cfg.ServerName)
	}
	return append(names, cfg.Hosts...)
}

// LoadRoots reads a PEM file of CA certificates into a pool; a file with
// none is an error.
func LoadRoots(path string) (*x509.CertPool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("%s: no PEM certificate found", path)
	}
	return pool, nil
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// normalizeHostname lower-cases name, drops a trailing dot and checks it is a
// valid DNS host name (LDH labels of 1–63 bytes, 253 bytes in all, not all
// digits in the last label so that IP addresses are rejected).
func normalizeHostname(name string) (string, error) {
	n := strings.TrimSuffix(strings.ToLower(name), ".")
	if n == "" || len(n) > 253 {
		return "", fmt.Errorf("%q is not a valid host name: length", name)
	}
	labels := strings.Split(n, ".")
	for _, l := range labels {
		if len(l) == 0 || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return "", fmt.Errorf("%q is not a valid host name: label %q", name, l)
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
				return "", fmt.Errorf("%q is not a valid host name: character %q", name, c)
			}
		}
	}
	if strings.Trim(labels[len(labels)-1], "0123456789") == "" {
		return "", fmt.Errorf("%q is not a valid host name: numeric top-level label", name)
	}
	return n, nil
}
