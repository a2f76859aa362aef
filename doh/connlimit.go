package doh

import (
	"context"
	"errors"
	"net"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"

	"github.com/dnsward/dnsward/clientaddr"
	"github.com/dnsward/dnsward/internal/frontend"
)

// clientLimit asks the connection admission (Config.Conns) for every new
// connection; a trusted proxy's connections carry many clients, so they are
// offered without an address and count only in the total.
type clientLimit struct {
	conns   frontend.ConnAdmitter
	trusted clientaddr.Trusted
}

// acquire admits a new connection from a on listener ("doh" for TCP, "doh3"
// for QUIC), relayed when a PROXY header named it (clientaddr.Relayed);
// false means it is refused (and counted by the admission).
func (l *clientLimit) acquire(listener string, a net.Addr, relayed bool) (release func(), ok bool) {
	return frontend.AcquireConn(l.conns, listener, l.trusted.Admitted(frontend.AddrPort(a).Addr(), relayed))
}

// quicConnContext admits a QUIC connection as soon as its first packet
// arrives, before any cryptography is spent on it (quic.Config.ConnContext);
// the slot is released when the connection ends, handshake failed or not.
func (l *clientLimit) quicConnContext(ctx context.Context, info *quic.ClientInfo) (context.Context, error) {
	release, ok := l.acquire("doh3", info.RemoteAddr, false) // QUIC carries no PROXY header
	if !ok {
		return nil, errors.New("doh: connection refused by the connection limits")
	}
	context.AfterFunc(ctx, release)
	return ctx, nil
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
		release, ok := l.lim.acquire("doh", c.RemoteAddr(), clientaddr.Relayed(c))
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
		l.m.connDelta("quic", 1) // admitted in quicConnContext, before the handshake
		go func() {
			<-c.Context().Done()
			l.m.connDelta("quic", -1)
		}()
		return c, nil
	}
}
