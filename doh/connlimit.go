package doh

import (
	"context"
	"github.com/dnsward/dnsward/dot/framing"
	"net"
	"net/netip"
	"sync"

	"github.com/dnsward/dnsward/proxyproto"
	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
)

// clientLimit bounds open connections per client across all listeners.
// IPv6 clients are counted per /64, the smallest block one host usually has;
// trusted proxies are exempt because they carry many clients.
type clientLimit struct {
	max     int // <= 0: no bound
	trusted proxyproto.Trusted
	m       *metrics
	mu      sync.Mutex
	open    map[netip.Addr]int
}

func newClientLimit(max int, trusted proxyproto.Trusted, m *metrics) *clientLimit {
	return &clientLimit{max: max, trusted: trusted, m: m, open: map[netip.Addr]int{}}
}

// key is the address a connection is counted under; ok is false for exempt ones.
func (l *clientLimit) key(a net.Addr) (netip.Addr, bool) {
	if l.max <= 0 {
		return netip.Addr{}, false
	}
	ip := framing.AddrPort(a).Addr()
	if !ip.IsValid() || l.trusted.Contains(ip) {
		return netip.Addr{}, false
	}
	if ip.Is6() {
		ip = netip.PrefixFrom(ip, 64).Masked().Addr()
	}
	return ip, true
}

// acquire counts a new connection from a; false means over the bound.
func (l *clientLimit) acquire(a net.Addr) (release func(), ok bool) {
	k, counted := l.key(a)
	if !counted {
		return func() {}, true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[k] >= l.max {
		l.m.reject("per_client_limit")
		return nil, false
	}
	l.open[k]++
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			if l.open[k]--; l.open[k] <= 0 {
				delete(l.open, k)
			}
		})
	}, true
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
