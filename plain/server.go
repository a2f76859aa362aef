// Package plain serves unencrypted DNS over UDP and TCP (RFC 1035, RFC 7766).
// It only frames bytes: every query goes to one resolver.Handler.
package plain

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"time"

	"github.com/dnsward/dnsward/internal/frontend"

	"github.com/dnsward/dnsward/internal/transport"

	"github.com/miekg/dns"

	"github.com/dnsward/dnsward/ratelimit"
	"github.com/dnsward/dnsward/resolver"
)

// Config configures the plain DNS listeners.
type Config struct {
	Addrs    []string // ip:port; each gets UDP and TCP
	Handler  resolver.Handler
	Profiles *resolver.Profiles
	Metrics  *resolver.Metrics
	Logger   *slog.Logger

	UDPSockets     int           // SO_REUSEPORT sockets per address; 0: one per CPU
	UDPMaxInflight int           // queries being resolved per UDP socket (one worker each); 0: 512
	TCPIdleTimeout time.Duration // 0: 10s (RFC 7766 §6.2.3)
	TCPMaxInflight int           // concurrent queries per TCP connection; 0: 100
	// Conns admits each TCP connection (ratelimit.Conns); nil: unbounded.
	Conns frontend.ConnAdmitter

	// Limiter, with LimitUDP, charges each UDP packet right after it is read
	// (when XDP is not doing it in the kernel); TCP queries are charged by
	// the chain's admission step. nil: no limits.
	Limiter  *ratelimit.Limiter
	LimitUDP bool
}

// Server is a running set of plain DNS listeners.
type Server struct {
	cfg      Config
	replayer resolver.Replayer // cfg.Handler, when it replays; else nil
	udp      []*net.UDPConn
	tcp      []net.Listener
	wg       sync.WaitGroup  // every goroutine the server started
	ctx      context.Context // cancelled to abort everything
	cancel   context.CancelFunc
	// draining is cancelled when Shutdown starts: TCP read loops stop
	// reading while their in-flight answers are still written.
	draining     context.Context
	stopDraining context.CancelFunc
}

// New validates cfg; Start opens the sockets.
func New(cfg Config) (*Server, error) {
	if len(cfg.Addrs) == 0 {
		return nil, errors.New("plain: no addresses")
	}
	if cfg.Handler == nil || cfg.Profiles == nil {
		return nil, errors.New("plain: handler and profiles are required")
	}
	for _, a := range cfg.Addrs {
		if _, err := netip.ParseAddrPort(a); err != nil {
			return nil, fmt.Errorf("plain: listen address %q: %w", a, err)
		}
	}
	if cfg.UDPSockets <= 0 {
		cfg.UDPSockets = runtime.NumCPU()
	}
	if cfg.UDPMaxInflight <= 0 {
		cfg.UDPMaxInflight = 512
	}
	if cfg.TCPIdleTimeout <= 0 {
		cfg.TCPIdleTimeout = 10 * time.Second
	}
	if cfg.TCPMaxInflight <= 0 {
		cfg.TCPMaxInflight = 100
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{cfg: cfg}
	s.replayer, _ = cfg.Handler.(resolver.Replayer)
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.draining, s.stopDraining = context.WithCancel(context.Background())
	return s, nil
}

// Start binds every address (UDP and TCP) and begins serving. On error,
// whatever was opened is closed again.
func (s *Server) Start() error {
	for _, a := range s.cfg.Addrs {
		udp, l, err := s.bindAddr(netip.MustParseAddrPort(a))
		if err != nil {
			s.closeSockets()
			return err
		}
		s.udp = append(s.udp, udp...)
		s.tcp = append(s.tcp, l)
	}
	for _, c := range s.udp {
		local := c.LocalAddr().(*net.UDPAddr).AddrPort().Addr().Unmap()
		jobs := make(chan udpJob) // unbuffered: a hand-off succeeds only to an idle worker
		for range s.cfg.UDPMaxInflight {
			s.wg.Add(1)
			go s.workUDP(c, jobs)
		}
		s.wg.Add(1)
		go s.readUDP(c, local, jobs)
	}
	for _, l := range s.tcp {
		s.wg.Add(1)
		go s.serveTCP(l)
	}
	return nil
}

// UDPAddrs returns the bound UDP addresses (one per address, for tests using port 0).
func (s *Server) UDPAddrs() []netip.AddrPort {
	var out []netip.AddrPort
	seen := map[netip.AddrPort]bool{}
	for _, c := range s.udp {
		ap := c.LocalAddr().(*net.UDPAddr).AddrPort()
		if !seen[ap] {
			seen[ap] = true
			out = append(out, ap)
		}
	}
	return out
}

// TCPAddrs returns the bound TCP addresses.
func (s *Server) TCPAddrs() []netip.AddrPort {
	out := make([]netip.AddrPort, len(s.tcp))
	for i, l := range s.tcp {
		out[i] = l.Addr().(*net.TCPAddr).AddrPort()
	}
	return out
}

// Shutdown stops reading new queries, waits until ctx ends for the ones in
// flight to be answered (UDP sockets stay open for their answers), then
// closes every socket.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stopDraining()
	for _, l := range s.tcp {
		l.Close()
	}
	for _, c := range s.udp {
		c.SetReadDeadline(time.Now()) // readers see draining and return
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		s.cancel() // abort queries still running; their goroutines then end
		<-done
		err = fmt.Errorf("plain: shutdown: %w", ctx.Err())
	}
	s.cancel()
	s.closeSockets()
	return err
}

func (s *Server) closeSockets() {
	for _, c := range s.udp {
		c.Close()
	}
	for _, l := range s.tcp {
		l.Close()
	}
}

// request is the Request for queries from client that arrive on local: the
// profile is chosen once per socket or connection, not per query.
func (s *Server) request(client netip.AddrPort, local netip.Addr, t transport.Kind) resolver.Request {
	return resolver.Request{Client: client, Transport: t, Profile: s.cfg.Profiles.Select(resolver.Ingress{Local: local})}
}

// replay answers wire into dst from the bytes sent for the same query a
// moment ago, when the handler keeps them (resolver.Replayer).
func (s *Server) replay(req *resolver.Request, wire, dst []byte) ([]byte, bool) {
	if s.replayer == nil {
		return nil, false
	}
	ans, _, ok := s.replayer.Replay(req, wire, dst)
	return ans, ok
}

// sent offers ans, sent for wire, for replay.
func (s *Server) sent(req *resolver.Request, wire, ans []byte) {
	if s.replayer != nil {
		s.replayer.Sent(req, wire, ans)
	}
}

// resolve parses wire and answers it through the handler. It returns nil when
// nothing is to be sent back; query is nil when wire did not parse.
func (s *Server) resolve(wire []byte, req *resolver.Request) (query, resp *dns.Msg) {
	t := req.Transport
	q := new(dns.Msg)
	if err := q.Unpack(wire); err != nil {
		s.cfg.Metrics.Malformed(t, "unparsable")
		return nil, resolver.MalformedReply(wire)
	}
	req.Msg = q
	// No per-query deadline: the resolver bounds upstream work itself
	// (upstream_timeout), and a forced shutdown cancels s.ctx.
	resp, err := s.cfg.Handler.ServeDNS(s.ctx, req)
	if err != nil {
		if !errors.Is(err, resolver.ErrDrop) {
			s.cfg.Logger.Debug("plain: query not answered", "transport", t, "err", err)
		}
		return q, nil
	}
	return q, resp
}
