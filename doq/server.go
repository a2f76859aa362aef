package doq

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"

	"github.com/quic-go/quic-go"

	"github.com/dnsward/dnsward/internal/frontend"
	"github.com/dnsward/dnsward/internal/sockets"
)

// Server is a DoQ listener set. Create it with New, then Start and Shutdown.
type Server struct {
	cfg     Config
	quic    *quic.Config
	metrics *frontend.Metrics
	qm      *quicMetrics

	handshaking atomic.Int64 // handshakes in progress, for RetryAbove
	inflight    atomic.Int64 // queries in progress, for MaxInflight

	base     context.Context // parent of every handler context
	cancel   context.CancelFunc
	draining context.Context // done when Shutdown starts: stop accepting streams
	drain    context.CancelFunc

	life frontend.Lifecycle[*quic.Conn]
	mu   sync.Mutex
	udp  []*net.UDPConn
	trs  []*quic.Transport
	bufs sync.Pool // *[]byte answer buffers
}

// listener is what quic.Listener and quic.EarlyListener share.
type listener interface {
	Accept(context.Context) (*quic.Conn, error)
	Close() error
}

// New validates cfg and returns a server that is not listening yet.
func New(cfg Config) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	m, err := frontend.NewMetrics(cfg.Metrics)
	if err != nil {
		return nil, fmt.Errorf("doq: %w", err)
	}
	qm, err := newQUICMetrics(cfg.Metrics)
	if err != nil {
		return nil, fmt.Errorf("doq: %w", err)
	}
	s := &Server{
		cfg: cfg,
		quic: &quic.Config{
			HandshakeIdleTimeout:  cfg.HandshakeTimeout,
			MaxIdleTimeout:        cfg.IdleTimeout,
			MaxIncomingStreams:    cfg.MaxStreamsPerConn,
			MaxIncomingUniStreams: 1, // enough to see, and reject, a client's unidirectional stream
			Allow0RTT:             cfg.Allow0RTT,
		},
		metrics: m,
		qm:      qm,
	}
	s.base, s.cancel = context.WithCancel(context.Background())
	s.draining, s.drain = context.WithCancel(context.Background())
	s.bufs.New = func() any { b := make([]byte, 0, 1024); return &b }
	return s, nil
}

// Start binds every configured address and serves in the background. ctx
// bounds only the binding; stop the server with Shutdown.
func (s *Server) Start(ctx context.Context) error {
	var lc net.ListenConfig
	var lns []listener
	cleanup := func() {
		for _, l := range lns {
			l.Close()
		}
		for _, t := range s.trs {
			t.Close()
		}
		for _, u := range s.udp {
			u.Close()
		}
		s.trs, s.udp = nil, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.cfg.Addrs {
		pc, err := sockets.ListenPacket(ctx, &lc, "udp", a)
		if err != nil {
			cleanup()
			return fmt.Errorf("doq: listen %s: %w", a, err)
		}
		udp := pc.(*net.UDPConn)
		tr := &quic.Transport{
			Conn:                udp,
			StatelessResetKey:   s.cfg.StatelessResetKey,
			VerifySourceAddress: s.verifySource,
			ConnContext:         s.connContext,
		}
		s.udp = append(s.udp, udp)
		s.trs = append(s.trs, tr)
		var ln listener
		if s.cfg.Allow0RTT {
			ln, err = tr.ListenEarly(s.cfg.TLS, s.quic)
		} else {
			ln, err = tr.Listen(s.cfg.TLS, s.quic)
		}
		if err != nil {
			cleanup()
			return fmt.Errorf("doq: listen %s: %w", a, err)
		}
		lns = append(lns, ln)
	}
	addrs := make([]net.Addr, len(s.udp))
	for i, u := range s.udp {
		addrs[i] = u.LocalAddr()
	}
	s.life.SetAddrs(addrs)
	for i, ln := range lns {
		s.life.WG.Add(1)
		go s.acceptLoop(ln)
		s.cfg.Logger.Info("doq: listening", "addr", s.udp[i].LocalAddr().String(), "0rtt", s.cfg.Allow0RTT)
	}
	return nil
}

// Addrs returns the bound UDP addresses (useful with port 0).
func (s *Server) Addrs() []net.Addr { return s.life.Addrs() }

// Shutdown stops accepting connections and streams, lets queries in flight
// be answered, then closes every connection with DOQ_NO_ERROR. When ctx ends
// first, handler contexts are cancelled and connections closed at once.
func (s *Server) Shutdown(ctx context.Context) error {
	s.drain()
	err := s.life.Wait(ctx, func() {
		s.cancel()
		s.life.Each(func(c *quic.Conn) { c.CloseWithError(NoError, "server shutting down") })
	})
	s.cancel()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.trs {
		t.Close()
	}
	for _, u := range s.udp {
		u.Close()
	}
	return err
}

func (s *Server) acceptLoop(ln listener) {
	defer s.life.WG.Done()
	defer ln.Close()
	for {
		c, err := ln.Accept(s.draining)
		if err != nil {
			if !errors.Is(err, context.Canceled) && !errors.Is(err, quic.ErrServerClosed) {
				s.cfg.Logger.Warn("doq: accept", frontend.ErrAttr(err))
			}
			return
		}
		s.life.WG.Add(1)
		go s.serveConn(c)
	}
}

// verifySource decides whether a new client must first pass a Retry.
func (s *Server) verifySource(net.Addr) bool {
	return s.cfg.AlwaysRetry || s.cfg.RetryAbove > 0 && s.handshaking.Load() >= int64(s.cfg.RetryAbove)
}

type stateKey struct{}

// connState follows one connection attempt from its first packet.
type connState struct {
	s    *Server
	done atomic.Bool // handshake outcome recorded
}

// handshakeDone records the end of the handshake once, ok or failed.
func (st *connState) handshakeDone(result string) {
	if st.done.CompareAndSwap(false, true) {
		st.s.handshaking.Add(-1)
		st.s.qm.handshakes.WithLabelValues(result).Inc()
	}
}

// connContext applies the per-client connection bound as soon as a
// connection attempt arrives, before any cryptography is spent on it.
func (s *Server) connContext(ctx context.Context, info *quic.ClientInfo) (context.Context, error) {
	addr := frontend.AddrPort(info.RemoteAddr).Addr()
	release, ok := frontend.AcquireConn(s.cfg.Conns, "doq", addr)
	if !ok { // counted by Conns
		return nil, errors.New("doq: connection refused by the connection limits")
	}
	st := &connState{s: s}
	s.handshaking.Add(1)
	ctx = context.WithValue(ctx, stateKey{}, st)
	context.AfterFunc(ctx, func() {
		release()
		st.handshakeDone("failed")
	})
	return ctx, nil
}
