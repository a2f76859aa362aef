package doh

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// h2Server serves the HTTP/2 connections of the TLS listeners (ALPN h2)
// with the engine in h2conn.go; HTTP/1.1 stays on net/http.
type h2Server struct {
	h            *Handler
	maxStreams   int
	maxHeader    int
	maxBody      int
	readTimeout  time.Duration
	idleTimeout  time.Duration
	writeTimeout time.Duration
	log          *slog.Logger
	m            *metrics

	mu       sync.Mutex
	conns    map[*h2Conn]struct{}
	shutdown bool
}

func newH2Server(cfg Config, h *Handler, m *metrics) *h2Server {
	return &h2Server{
		h:            h,
		maxStreams:   int(cfg.MaxStreams),
		maxHeader:    cfg.MaxHeaderBytes,
		maxBody:      cfg.MaxBody,
		readTimeout:  cfg.ReadTimeout,
		idleTimeout:  cfg.IdleTimeout,
		writeTimeout: cfg.ReadTimeout + cfg.QueryTimeout,
		log:          cfg.Logger,
		m:            m,
		conns:        map[*h2Conn]struct{}{},
	}
}

// serveTLS is the http.Server.TLSNextProto function for "h2". h carries
// net/http's per-connection context (ServerContextKey, LocalAddrContextKey).
func (s *h2Server) serveTLS(_ *http.Server, tc *tls.Conn, h http.Handler) {
	ctx := context.Background()
	if bc, ok := h.(interface{ BaseContext() context.Context }); ok {
		ctx = bc.BaseContext()
	}
	st := tc.ConnectionState()
	s.serveConn(ctx, tc, &st)
}

// serveConn serves one HTTP/2 connection until it ends.
func (s *h2Server) serveConn(ctx context.Context, nc net.Conn, st *tls.ConnectionState) {
	c := newH2Conn(s, ctx, nc, st)
	s.mu.Lock()
	s.conns[c] = struct{}{}
	c.goingAway = s.shutdown
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	}()
	c.serve()
}

// shutdownAll sends GOAWAY on every connection; each closes once its open
// streams are answered. Registered with http.Server.RegisterOnShutdown.
func (s *h2Server) shutdownAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.shutdown = true
	for c := range s.conns {
		c.shutdown()
	}
}
