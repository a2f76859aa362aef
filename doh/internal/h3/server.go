// Package h3 is dnsward's HTTP/3 server engine for DoH (RFC 9114) on
// quic-go's QUIC transport: requests run on long-lived workers instead of
// a goroutine each, per-request state is recycled per connection, field
// sections are QPACK-coded with the static table only (quic-go/qpack), and
// small answers leave through a per-connection batch writer (doq's), so
// that answers completing together share packets. Any http.Handler can be
// served; a request's body arrives whole (at most MaxBody+1 bytes) before
// its handler runs, and its answer is sent once the handler returns.
package h3

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/quic-go/quic-go"
)

// State is a handler's per-request state, found in a request's context
// under Config.StateKey; a connection reuses it for later requests.
type State interface {
	// Begin readies the state for a request read at received.
	Begin(received time.Time)
}

// Job is work a worker runs (Config.Dispatch); Run must not panic.
type Job interface{ Run() }

// Listener hands over accepted QUIC connections (ALPN h3).
type Listener interface {
	Accept(ctx context.Context) (*quic.Conn, error)
}

// Config configures the engine; every field is required.
type Config struct {
	Handler        http.Handler
	MaxHeaderBytes int // advertised MAX_FIELD_SECTION_SIZE; beyond it 431
	MaxBody        int // request body bytes kept; the handler sees one byte more of an oversized body
	ReadTimeout    time.Duration
	IdleTimeout    time.Duration // a connection without requests this long is closed
	WriteTimeout   time.Duration // bounds writing an answer too large to batch
	Logger         *slog.Logger
	// Dispatch runs a job on a worker; false: none free, the engine starts a goroutine.
	Dispatch func(Job) bool
	// StateKey is the context key of the per-request State.
	StateKey any
	// NewState makes a request's state; ctx is its connection's context
	// (with net/http's LocalAddrContextKey), remote its peer address.
	NewState func(ctx context.Context, remote string) State
}

// Server serves HTTP/3 connections.
type Server struct {
	cfg      Config
	settings []byte // our control stream's first bytes

	mu       sync.Mutex
	conns    map[*conn]struct{}
	shutdown bool
	stop     context.CancelFunc // ends Serve's accept loops
	stopCtx  context.Context
	closed   chan struct{} // closed when Shutdown runs out of time
	once     sync.Once
	wg       sync.WaitGroup // connections being served
}

// New checks cfg and returns a Server.
func New(cfg Config) (*Server, error) {
	if cfg.Handler == nil || cfg.MaxHeaderBytes <= 0 || cfg.MaxBody <= 0 || cfg.ReadTimeout <= 0 ||
		cfg.IdleTimeout <= 0 || cfg.WriteTimeout <= 0 || cfg.Logger == nil || cfg.Dispatch == nil ||
		cfg.StateKey == nil || cfg.NewState == nil {
		return nil, errors.New("h3: incomplete Config")
	}
	s := &Server{cfg: cfg, settings: settingsFrame(cfg.MaxHeaderBytes), conns: map[*conn]struct{}{}, closed: make(chan struct{})}
	s.stopCtx, s.stop = context.WithCancel(context.Background())
	return s, nil
}

// Serve serves the connections l accepts until Shutdown; it then returns
// http.ErrServerClosed.
func (s *Server) Serve(l Listener) error {
	for {
		qc, err := l.Accept(s.stopCtx)
		if err != nil {
			if s.stopCtx.Err() != nil {
				return http.ErrServerClosed
			}
			return err
		}
		c := newConn(s, qc)
		s.mu.Lock()
		if s.shutdown {
			s.mu.Unlock()
			qc.CloseWithError(codeNoError, "shutting down")
			continue
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			c.serve()
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
		}()
	}
}

// Shutdown stops accepting connections and sends GOAWAY on each: every
// connection closes once its requests are answered. When ctx ends first,
// what is left is closed and ctx's error returned.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.shutdown = true
	s.stop()
	for c := range s.conns {
		c.goAway()
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	s.once.Do(func() { close(s.closed) })
	s.mu.Lock()
	for c := range s.conns {
		c.qc.CloseWithError(codeNoError, "shutting down")
	}
	s.mu.Unlock()
	return ctx.Err()
}
