package doh

import (
	"context"
	"fmt"

	"github.com/quic-go/quic-go/http3"

	h3engine "github.com/dnsward/dnsward/doh/internal/h3"
)

// The HTTP/3 engines Config.HTTP3 chooses between.
const (
	// HTTP3Builtin is dnsward's own engine (doh/internal/h3), the default.
	HTTP3Builtin = "builtin"
	// HTTP3Stdlib is quic-go's HTTP/3 server (quic-go/http3), the way back.
	HTTP3Stdlib = "stdlib"
)

// h3Server is what Server needs of either HTTP/3 engine.
type h3Server interface {
	serve(l *limitQUICListener) error
	Shutdown(ctx context.Context) error
}

// stdlibH3 is quic-go/http3's server.
type stdlibH3 struct{ *http3.Server }

func (s stdlibH3) serve(l *limitQUICListener) error { return s.ServeListener(l) }

// builtinH3 is doh/internal/h3's server.
type builtinH3 struct{ *h3engine.Server }

func (s builtinH3) serve(l *limitQUICListener) error { return s.Serve(l) }

// newH3 builds the configured HTTP/3 engine for s's handler.
func (s *Server) newH3() (h3Server, error) {
	if s.cfg.HTTP3 == HTTP3Stdlib {
		return stdlibH3{&http3.Server{Handler: s.handler, MaxHeaderBytes: s.cfg.MaxHeaderBytes, IdleTimeout: s.cfg.IdleTimeout}}, nil
	}
	e, err := h3engine.New(h3engine.Config{
		Handler:        h2Handler{s.handler}, // on a worker already
		MaxHeaderBytes: s.cfg.MaxHeaderBytes,
		MaxBody:        s.cfg.MaxBody,
		ReadTimeout:    s.cfg.ReadTimeout,
		IdleTimeout:    s.cfg.IdleTimeout,
		WriteTimeout:   s.cfg.ReadTimeout + s.cfg.QueryTimeout,
		Logger:         s.cfg.Logger,
		Dispatch:       func(j h3engine.Job) bool { return dispatch(j) },
		StateKey:       streamKey{},
		NewState: func(ctx context.Context, remote string) h3engine.State {
			return &streamState{facts: readFacts(ctx, remote)}
		},
	})
	if err != nil {
		return nil, fmt.Errorf("doh: HTTP/3 engine: %w", err)
	}
	return builtinH3{e}, nil
}
