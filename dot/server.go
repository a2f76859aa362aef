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

	"github.com/dnsward/dnsward/clientaddr"
	"github.com/dnsward/dnsward/internal/frontend"
	"github.com/dnsward/dnsward/internal/sockets"
)

// Server is a DoT listener set. Create it with New, then Start and Shutdown.
type Server struct {
	cfg       Config
	metrics   *frontend.Metrics
	keepalive uint16 // IdleTimeout in 100 ms units (RFC 7828)

	base   context.Context // parent of every handler context
	cancel context.CancelFunc

	// trusted holds TrustedProxies with ProxyProtocol (else nil); rejects
	// counts the connections closed for their header.
	trusted clientaddr.Trusted
	rejects *clientaddr.Rejects

	closing atomic.Bool
	life    frontend.Lifecycle[*tls.Conn]
	mu      sync.Mutex
	lns     []net.Listener
	bufs    sync.Pool // *[]byte answer buffers
}

// New validates cfg and returns a server that is not listening yet.
func New(cfg Config) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	m, err := frontend.NewMetrics(cfg.Metrics)
	if err != nil {
		return nil, fmt.Errorf("dot: %w", err)
	}
	base, cancel := context.WithCancel(context.Background())
	s := &Server{
		cfg:       cfg,
		metrics:   m,
		keepalive: uint16(cfg.IdleTimeout / (100 * time.Millisecond)),
		base:      base,
		cancel:    cancel,
	}
	if cfg.ProxyProtocol {
		s.trusted = clientaddr.Trusted(cfg.TrustedProxies)
		if s.rejects, err = clientaddr.NewRejects(cfg.Metrics, "dot"); err != nil {
			return nil, fmt.Errorf("dot: %w", err)
		}
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
		ln, err := s.listen(ctx, &lc, a)
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			return err
		}
		lns = append(lns, ln)
	}
	s.mu.Lock()
	s.lns = lns
	s.mu.Unlock()
	addrs := make([]net.Addr, len(lns))
	for i, ln := range lns {
		addrs[i] = ln.Addr()
	}
	s.life.SetAddrs(addrs)
	for _, ln := range lns {
		s.life.WG.Add(1)
		go s.acceptLoop(ln)
		s.cfg.Logger.Info("dot: listening", "addr", ln.Addr().String())
	}
	return nil
}

// listen binds one TCP address, behind a PROXY v2 reader when configured.
func (s *Server) listen(ctx context.Context, lc *net.ListenConfig, addr string) (net.Listener, error) {
	ln, err := sockets.Listen(ctx, lc, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dot: listen %s: %w", addr, err)
	}
	if !s.cfg.ProxyProtocol {
		return ln, nil
	}
	pl, err := clientaddr.NewListener(ln, clientaddr.ListenerConfig{
		Trusted:       s.trusted,
		Inside:        true,
		Rejects:       s.rejects,
		HeaderTimeout: s.cfg.HandshakeTimeout,
		Logger:        s.cfg.Logger,
	})
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("dot: %w", err)
	}
	return pl, nil
}

// Addrs returns the bound addresses (useful with port 0).
func (s *Server) Addrs() []net.Addr { return s.life.Addrs() }

// Shutdown stops accepting, stops reading new queries, lets queries in flight
// be answered and closes every connection. When ctx ends first, handler
// contexts are cancelled, connections are closed and ctx's error returned.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closing.Store(true)
	s.mu.Lock()
	for _, ln := range s.lns {
		ln.Close()
	}
	s.mu.Unlock()
	s.life.Stop(func(c *tls.Conn) { c.SetReadDeadline(time.Now()) })
	err := s.life.Wait(ctx, func() {
		s.cancel()
		s.life.Each(func(c *tls.Conn) { c.Close() })
	})
	s.cancel()
	return err
}

func (s *Server) acceptLoop(ln net.Listener) {
	defer s.life.WG.Done()
	backoff := 5 * time.Millisecond
	for {
		nc, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || s.closing.Load() {
				return
			}
			s.cfg.Logger.Warn("dot: accept", frontend.ErrAttr(err))
			time.Sleep(backoff)
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 5 * time.Millisecond
		s.life.WG.Add(1)
		go s.serve(nc)
	}
}
