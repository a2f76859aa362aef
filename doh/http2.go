package doh

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"time"

	h2engine "github.com/dnsward/dnsward/doh/internal/h2"
	"github.com/dnsward/dnsward/resolver"
)

// The HTTP/2 engines Config.HTTP2 chooses between.
const (
	// HTTP2Builtin is dnsward's own engine (doh/internal/h2), the default.
	HTTP2Builtin = "builtin"
	// HTTP2Stdlib is net/http's HTTP/2 server (x/net/http2, bundled).
	HTTP2Stdlib = "stdlib"
)

// streamKey is the context key of a builtin-engine stream's *streamState.
type streamKey struct{}

// streamState is what the handler keeps per stream of the builtin HTTP/2
// and HTTP/3 engines (h2engine.State, h3engine.State); a nil *streamState
// stands for HTTP/1 and the stdlib engines.
type streamState struct {
	facts    connFacts         // the connection's addresses, worked out once per stream
	received time.Time         // when the engine read the request's HEADERS
	offer    *resolver.Request // the request replay declined on the reader (replayNow)
	req      resolver.Request  // the storage of the stream's resolver request
}

// Begin readies st for a request read at received.
func (st *streamState) Begin(received time.Time) { st.received, st.offer = received, nil }

// stateOf returns r's builtin-engine stream state, or nil.
func stateOf(r *http.Request) *streamState {
	st, _ := r.Context().Value(streamKey{}).(*streamState)
	return st
}

// offered is the request replay declined on the reader, or nil.
func (st *streamState) offered() *resolver.Request {
	if st == nil {
		return nil
	}
	return st.offer
}

// receivedAt is when the request arrived: as the engine read it, else now.
func (st *streamState) receivedAt() time.Time {
	if st == nil || st.received.IsZero() {
		return time.Now()
	}
	return st.received
}

// factsOf returns r's connection addresses.
func (st *streamState) factsOf(r *http.Request) connFacts {
	if st == nil {
		return readFacts(r.Context(), r.RemoteAddr)
	}
	return st.facts
}

// h2Handler is the Handler as the builtin engines call it: on a worker
// already, and (HTTP/2) on the reader for replay.
type h2Handler struct{ h *Handler }

// ServeHTTP answers r on the calling worker.
func (e h2Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { e.h.serveHTTP(w, r) }

// Replay answers r from replay on the reader if it can.
func (e h2Handler) Replay(w http.ResponseWriter, r *http.Request) bool {
	return e.h.replayNow(w, r)
}

// setupHTTP2 serves ALPN h2 on srv with the configured engine.
func (s *Server) setupHTTP2(srv *http.Server) error {
	if s.cfg.HTTP2 == HTTP2Stdlib {
		srv.HTTP2 = &http.HTTP2Config{MaxConcurrentStreams: int(s.cfg.MaxStreams)}
		return nil
	}
	e, err := s.builtinH2()
	if err != nil {
		return fmt.Errorf("doh: HTTP/2 engine: %w", err)
	}
	srv.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){"h2": e.ServeTLS}
	srv.RegisterOnShutdown(e.Shutdown)
	return nil
}

// builtinH2 builds the builtin HTTP/2 engine for s's handler.
func (s *Server) builtinH2() (*h2engine.Server, error) {
	return h2engine.New(h2engine.Config{
		Handler:        h2Handler{s.handler},
		MaxStreams:     int(s.cfg.MaxStreams),
		MaxHeaderBytes: s.cfg.MaxHeaderBytes,
		MaxBody:        s.cfg.MaxBody,
		ReadTimeout:    s.cfg.ReadTimeout,
		IdleTimeout:    s.cfg.IdleTimeout,
		WriteTimeout:   s.cfg.ReadTimeout + s.cfg.QueryTimeout,
		Logger:         s.cfg.Logger,
		CountError:     s.m.h2error,
		Dispatch:       func(j h2engine.Job) bool { return dispatch(j) },
		StateKey:       streamKey{},
		NewState: func(ctx context.Context, remote string) h2engine.State {
			return &streamState{facts: readFacts(ctx, remote)}
		},
	})
}
