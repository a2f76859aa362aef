// Package h2 is dnsward's HTTP/2 server engine for DoH: one reader
// goroutine per connection, its own HPACK codec, answers written in
// batches, and the flood defences described in doh's package comment. It
// serves requests through a small Handler interface; doh wires it into
// net/http with Server.ServeTLS as the TLSNextProto function for "h2".
package h2

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// Handler serves the engine's requests.
type Handler interface {
	// ServeHTTP answers a request on a worker (Config.Dispatch), once its
	// body has arrived whole (at most MaxBody+1 bytes).
	ServeHTTP(w http.ResponseWriter, r *http.Request)
	// Replay may answer a whole request at once on the connection's
	// reader, where it must not block; false hands it to ServeHTTP, with
	// the body read again from its start.
	Replay(w http.ResponseWriter, r *http.Request) bool
}

// State is a handler's per-stream state, found in a request's context
// under Config.StateKey. A stream's state is reused for its later requests
// unless the request was cancelled.
type State interface {
	// Begin readies the state for a request read at received.
	Begin(received time.Time)
}

// Job is work a worker runs (Config.Dispatch); Run must not panic.
type Job interface{ Run() }

// Config configures the engine; every field but CountError is required.
type Config struct {
	Handler        Handler
	MaxStreams     int // advertised MAX_CONCURRENT_STREAMS and handlers in flight per connection
	MaxHeaderBytes int // header list size; beyond it 431
	MaxBody        int // request body bytes kept; the handler sees one byte more of an oversized body
	ReadTimeout    time.Duration
	IdleTimeout    time.Duration
	WriteTimeout   time.Duration
	Logger         *slog.Logger
	// CountError counts a protocol error or defence by reason.
	CountError func(reason string)
	// Dispatch runs a job on a worker; false: none free, the engine starts a goroutine.
	Dispatch func(Job) bool
	// StateKey is the context key of the per-stream State.
	StateKey any
	// NewState makes a stream's state; ctx is its connection's context
	// (net/http's LocalAddrContextKey), remote its peer address.
	NewState func(ctx context.Context, remote string) State
}

// Server serves the HTTP/2 connections handed to it.
type Server struct {
	cfg Config

	mu       sync.Mutex
	conns    map[*h2Conn]struct{}
	shutdown bool
}

// New checks cfg and returns a Server.
func New(cfg Config) (*Server, error) {
	if cfg.Handler == nil || cfg.MaxStreams <= 0 || cfg.MaxHeaderBytes <= 0 || cfg.MaxBody <= 0 ||
		cfg.ReadTimeout <= 0 || cfg.IdleTimeout <= 0 || cfg.WriteTimeout <= 0 ||
		cfg.Logger == nil || cfg.Dispatch == nil || cfg.StateKey == nil || cfg.NewState == nil {
		return nil, errors.New("h2: incomplete Config")
	}
	if cfg.CountError == nil {
		cfg.CountError = func(string) {}
	}
	return &Server{cfg: cfg, conns: map[*h2Conn]struct{}{}}, nil
}

// ServeTLS is the http.Server.TLSNextProto function for "h2". h carries
// net/http's per-connection context (ServerContextKey, LocalAddrContextKey).
func (s *Server) ServeTLS(_ *http.Server, tc *tls.Conn, h http.Handler) {
	ctx := context.Background()
	if bc, ok := h.(interface{ BaseContext() context.Context }); ok {
		ctx = bc.BaseContext()
	}
	st := tc.ConnectionState()
	s.ServeConn(ctx, tc, &st)
}

// ServeConn serves one HTTP/2 connection (after TLS, before the client's
// preface) until it ends; the caller closes nc.
func (s *Server) ServeConn(ctx context.Context, nc net.Conn, st *tls.ConnectionState) {
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

// Shutdown sends GOAWAY on every connection; each closes once its open
// streams are answered. Register it with http.Server.RegisterOnShutdown.
func (s *Server) Shutdown() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.shutdown = true
	for c := range s.conns {
		c.shutdown()
	}
}
