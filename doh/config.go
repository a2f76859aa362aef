package doh

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/dnsward/dnsward/internal/frontend"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dnsward/dnsward/resolver"
)

// MaxMessageSize is the largest DNS message DoH carries (RFC 8484 §6).
const MaxMessageSize = 65535

// Config configures a DoH server.
type Config struct {
	// Addrs are TLS listen addresses ("127.0.0.1:8443"). Each binds TCP for
	// HTTP/1.1 and HTTP/2 and UDP on the same port for HTTP/3, advertised by
	// Alt-Svc on TCP responses. A port of 0 picks one free on both protocols.
	Addrs []string
	// PlainAddrs are cleartext HTTP/1.1 listen addresses, for deployments
	// behind a TLS-terminating proxy.
	PlainAddrs []string
	// TLS is the server config for TCP listeners; ALPN h2 and http/1.1 are
	// added to a clone. Required when Addrs is set.
	TLS *tls.Config
	// TLS3 is the server config for QUIC listeners (ALPN h3 is set on a
	// clone); nil uses TLS.
	TLS3 *tls.Config

	// Handler answers queries; required.
	Handler resolver.Handler
	// Profiles maps paths, hosts and local addresses to profiles; required.
	Profiles *resolver.Profiles
	// Pages serves every path that is not a DoH or JSON endpoint (the setup
	// page); nil: such paths are 404. It never sees an endpoint's request.
	Pages http.Handler

	// TrustedProxies may set the client address with PROXY v2 or
	// X-Forwarded-For/Forwarded; Conns counts their connections only in its total.
	TrustedProxies []netip.Prefix
	// ProxyProtocol makes TCP listeners (TLS and plain) expect a PROXY v2
	// header on connections from TrustedProxies.
	ProxyProtocol bool

	// HTTP2 picks the HTTP/2 server of the TLS listeners: HTTP2Builtin
	// (default) or HTTP2Stdlib, net/http's own, which lacks some of the
	// builtin engine's defences (see the package comment).
	HTTP2 string

	// HTTP3 picks the HTTP/3 server of the QUIC listeners: HTTP3Builtin
	// (default) or HTTP3Stdlib, quic-go's own.
	HTTP3 string

	// MaxStreams bounds concurrent streams per HTTP/2 and HTTP/3 connection (default 100).
	MaxStreams uint32
	// MaxHeaderBytes bounds request headers, URL included (default 16 KiB).
	MaxHeaderBytes int
	// MaxBody bounds a POST body; at most and by default 65535.
	MaxBody int
	// ReadTimeout bounds reading one request, headers and body (default 10s).
	ReadTimeout time.Duration
	// IdleTimeout closes connections without requests (default 60s).
	IdleTimeout time.Duration
	// QueryTimeout bounds the Handler call for one query (default 5s).
	QueryTimeout time.Duration
	// Conns admits each TCP and QUIC connection (ratelimit.Conns); nil: unbounded.
	Conns frontend.ConnAdmitter

	// Logger receives operational logs (never client addresses); nil → slog.Default().
	Logger *slog.Logger
	// Metrics registers dnsward_doh_* collectors; nil → no metrics.
	Metrics prometheus.Registerer
}

// withDefaults validates c and returns a copy with defaults filled in.
func (c Config) withDefaults() (Config, error) {
	if c.Handler == nil {
		return c, errors.New("doh: Handler is required")
	}
	if c.Profiles == nil {
		return c, errors.New("doh: Profiles is required")
	}
	if len(c.Addrs) > 0 && c.TLS == nil {
		return c, errors.New("doh: TLS is required with Addrs")
	}
	for _, a := range append(append([]string(nil), c.Addrs...), c.PlainAddrs...) {
		if _, _, err := net.SplitHostPort(a); err != nil {
			return c, fmt.Errorf("doh: listen address %q: %w", a, err)
		}
	}
	for _, p := range c.TrustedProxies {
		if !p.IsValid() {
			return c, errors.New("doh: invalid prefix in TrustedProxies")
		}
	}
	if c.MaxBody < 0 || c.MaxBody > MaxMessageSize {
		return c, fmt.Errorf("doh: MaxBody %d outside 1..%d", c.MaxBody, MaxMessageSize)
	}
	if c.MaxHeaderBytes < 0 || c.ReadTimeout < 0 || c.IdleTimeout < 0 || c.QueryTimeout < 0 {
		return c, errors.New("doh: negative limit or timeout")
	}
	if err := engine("HTTP2", &c.HTTP2, HTTP2Builtin, HTTP2Stdlib); err != nil {
		return c, err
	}
	if err := engine("HTTP3", &c.HTTP3, HTTP3Builtin, HTTP3Stdlib); err != nil {
		return c, err
	}
	setDefault(&c.MaxStreams, 100)
	setDefault(&c.MaxHeaderBytes, 16<<10)
	setDefault(&c.MaxBody, MaxMessageSize)
	setDefault(&c.ReadTimeout, 10*time.Second)
	setDefault(&c.IdleTimeout, 60*time.Second)
	setDefault(&c.QueryTimeout, 5*time.Second)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c, nil
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// engine defaults an HTTP engine choice (Config.HTTP2, Config.HTTP3) to
// builtin and checks it names builtin or stdlib.
func engine(field string, v *string, builtin, stdlib string) error {
	switch *v {
	case "":
		*v = builtin
	case builtin, stdlib:
	default:
		return fmt.Errorf("doh: %s %q: want %q or %q", field, *v, builtin, stdlib)
	}
	return nil
}
