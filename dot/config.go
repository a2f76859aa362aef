// Package dot serves DNS over TLS (RFC 7858, RFC 8310): TLS over TCP with
// ALPN "dot", 2-byte length framing and pipelined queries answered out of
// order as they complete (RFC 7766). Behind a load balancer, ProxyProtocol
// takes the client address from a trusted proxy's PROXY v2 header.
package dot

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dnsward/dnsward/internal/frontend"
	"github.com/dnsward/dnsward/resolver"
)

// ALPN is the TLS application protocol DoT negotiates (RFC 7858 §3.2).
const ALPN = "dot"

// Config configures a DoT server. Zero durations and counts take the defaults
// named on each field.
type Config struct {
	Addrs    []string           // listen addresses, "127.0.0.1:853"
	TLS      *tls.Config        // certificates (full chain, chosen by SNI); ALPN "dot" is added
	Handler  resolver.Handler   // answers every query
	Profiles *resolver.Profiles // profile and client ID by SNI, then local address, then default (Identify)

	MaxInflightPerConn int                   // queries answered concurrently per connection (128)
	Conns              frontend.ConnAdmitter // admits each connection (ratelimit.Conns); nil: unbounded
	IdleTimeout        time.Duration         // close a connection idle this long (30s); advertised via RFC 7828
	HandshakeTimeout   time.Duration         // TLS handshake deadline (5s)
	WriteTimeout       time.Duration         // deadline to write one answer (10s)

	// ProxyProtocol makes the listeners expect a PROXY v2 header on every
	// connection from TrustedProxies, before the TLS handshake (an L4
	// balancer) or as the first bytes inside TLS (dnsdist), and take the
	// client address (for Conns and resolver.Request.Client) and the local
	// address (for the profile) from it; HandshakeTimeout bounds the wait
	// for it. A trusted proxy's connection without one and a header from
	// any other peer are closed (dnsward_proxy_header_rejected_total).
	ProxyProtocol bool
	// TrustedProxies are the load balancers whose PROXY v2 header is
	// believed; required with ProxyProtocol.
	TrustedProxies []netip.Prefix

	Logger  *slog.Logger          // nil: slog.Default()
	Metrics prometheus.Registerer // nil: metrics are not registered
}

// withDefaults validates c and returns a copy with defaults filled in.
func (c Config) withDefaults() (Config, error) {
	common := frontend.Common{Addrs: c.Addrs, TLS: c.TLS, Handler: c.Handler, Profiles: c.Profiles}
	if err := common.Check("dot"); err != nil {
		return c, err
	}
	if err := frontend.SetTimeouts("dot",
		frontend.Timeout{Name: "IdleTimeout", Value: &c.IdleTimeout, Default: 30 * time.Second},
		frontend.Timeout{Name: "HandshakeTimeout", Value: &c.HandshakeTimeout, Default: 5 * time.Second},
		frontend.Timeout{Name: "WriteTimeout", Value: &c.WriteTimeout, Default: 10 * time.Second},
	); err != nil {
		return c, err
	}
	if c.IdleTimeout > 6553*time.Second {
		return c, fmt.Errorf("dot: IdleTimeout %s exceeds what RFC 7828 can advertise", c.IdleTimeout)
	}
	for _, p := range c.TrustedProxies {
		if !p.IsValid() {
			return c, errors.New("dot: invalid prefix in TrustedProxies")
		}
	}
	if c.ProxyProtocol && len(c.TrustedProxies) == 0 {
		return c, errors.New("dot: ProxyProtocol needs TrustedProxies")
	}
	if c.MaxInflightPerConn < 0 {
		return c, errors.New("dot: negative MaxInflightPerConn")
	}
	if c.MaxInflightPerConn == 0 {
		c.MaxInflightPerConn = 128
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	t := frontend.RefuseClients(c.TLS, c.Profiles)
	if !slices.Contains(t.NextProtos, ALPN) {
		t.NextProtos = append([]string{ALPN}, t.NextProtos...)
	}
	if t.MinVersion < tls.VersionTLS12 {
		t.MinVersion = tls.VersionTLS12
	}
	c.TLS = t
	return c, nil
}
