package certs

import (
	"encoding/base64"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/miekg/dns"
)

// ProviderRFC2136 is the DNS-01 provider that changes the zone by dynamic
// update (RFC 2136) signed with TSIG (RFC 8945).
const ProviderRFC2136 = "rfc2136"

// DNSConfig configures the DNS-01 provider (tls.acme.dns).
type DNSConfig struct {
	Provider       string // tls.acme.dns.provider: rfc2136
	Server         string // tls.acme.dns.server: host:port of the primary that accepts updates
	TSIGKey        string // tls.acme.dns.tsig_key: the TSIG key's name
	TSIGSecret     Secret // tls.acme.dns.tsig_secret: base64; filled from TSIGSecretFile by Validate
	TSIGSecretFile string // tls.acme.dns.tsig_secret_file: a file holding the base64 secret alone
	TSIGAlgorithm  string // tls.acme.dns.tsig_algorithm: one of tsigAlgorithms; "" → hmac-sha256
}

// Secret is a credential: it prints and logs as "[redacted]", so a
// configuration printed with %v or passed to slog does not leak it.
type Secret string

// String hides the secret from fmt's %v, %s and %q.
func (Secret) String() string { return "[redacted]" }

// GoString hides the secret from fmt's %#v.
func (Secret) GoString() string { return "[redacted]" }

// LogValue hides the secret from log/slog.
func (Secret) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// tsigAlgorithms maps tls.acme.dns.tsig_algorithm to miekg/dns's names.
var tsigAlgorithms = map[string]string{
	"hmac-sha1":   dns.HmacSHA1,
	"hmac-sha224": dns.HmacSHA224,
	"hmac-sha256": dns.HmacSHA256,
	"hmac-sha384": dns.HmacSHA384,
	"hmac-sha512": dns.HmacSHA512,
}

// set reports whether any tls.acme.dns key is given.
func (d DNSConfig) set() bool { return d != DNSConfig{} }

// validate checks the provider settings for dns-01 and returns them with the
// secret read from its file, the key name fully qualified and the algorithm
// defaulted. Errors are *KeyError and never contain the secret.
func (d DNSConfig) validate() (DNSConfig, error) {
	if d.Provider == "" {
		return d, keyErrorf("tls.acme.dns.provider", "required with dns-01 (%s)", ProviderRFC2136)
	}
	if d.Provider != ProviderRFC2136 {
		return d, keyErrorf("tls.acme.dns.provider", "%q is not one of %s", d.Provider, ProviderRFC2136)
	}
	host, port, err := net.SplitHostPort(d.Server)
	if p, perr := strconv.Atoi(port); err != nil || host == "" || perr != nil || p < 1 || p > 65535 {
		return d, keyErrorf("tls.acme.dns.server", "%q is not host:port of the server that accepts updates", d.Server)
	}
	if _, ok := dns.IsDomainName(d.TSIGKey); d.TSIGKey == "" || !ok {
		return d, keyErrorf("tls.acme.dns.tsig_key", "%q is not a TSIG key name", d.TSIGKey)
	}
	d.TSIGKey = dns.Fqdn(strings.ToLower(d.TSIGKey))
	if d.TSIGAlgorithm == "" {
		d.TSIGAlgorithm = "hmac-sha256"
	}
	if _, ok := tsigAlgorithms[d.TSIGAlgorithm]; !ok {
		return d, keyErrorf("tls.acme.dns.tsig_algorithm", "%q is not one of hmac-sha1, hmac-sha224, hmac-sha256, hmac-sha384, hmac-sha512", d.TSIGAlgorithm)
	}
	key := "tls.acme.dns.tsig_secret"
	switch {
	case d.TSIGSecret != "" && d.TSIGSecretFile != "":
		return d, keyErrorf(key, "give tsig_secret or tsig_secret_file, not both")
	case d.TSIGSecretFile != "":
		key = "tls.acme.dns.tsig_secret_file"
		data, err := os.ReadFile(d.TSIGSecretFile)
		if err != nil {
			return d, &KeyError{Key: key, Err: err}
		}
		d.TSIGSecret = Secret(strings.TrimSpace(string(data)))
	case d.TSIGSecret == "":
		return d, keyErrorf(key, "required with dns-01 (or tsig_secret_file)")
	}
	if raw, err := base64.StdEncoding.DecodeString(string(d.TSIGSecret)); err != nil || len(raw) == 0 {
		return d, keyErrorf(key, "not a base64 TSIG secret")
	}
	return d, nil
}
