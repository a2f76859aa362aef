// Package upstream forwards DNS queries to upstream resolvers over plain UDP and
// TCP, DNS over TLS (RFC 7858), DNS over HTTPS (RFC 8484, HTTP/2 or HTTP/3) and
// DNS over QUIC (RFC 9250), and groups several upstreams with health tracking,
// latency ordering and failover.
package upstream

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dnsward/dnsward/resolver"
)

// DefaultTimeout bounds one exchange when Options.Timeout is zero.
const DefaultTimeout = 3 * time.Second

// DefaultIdleTimeout closes a reused connection after this long without
// queries when Options.IdleTimeout is zero.
const DefaultIdleTimeout = 10 * time.Second

// DefaultMaxPending is Options.MaxPending when it is zero: room for 4096
// exchanges in flight (a 100 ms upstream at 40,000 misses a second) before
// one upstream refuses more and the group moves on.
const DefaultMaxPending = 4096

// Options configures one upstream built by New.
type Options struct {
	// Timeout bounds every exchange (dial, write and read together); the
	// caller's context may shorten it. Zero means DefaultTimeout.
	Timeout time.Duration
	// IdleTimeout closes reused TCP, DoT, DoH and DoQ connections after this
	// long without queries. Zero means DefaultIdleTimeout.
	IdleTimeout time.Duration
	// RootCAs verifies the upstream's certificate; nil means the system pool.
	RootCAs *x509.CertPool
	// InsecureSkipVerify accepts any certificate (for `dnsward query -k`).
	InsecureSkipVerify bool
	// MaxPending bounds the exchanges waiting on this upstream at once; one
	// more is not sent but fails at once with KindBusy (a Group then asks
	// the next upstream, without holding it against this one's health).
	// Zero means DefaultMaxPending.
	MaxPending int
	// Logger receives debug and warning logs; nil means slog.Default().
	Logger *slog.Logger
	// Metrics registers the dnsward_upstream_* metrics; nil registers none.
	Metrics prometheus.Registerer
}

func (o Options) validate() (Options, error) {
	if o.Timeout < 0 {
		return o, fmt.Errorf("negative timeout %v", o.Timeout)
	}
	if o.IdleTimeout < 0 {
		return o, fmt.Errorf("negative idle timeout %v", o.IdleTimeout)
	}
	if o.MaxPending < 0 {
		return o, fmt.Errorf("negative max pending %d", o.MaxPending)
	}
	if o.MaxPending == 0 {
		o.MaxPending = DefaultMaxPending
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.IdleTimeout == 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o, nil
}

// tlsConfig returns the client TLS configuration for an encrypted upstream
// that must present a certificate for serverName and negotiate alpn.
func (o Options) tlsConfig(serverName string, alpn ...string) *tls.Config {
	return &tls.Config{
		ServerName:         serverName,
		RootCAs:            o.RootCAs,
		InsecureSkipVerify: o.InsecureSkipVerify, //nolint:gosec // explicit operator choice (-k)
		NextProtos:         alpn,
		MinVersion:         tls.VersionTLS12,
		ClientSessionCache: tls.NewLRUClientSessionCache(8),
	}
}

// New returns an upstream for rawURL:
//
//	udp://host:port or host:port   plain DNS over UDP, TCP on truncation (port 53)
//	tcp://host:port                plain DNS over TCP, pipelined (port 53)
//	tls://host:port#name           DNS over TLS, verifying name (port 853)
//	https://host:port/path         DNS over HTTPS, POST over HTTP/2 (port 443)
//	h3://host:port/path            DNS over HTTPS over HTTP/3 (port 443)
//	quic://host:port#name          DNS over QUIC (port 853)
//
// The name after # defaults to the host. Every returned message carries the
// caller's ID; a truncated answer is never returned. A failed exchange
// returns an *Error (errors.Is matches ErrNoReachableAuthority for timeouts,
// ErrNetwork otherwise); a caller that cancels its context gets the
// context's error instead.
func New(rawURL string, opts Options) (resolver.Upstream, error) {
	ep, err := parseEndpoint(rawURL)
	if err != nil {
		return nil, fmt.Errorf("upstream: %w", err)
	}
	opts, err = opts.validate()
	if err != nil {
		return nil, fmt.Errorf("upstream %s: %w", ep, err)
	}
	m, err := newMetrics(opts.Metrics)
	if err != nil {
		return nil, fmt.Errorf("upstream %s: %w", ep, err)
	}
	var u exchanger
	switch ep.scheme {
	case schemeUDP:
		u = newUDP(ep, opts)
	case schemeTCP:
		u = newTCP(ep, opts)
	case schemeTLS:
		u = newDoT(ep, opts)
	case schemeHTTPS, schemeH3:
		u = newDoH(ep, opts)
	case schemeQUIC:
		u = newDoQ(ep, opts)
	}
	return &instrumented{ep: ep, u: u, timeout: opts.Timeout, maxPending: int64(opts.MaxPending), log: opts.Logger, m: m.forUpstream(ep.String())}, nil
}
