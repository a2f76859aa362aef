// Package doq serves DNS over dedicated QUIC connections (RFC 9250): ALPN
// "doq", one query per client-initiated bidirectional stream, each message
// behind a 2-byte length prefix and the stream closed with FIN.
package doq

import (
	"crypto/tls"
	"errors"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/quic-go/quic-go"

	"github.com/dnsward/dnsward/internal/frontend"
	"github.com/dnsward/dnsward/resolver"
)

// ALPN is the TLS application protocol DoQ negotiates (RFC 9250 §4.1.1).
const ALPN = "doq"

// Config configures a DoQ server. Zero durations and counts take the defaults
// named on each field.
type Config struct {
	Addrs    []string           // UDP listen addresses, "127.0.0.1:853"
	TLS      *tls.Config        // certificates (full chain, chosen by SNI); ALPN is set to "doq"
	Handler  resolver.Handler   // answers every query
	Profiles *resolver.Profiles // profile and client ID by SNI, then local address, then default (Identify)

	MaxStreamsPerConn int64                 // concurrent query streams per connection (256)
	Conns             frontend.ConnAdmitter // admits each connection (ratelimit.Conns); nil: unbounded
	MaxInflight       int                   // queries in progress server-wide; beyond: DOQ_EXCESSIVE_LOAD (16384)
	IdleTimeout       time.Duration         // QUIC idle timeout (30s)
	HandshakeTimeout  time.Duration         // QUIC handshake idle timeout (5s)
	StreamTimeout     time.Duration         // a client must send its whole query and FIN within this (5s)
	WriteTimeout      time.Duration         // deadline to write one answer (10s)

	// Allow0RTT accepts 0-RTT. Queries that arrive before the handshake
	// completes are answered at once only when replay-safe (see replaySafe);
	// others wait for the handshake (RFC 9250 §4.5). Off by default.
	Allow0RTT bool
	// AlwaysRetry validates every client address with a QUIC Retry.
	AlwaysRetry bool
	// RetryAbove, when > 0, sends a Retry to new clients while at least this
	// many handshakes are in progress (address validation under load).
	RetryAbove int
	// StatelessResetKey, when set, lets the server tell a client at once that
	// its connection is gone (after an idle timeout or a restart) instead of
	// leaving it to time out; keep it stable across restarts, and distinct
	// per node (RFC 9000 §21.11).
	StatelessResetKey *quic.StatelessResetKey

	Logger  *slog.Logger          // nil: slog.Default()
	Metrics prometheus.Registerer // nil: metrics are not registered
}

func (c Config) withDefaults() (Config, error) {
	common := frontend.Common{Addrs: c.Addrs, TLS: c.TLS, Handler: c.Handler, Profiles: c.Profiles}
	if err := common.Check("doq"); err != nil {
		return c, err
	}
	if err := frontend.SetTimeouts("doq",
		frontend.Timeout{Name: "IdleTimeout", Value: &c.IdleTimeout, Default: 30 * time.Second},
		frontend.Timeout{Name: "HandshakeTimeout", Value: &c.HandshakeTimeout, Default: 5 * time.Second},
		frontend.Timeout{Name: "StreamTimeout", Value: &c.StreamTimeout, Default: 5 * time.Second},
		frontend.Timeout{Name: "WriteTimeout", Value: &c.WriteTimeout, Default: 10 * time.Second},
	); err != nil {
		return c, err
	}
	if c.MaxStreamsPerConn < 0 || c.MaxInflight < 0 || c.RetryAbove < 0 {
		return c, errors.New("doq: negative MaxStreamsPerConn, MaxInflight or RetryAbove")
	}
	if c.MaxStreamsPerConn == 0 {
		// quic-go returns a stream's credit only once the client has
		// acknowledged the answer's FIN, a round trip after the answer: at 100,
		// half the opens of a client keeping 64 queries in flight waited for
		// credit (loadgen, one connection).
		c.MaxStreamsPerConn = 256
	}
	if c.MaxInflight == 0 {
		c.MaxInflight = 16384
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	t := frontend.RefuseClients(c.TLS, c.Profiles)
	t.NextProtos = []string{ALPN}
	t.MinVersion = tls.VersionTLS13 // QUIC requires TLS 1.3
	c.TLS = t
	return c, nil
}
