package clientaddr

import (
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"
)

// ListenerConfig configures a PROXY v2 accepting listener.
type ListenerConfig struct {
	// Trusted lists the proxies whose connections must start with a PROXY v2
	// header. Connections from other peers pass through untouched.
	Trusted Trusted
	// HeaderTimeout bounds the wait for a trusted peer's header (default 5s).
	HeaderTimeout time.Duration
	// MaxPending bounds connections whose header is still being read
	// (default 1024); further connections wait in the kernel backlog.
	MaxPending int
	// Logger receives header errors (never the addresses); nil → slog.Default().
	Logger *slog.Logger
}

// Listener wraps a stream listener. Accept returns connections whose
// RemoteAddr is the client named by a trusted proxy's PROXY v2 header, or the
// socket peer for untrusted peers and LOCAL headers. Headers are read in the
// background, so one slow proxy connection never blocks Accept.
type Listener struct {
	inner   net.Listener
	cfg     ListenerConfig
	ready   chan net.Conn
	pending chan struct{} // semaphore of header reads in flight
	done    chan struct{}
	once    sync.Once
}

// NewListener starts accepting from inner. Closing the Listener closes inner.
func NewListener(inner net.Listener, cfg ListenerConfig) (*Listener, error) {
	if inner == nil {
		return nil, errors.New("clientaddr: nil listener")
	}
	if cfg.HeaderTimeout < 0 || cfg.MaxPending < 0 {
		return nil, errors.New("clientaddr: negative HeaderTimeout or MaxPending")
	}
	if cfg.HeaderTimeout == 0 {
		cfg.HeaderTimeout = 5 * time.Second
	}
	if cfg.MaxPending == 0 {
		cfg.MaxPending = 1024
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	l := &Listener{
		inner:   inner,
		cfg:     cfg,
		ready:   make(chan net.Conn),
		pending: make(chan struct{}, cfg.MaxPending),
		done:    make(chan struct{}),
	}
	go l.acceptLoop()
	return l, nil
}

// Backoff bounds after a failed inner Accept (out of file descriptors, say).
const (
	minBackoff = 5 * time.Millisecond
	maxBackoff = time.Second
)

// acceptLoop accepts until the Listener or its inner listener is closed.
// Any other accept error (EMFILE under a connection flood) is transient: it
// is retried after a backoff that doubles up to maxBackoff.
func (l *Listener) acceptLoop() {
	var backoff time.Duration
	for {
		select {
		case l.pending <- struct{}{}:
		case <-l.done:
			return
		}
		c, err := l.inner.Accept()
		if err != nil {
			<-l.pending
			if errors.Is(err, net.ErrClosed) {
				l.Close()
				return
			}
			backoff = min(max(2*backoff, minBackoff), maxBackoff)
			l.cfg.Logger.Warn("clientaddr: accept failed, retrying", "error", err, "backoff", backoff)
			t := time.NewTimer(backoff)
			select {
			case <-t.C:
			case <-l.done:
				t.Stop()
				return
			}
			continue
		}
		backoff = 0
		go l.handshake(c)
	}
}

// handshake reads the header of a trusted peer and hands the connection to Accept.
func (l *Listener) handshake(c net.Conn) {
	defer func() { <-l.pending }()
	peer := addrPortOf(c.RemoteAddr())
	if l.cfg.Trusted.Contains(peer.Addr()) {
		_ = c.SetReadDeadline(time.Now().Add(l.cfg.HeaderTimeout))
		h, err := ReadHeader(c)
		if err != nil {
			l.cfg.Logger.Debug("clientaddr: dropping connection from trusted proxy", "error", err)
			_ = c.Close()
			return
		}
		_ = c.SetReadDeadline(time.Time{})
		if h.Command == Proxy && h.Source.IsValid() {
			c = &conn{Conn: c, remote: net.TCPAddrFromAddrPort(h.Source)}
		}
	}
	select {
	case l.ready <- c:
	case <-l.done:
		_ = c.Close()
	}
}

// Accept returns the next connection whose client address is known.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ready:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close stops accepting and closes the inner listener.
func (l *Listener) Close() error {
	var err error
	l.once.Do(func() {
		close(l.done)
		err = l.inner.Close()
	})
	return err
}

// Addr returns the inner listener's address.
func (l *Listener) Addr() net.Addr { return l.inner.Addr() }

// conn reports the proxied client as its remote address.
type conn struct {
	net.Conn
	remote net.Addr
}

// RemoteAddr returns the client address from the PROXY header.
func (c *conn) RemoteAddr() net.Addr { return c.remote }

// addrPortOf converts a net.Addr from a TCP or UDP socket to netip form.
func addrPortOf(a net.Addr) netip.AddrPort {
	switch a := a.(type) {
	case *net.TCPAddr:
		return a.AddrPort()
	case *net.UDPAddr:
		return a.AddrPort()
	}
	if a == nil {
		return netip.AddrPort{}
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return ap
}
