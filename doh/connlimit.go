package doh

import (
	"context"
	"net"
	"sync"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"

	"github.com/dnsward/dnsward/clientaddr"
	"github.com/dnsward/dnsward/internal/frontend"
)

// clientLimit bounds open connections per client across all listeners
// (frontend.ConnLimiter: per address, IPv6 per /64); trusted proxies are
// exempt because they carry many clients.
type clientLimit struct {
	lim     *frontend.ConnLimiter
	trusted clientaddr.Trusted
	m       *metrics
}

func newClientLimit(max int, trusted clientaddr.Trusted, m *metrics) *clientLimit {
	return &clientLimit{lim: frontend.NewConnLimiter(max), trusted: trusted, m: m}
}

// acquire counts a new connection from a; false means over the bound.
func (l *clientLimit) acquire(a net.Addr) (release func(), ok bool) {
	ip := frontend.AddrPort(a).Addr()
	if !ip.IsValid() || l.trusted.Contains(ip) {
		return func() {}, true
	}
	if !l.lim.Acquire(ip) {
		l.m.reject("per_client_limit")
		return nil, false
	}
	var once sync.Once
	return func() { once.Do(func() { l.lim.Release(ip) }) }, true
}

// limitListener closes TCP connections over the per-client bound at accept.
type limitListener struct {
	net.Listener
	lim *clientLimit
}

// Accept returns the next connection within the bound.
func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		release, ok := l.lim.acquire(c.RemoteAddr())
		if !ok {
			_ = c.Close()
			continue
		}
		return &limitedConn{Conn: c, release: release}, nil
	}
}

// limitedConn gives its slot back on Close.
type limitedConn struct {
	net.Conn
	release func()
}

// Close closes the connection and frees its slot.
func (c *limitedConn) Close() error {
	c.release()
	return c.Conn.Close()
}

// limitQUICListener applies the per-client bound and the open-connection
// gauge to QUIC connections.
type limitQUICListener struct {
	*quic.Listener
	lim *clientLimit
	m   *metrics
}

var _ http3.QUICListener = (*limitQUICListener)(nil)

// Accept returns the next QUIC connection within the bound.
func (l *limitQUICListener) Accept(ctx context.Context) (*quic.Conn, error) {
	for {
		c, err := l.Listener.Accept(ctx)
		if err != nil {
			return nil, err
		}
		release, ok := l.lim.acquire(c.RemoteAddr())
		if !ok {
			_ = c.CloseWithError(quic.ApplicationErrorCode(http3.ErrCodeExcessiveLoad), "too many connections")
			continue
		}
		l.m.connDelta("quic", 1)
		go func() {
			<-c.Context().Done()
			release()
			l.m.connDelta("quic", -1)
		}()
		return c, nil
	}
}
