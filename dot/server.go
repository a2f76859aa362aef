package dot

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dnsward/dnsward/dot/framing"
)

// Server is a DoT listener set. Create it with New, then Start and Shutdown.
type Server struct {
	cfg       Config
	metrics   *framing.Metrics
	limiter   *framing.ConnLimiter
	keepalive uint16 // IdleTimeout in 100 ms units (RFC 7828)

	base   context.Context // parent of every handler context
	cancel context.CancelFunc

	closing atomic.Bool
	mu      sync.Mutex
	lns     []net.Listener
	conns   map[*tls.Conn]struct{}
	wg      sync.WaitGroup // accept loops and connections
	bufs    sync.Pool      // *[]byte answer buffers
}

// New validates cfg and returns a server that is not listening yet.
func New(cfg Config) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	m, err := framing.NewMetrics(cfg.Metrics)
	if err != nil {
		return nil, fmt.Errorf("dot: %w", err)
	}
	base, cancel := context.WithCancel(context.Background())
	s := &Server{
		cfg:       cfg,
		metrics:   m,
		limiter:   framing.NewConnLimiter(cfg.MaxConnsPerClient),
		keepalive: uint16(cfg.IdleTimeout / (100 * time.Millisecond)),
		base:      base,
		cancel:    cancel,
		conns:     map[*tls.Conn]struct{}{},
	}
	s.bufs.New = func() any { b := make([]byte, 0, 1024); return &b }
	return s, nil
}

// Start binds every configured address and serves in the background. ctx
// bounds only the binding; stop the server with Shutdown.
func (s *Server) Start(ctx context.Context) error {
	var lc net.ListenConfig
	var lns []net.Listener
	for _, a := range s.cfg.Addrs {
		ln, err := lc.Listen(ctx, "tcp", a)
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			return fmt.Errorf("dot: listen %s: %w", a, err)
		}
		lns = append(lns, ln)
	}
	s.mu.Lock()
	s.lns = lns
	s.mu.Unlock()
	for _, ln := range lns {
		s.wg.Add(1)
		go s.acceptLoop(ln)
		s.cfg.Logger.Info("dot: listening", "addr", ln.Addr().String())
	}
	return nil
}

// Addrs returns the bound addresses (useful with port 0).
func (s *Server) Addrs() []net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]net.Addr, len(s.lns))
	for i, ln := range s.lns {
		out[i] = ln.Addr()
	}
	return out
}

// Shutdown stops accepting, stops reading new queries, lets queries in flight
// be answered and closes every connection. When ctx ends first, handler
// contexts are cancelled, connections are closed and ctx's error returned.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closing.Store(true)
	s.mu.Lock()
	for _, ln := range s.lns {
		ln.Close()
	}
	for c := range s.conns {
		c.SetReadDeadline(time.Now())
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		s.cancel()
		return nil
	case <-ctx.Done():
		s.cancel()
		s.mu.Lock()
		for c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		<-done
		return ctx.Err()
	}
}

func (s *Server) acceptLoop(ln net.Listener) {
	defer s.wg.Done()
	backoff := 5 * time.Millisecond
	for {
		nc, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || s.closing.Load() {
				return
			}
			s.cfg.Logger.Warn("dot: accept", "err", err)
			time.Sleep(backoff)
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 5 * time.Millisecond
		s.wg.Add(1)
		go s.serve(nc)
	}
}

// track registers c so Shutdown can reach it; false when shutting down.
func (s *Server) track(c *tls.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing.Load() {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *Server) untrack(c *tls.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}
