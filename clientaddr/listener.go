package clientaddr

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"
)

// ListenerConfig configures a PROXY v2 accepting listener.
type ListenerConfig struct {
	// Trusted lists the proxies whose connections must start with a PROXY v2
	// header; one without is closed. Connections from other peers pass
	// through, unless they start with a header: they fail on their first
	// read (ErrUntrusted), so no peer but a trusted proxy names a client.
	Trusted Trusted
	// Inside lets a trusted proxy send its header as the first bytes inside
	// TLS instead (dnsdist's DoT backends): its connection that does not
	// start with a header is handed over unread, Proxied reports false for
	// it, and the server reads the header after the handshake (Stream).
	Inside bool
	// Rejects counts connections closed for their header; nil: not counted.
	Rejects *Rejects
	// HeaderTimeout bounds the wait for a trusted peer's header (default 5s).
	HeaderTimeout time.Duration
	// MaxPending bounds connections whose header is still being read
	// (default 1024); further connections wait in the kernel backlog.
	MaxPending int
	// Logger receives header errors (never the addresses); nil → slog.Default().
	Logger *slog.Logger
}

// Listener wraps a stream listener. Accept returns connections whose
// RemoteAddr is the client named by a trusted proxy's PROXY v2 header, and
// LocalAddr the address that client connected to, or the socket's
// addresses for untrusted peers and LOCAL headers. Headers are read in the
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
	if c = l.unwrap(c); c == nil {
		return
	}
	select {
	case l.ready <- c:
	case <-l.done:
		_ = c.Close()
	}
}

// unwrap returns c as Accept hands it over, or nil when c was closed for
// its header (or its lack of one).
func (l *Listener) unwrap(c net.Conn) net.Conn {
	if !l.cfg.Trusted.Contains(addrPortOf(c.RemoteAddr()).Addr()) {
		return &guardConn{Conn: c, rejects: l.cfg.Rejects}
	}
	_ = c.SetReadDeadline(time.Now().Add(l.cfg.HeaderTimeout))
	br := bufio.NewReaderSize(c, fixedLen) // the smallest: reads past the header go straight to c
	first, err := br.Peek(1)
	if err == nil && first[0] != signature[0] && l.cfg.Inside {
		_ = c.SetReadDeadline(time.Time{})
		return &conn{Conn: c, r: br}
	}
	h, err := ReadHeader(br)
	if err != nil {
		l.cfg.Rejects.Add(err)
		l.cfg.Logger.Debug("clientaddr: dropping connection from trusted proxy", "error", err)
		_ = c.Close()
		return nil
	}
	_ = c.SetReadDeadline(time.Time{})
	pc := &conn{Conn: c, r: br, proxied: true}
	if h.Relayed() {
		pc.remote, pc.local = net.TCPAddrFromAddrPort(h.Source), net.TCPAddrFromAddrPort(h.Destination)
	}
	return pc
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

// conn is a trusted proxy's connection: its bytes after the header, and
// the addresses the header named.
type conn struct {
	net.Conn
	r             io.Reader // the bytes read ahead, then Conn
	remote, local net.Addr  // from the header; nil: Conn's
	proxied       bool      // a header was read
}

// Read reads the bytes after the header.
func (c *conn) Read(p []byte) (int, error) { return c.r.Read(p) }

// RemoteAddr returns the client address from the PROXY header.
func (c *conn) RemoteAddr() net.Addr {
	if c.remote != nil {
		return c.remote
	}
	return c.Conn.RemoteAddr()
}

// LocalAddr returns the address the client connected to, from the PROXY header.
func (c *conn) LocalAddr() net.Addr {
	if c.local != nil {
		return c.local
	}
	return c.Conn.LocalAddr()
}

// Proxied reports whether a Listener read a PROXY v2 header (PROXY or
// LOCAL) in front of c; false for untrusted peers and for a trusted one
// whose header is due inside TLS (ListenerConfig.Inside).
func Proxied(c net.Conn) bool {
	pc, ok := c.(*conn)
	return ok && pc.proxied
}

// Relayed reports whether a Listener's PROXY v2 header in front of c named
// the client (a PROXY command with addresses): c's RemoteAddr is then that
// client's, not the proxy's.
func Relayed(c net.Conn) bool {
	pc, ok := c.(*conn)
	return ok && pc.remote != nil
}

// guardConn is an untrusted peer's connection: it fails with ErrUntrusted
// when its first bytes are the PROXY v2 signature.
type guardConn struct {
	net.Conn
	rejects *Rejects
	seen    int // bytes of the signature matched so far; past its length: checked
}

// Read reads from the peer, checking its first bytes.
func (g *guardConn) Read(p []byte) (int, error) {
	n, err := g.Conn.Read(p)
	if g.seen >= len(signature) || n == 0 {
		return n, err
	}
	k := min(n, len(signature)-g.seen)
	if !bytes.Equal(p[:k], signature[g.seen:g.seen+k]) {
		g.seen = len(signature) + 1
		return n, err
	}
	if g.seen += k; g.seen == len(signature) {
		g.rejects.Add(ErrUntrusted)
		return 0, ErrUntrusted
	}
	return n, err
}

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
