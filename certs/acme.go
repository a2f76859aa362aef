package certs

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"

	"github.com/caddyserver/certmagic"
	"github.com/mholt/acmez/v3"
	"go.uber.org/zap"
)

// acmeSource manages certificates through certmagic and falls back to the
// local CA's certificate until the first one is issued.
type acmeSource struct {
	magic    *certmagic.Config
	cache    *certmagic.Cache
	issuer   *certmagic.ACMEIssuer
	fallback *localCA
	names    []string
	report   *reporter
	ca       string
}

// newACME builds the certmagic cache, config and issuer; nothing talks to the
// CA before start.
func newACME(cfg Config, fallback *localCA, r *reporter) (*acmeSource, error) {
	a := &acmeSource{fallback: fallback, names: cfg.names(), report: r, ca: cfg.ACME.CA}
	var roots *x509.CertPool
	if cfg.ACME.CARoot != "" {
		var err error
		if roots, err = LoadRoots(cfg.ACME.CARoot); err != nil {
			return nil, fmt.Errorf("tls.acme.ca_root: %w", err)
		}
	}
	zl := newZapLogger(cfg.Logger.Handler().WithAttrs([]slog.Attr{slog.String("part", "certmagic")}))
	a.cache = certmagic.NewCache(certmagic.CacheOptions{
		GetConfigForCert:   func(certmagic.Certificate) (*certmagic.Config, error) { return a.magic, nil },
		RenewCheckInterval: cfg.CheckInterval,
		Logger:             zl,
	})
	a.magic = certmagic.New(a.cache, certmagic.Config{
		RenewalWindowRatio: cfg.ACME.RenewalWindowRatio,
		OnEvent:            a.onEvent,
		DefaultServerName:  cfg.ServerName,
		FallbackServerName: cfg.ServerName,
		KeySource:          certmagic.StandardKeyGenerator{KeyType: certmagic.P256},
		OCSP:               certmagic.OCSPConfig{DisableStapling: true},
		Storage:            &certmagic.FileStorage{Path: filepath.Join(cfg.DataDir, "certmagic")},
		Logger:             zl,
	})
	a.issuer = certmagic.NewACMEIssuer(a.magic, certmagic.ACMEIssuer{
		CA:                      cfg.ACME.CA,
		Email:                   cfg.ACME.Email,
		Agreed:                  true,
		TrustedRoots:            roots,
		DisableHTTPChallenge:    !cfg.ACME.uses(ChallengeHTTP),
		DisableTLSALPNChallenge: !cfg.ACME.uses(ChallengeTLSALPN),
		AltHTTPPort:             cfg.ACME.HTTPPort,
		AltTLSALPNPort:          cfg.ACME.TLSALPNPort,
		Logger:                  zl,
	})
	if cfg.ACME.uses(ChallengeDNS) {
		a.issuer.DNS01Solver = dns01Solver(cfg.ACME.DNS, zl)
	}
	a.magic.Issuers = []certmagic.Issuer{a.issuer}
	return a, nil
}

// dns01Solver solves DNS-01 through the rfc2136 provider. The zone is found,
// and the record's propagation checked, by asking the same server (never the
// system's resolvers); it is the primary, so the record is there once the
// update succeeds.
func dns01Solver(d DNSConfig, log *zap.Logger) *certmagic.DNS01Solver {
	return &certmagic.DNS01Solver{DNSManager: certmagic.DNSManager{
		DNSProvider: newRFC2136(d),
		Resolvers:   []string{d.Server},
		Logger:      log,
	}}
}

// start loads certificates from storage or orders them in the background.
func (a *acmeSource) start(ctx context.Context) error {
	return a.magic.ManageAsync(ctx, a.names)
}

// close stops certmagic's maintenance goroutine.
func (a *acmeSource) close() { a.cache.Stop() }

// onEvent turns certmagic's events into log lines and metrics.
func (a *acmeSource) onEvent(_ context.Context, event string, data map[string]any) error {
	name, _ := data["identifier"].(string)
	renewal, _ := data["renewal"].(bool)
	switch event {
	case "cert_failed":
		err, _ := data["error"].(error)
		what := "certificate order failed; serving the self-signed fallback"
		if renewal {
			what = "certificate renewal failed; keeping the current certificate"
		}
		a.report.fail(name, what, fmt.Errorf("CA %s: %w", a.ca, err))
	case "cert_obtained":
		a.report.log.Info("certificate obtained", "name", name, "renewal", renewal, "issuer", data["issuer"])
	}
	return nil
}

// isChallenge reports whether hello is a TLS-ALPN-01 validation (RFC 8737).
func isChallenge(hello *tls.ClientHelloInfo) bool {
	return len(hello.SupportedProtos) == 1 && hello.SupportedProtos[0] == acmez.ACMETLS1Protocol
}

// certificate answers TLS-ALPN-01 validations and serves the issued
// certificate, or the fallback while none exists.
func (a *acmeSource) certificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	cert, err := a.magic.GetCertificate(hello)
	if err == nil {
		return cert, nil
	}
	if isChallenge(hello) {
		return nil, err
	}
	return a.fallback.certificate(hello)
}

// leaf returns the latest issued leaf for name, nil before issuance.
func (a *acmeSource) leaf(name string) *x509.Certificate {
	var best *x509.Certificate
	for _, c := range a.cache.AllMatchingCertificates(name) {
		if c.Leaf != nil && (best == nil || c.Leaf.NotAfter.After(best.NotAfter)) {
			best = c.Leaf
		}
	}
	return best
}

// check keeps the fallback leaf fresh; certmagic renews on its own.
func (a *acmeSource) check(r *reporter) { a.fallback.check(r) }

// reload re-checks the fallback; ACME certificates are renewed by certmagic.
func (a *acmeSource) reload(r *reporter) error { return a.fallback.reload(r) }

// handleHTTP answers an HTTP-01 validation; it reports whether it did.
func (a *acmeSource) handleHTTP(w http.ResponseWriter, r *http.Request) bool {
	return a.issuer.HandleHTTPChallenge(w, r)
}
