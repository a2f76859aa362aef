package doh

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"sync"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"

	"github.com/dnsward/dnsward/clientaddr"
	"github.com/dnsward/dnsward/resolver"
)

// Server runs DoH listeners: TLS over TCP (HTTP/1.1, HTTP/2), QUIC (HTTP/3)
// on the same ports, and optional cleartext HTTP/1.1.
type Server struct {
	cfg     Config
	handler *Handler
	m       *metrics
	limit   *clientLimit

	mu        sync.Mutex
	started   bool
	tlsAddrs  []netip.AddrPort
	plainAddr []netip.AddrPort
	https     *http.Server
	plain     *http.Server
	h3        h3Server
	closers   []func() error // QUIC listeners and their sockets, closed last
	wg        sync.WaitGroup
}

// New validates cfg and builds a Server; nothing is bound until Start.
func New(cfg Config) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	m, err := newMetrics(cfg.Metrics)
	if err != nil {
		return nil, err
	}
	h := &Handler{
		handler:      cfg.Handler,
		profiles:     cfg.Profiles,
		pages:        cfg.Pages,
		trusted:      clientaddr.Trusted(cfg.TrustedProxies),
		maxBody:      cfg.MaxBody,
		readTimeout:  cfg.ReadTimeout,
		queryTimeout: cfg.QueryTimeout,
		log:          cfg.Logger,
		m:            m,
	}
	h.replayer, _ = cfg.Handler.(resolver.Replayer)
	h.altSvc.Store(&map[int][]string{})
	return &Server{cfg: cfg, handler: h, m: m, limit: &clientLimit{conns: cfg.Conns, trusted: h.trusted}}, nil
}

// Handler returns the http.Handler serving DoH and JSON for every HTTP version.
func (s *Server) Handler() http.Handler { return s.handler }

// TLSAddrs returns the bound TLS addresses (TCP and UDP share each port).
func (s *Server) TLSAddrs() []netip.AddrPort {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]netip.AddrPort(nil), s.tlsAddrs...)
}

// PlainAddrs returns the bound cleartext addresses.
func (s *Server) PlainAddrs() []netip.AddrPort {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]netip.AddrPort(nil), s.plainAddr...)
}

// Start binds every listener and serves in the background; it returns once
// all are listening, or the first bind error (after closing what was bound).
// ctx bounds only the binding.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return errors.New("doh: already started")
	}
	s.started = true
	s.https, s.plain = s.httpServer("tls"), s.httpServer("plain")
	err := s.setupHTTP2(s.https)
	if err != nil {
		return err
	}
	s.https.TLSConfig = s.tcpTLS([]string{"h2", "http/1.1"})
	if s.h3, err = s.newH3(); err != nil {
		return err
	}

	var tcp, plain []net.Listener
	var quicLns []*quic.Listener
	fail := func(err error) error {
		for _, l := range append(tcp, plain...) {
			_ = l.Close()
		}
		s.closeQUIC()
		return err
	}
	altSvc := map[int][]string{}
	for _, addr := range s.cfg.Addrs {
		tl, ql, err := s.listenPair(ctx, addr)
		if err != nil {
			return fail(err)
		}
		tcp, quicLns = append(tcp, tl), append(quicLns, ql)
		ap := tl.Addr().(*net.TCPAddr).AddrPort()
		s.tlsAddrs = append(s.tlsAddrs, ap)
		altSvc[int(ap.Port())] = []string{`h3=":` + strconv.Itoa(int(ap.Port())) + `"; ma=86400`}
	}
	for _, addr := range s.cfg.PlainAddrs {
		l, err := s.listenTCP(ctx, addr)
		if err != nil {
			return fail(err)
		}
		plain = append(plain, l)
		s.plainAddr = append(s.plainAddr, l.Addr().(*net.TCPAddr).AddrPort())
	}
	s.handler.altSvc.Store(&altSvc)
	for _, l := range tcp {
		s.serve(func() error { return s.https.ServeTLS(l, "", "") })
	}
	for _, l := range plain {
		s.serve(func() error { return s.plain.Serve(l) })
	}
	for _, l := range quicLns {
		s.serve(func() error { return s.h3.serve(&limitQUICListener{Listener: l, lim: s.limit, m: s.m}) })
	}
	return nil
}

// serve runs one accept loop until shutdown.
func (s *Server) serve(loop func() error) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := loop(); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, quic.ErrServerClosed) {
			s.cfg.Logger.Error("doh: listener stopped", "error", err)
		}
	}()
}

// Shutdown stops accepting, lets in-flight requests finish until ctx ends,
// then closes every connection.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.started {
		return nil
	}
	var errs []error
	for _, srv := range []*http.Server{s.https, s.plain} {
		if err := srv.Shutdown(ctx); err != nil {
			errs = append(errs, err)
			_ = srv.Close() // out of time: drop what is left
		}
	}
	if err := s.h3.Shutdown(ctx); err != nil { // closes what is left itself
		errs = append(errs, err)
	}
	s.closeQUIC()
	s.wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("doh: shutdown: %w", err)
	}
	return nil
}

func (s *Server) closeQUIC() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		_ = s.closers[i]()
	}
	s.closers = nil
}

// httpServer builds the net/http server for the "tls" or "plain" listeners.
func (s *Server) httpServer(kind string) *http.Server {
	return &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: s.cfg.ReadTimeout,
		ReadTimeout:       s.cfg.ReadTimeout,
		WriteTimeout:      s.cfg.ReadTimeout + s.cfg.QueryTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		MaxHeaderBytes:    s.cfg.MaxHeaderBytes,
		ErrorLog:          newErrorLog(s.cfg.Logger, s.m),
		ConnState: func(_ net.Conn, st http.ConnState) {
			switch st {
			case http.StateNew:
				s.m.connDelta(kind, 1)
			case http.StateClosed, http.StateHijacked:
				s.m.connDelta(kind, -1)
			}
		},
	}
}

// tcpTLS clones the configured TLS config with HTTP ALPN and handshake counting.
func (s *Server) tcpTLS(protos []string) *tls.Config {
	if s.cfg.TLS == nil {
		return nil
	}
	c := s.cfg.TLS.Clone()
	// Keep protocols the certificate manager added (acme-tls/1 answers
	// TLS-ALPN-01 validations on this listener) after the HTTP ones.
	for _, p := range c.NextProtos {
		if !slices.Contains(protos, p) {
			protos = append(protos, p)
		}
	}
	c.NextProtos = protos
	s.countHandshakes(c, "tcp")
	return c
}

// quicTLS clones the QUIC TLS config (TLS3, else TLS) with ALPN h3.
func (s *Server) quicTLS() *tls.Config {
	base := s.cfg.TLS3
	if base == nil {
		base = s.cfg.TLS
	}
	c := http3.ConfigureTLSConfig(base)
	s.countHandshakes(c, "quic")
	return c
}

// countHandshakes counts completed handshakes on c, keeping any existing check.
func (s *Server) countHandshakes(c *tls.Config, listener string) {
	next := c.VerifyConnection
	c.VerifyConnection = func(cs tls.ConnectionState) error {
		if next != nil {
			if err := next(cs); err != nil {
				return err
			}
		}
		if cs.DidResume {
			s.m.handshake(listener, "resumed")
		} else {
			s.m.handshake(listener, "ok")
		}
		return nil
	}
}
