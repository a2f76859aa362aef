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
	"sync/atomic"
	"time"

	"github.com/dnsward/dnsward/internal/frontend"

	"github.com/dnsward/dnsward/internal/transport"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dnsward/dnsward/clientaddr"
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
	// Registry receives the plain listener's own metrics (UDP receive
	// drops, refused misses); nil: not exported.
	Registry prometheus.Registerer

	UDPSockets int // SO_REUSEPORT sockets per address; 0: one per CPU
	// UDPReaders is the number of goroutines reading each UDP socket; 0: 1.
	// The kernel hashes each client address and port to one socket, so a
	// flood from one source lands on one socket: more readers take it off
	// on more cores, refusing it faster when the limiter runs in userspace.
	UDPReaders int
	// UDPBuffer is each UDP socket's receive and send buffer in bytes,
	// forced past the kernel's caps where the process may (CAP_NET_ADMIN);
	// 0: 8 MiB.
	UDPBuffer int
	// UDPMaxInflight is the number of workers per UDP socket for queries
	// replay does not answer; 0: 512. With the chain's upstream wrapped in
	// MissAware, a query that goes upstream leaves its worker for a new one,
	// so misses never hold the workers that answer cache hits.
	UDPMaxInflight int
	// UDPMaxPending bounds the UDP queries of all sockets waiting on the
	// upstreams (see MissAware); 0: 4096.
	UDPMaxPending  int
	TCPIdleTimeout time.Duration // 0: 10s (RFC 7766 §6.2.3)
	TCPMaxInflight int           // concurrent queries per TCP connection; 0: 100
	// Conns admits each TCP connection (ratelimit.Conns); nil: unbounded.
	Conns frontend.ConnAdmitter

	// Limiter, with LimitUDP, charges each UDP packet right after it is read
	// (when XDP is not doing it in the kernel); TCP queries are charged by
	// the chain's admission step. nil: no limits. A datagram a trusted proxy
	// relayed is charged here even without LimitUDP: XDP sees only the proxy.
	Limiter  *ratelimit.Limiter
	LimitUDP bool

	// ProxyProtocol makes every datagram and TCP connection from
	// TrustedProxies carry a PROXY v2 header (dnsdist's useProxyProtocol),
	// whose client and destination addresses then stand for the socket's:
	// for rate limits, connection bounds, the profile by local address and
	// the query log. A datagram or connection from a trusted proxy without
	// a header, or with one that does not parse, and a header from any
	// other peer are dropped (counted in dnsward_proxy_header_rejected_total).
	ProxyProtocol bool
	// TrustedProxies are the proxies whose headers are believed; required
	// with ProxyProtocol.
	TrustedProxies []netip.Prefix
}

// Server is a running set of plain DNS listeners.
type Server struct {
	cfg      Config
	replayer resolver.Replayer // cfg.Handler, when it replays; else nil
	udp      []*net.UDPConn
	// pending counts the UDP queries waiting on upstreams (MissAware), at
	// most cfg.UDPMaxPending; missesRefused those refused over the bound.
	pending       atomic.Int64
	missesRefused prometheus.Counter
	tcp           []net.Listener
	// trusted is nil without ProxyProtocol, which keeps the UDP read loop
	// to one nil check per datagram; rejects count refused headers.
	trusted                clientaddr.Trusted
	rejectsUDP, rejectsTCP *clientaddr.Rejects
	wg                     sync.WaitGroup  // every goroutine the server started
	ctx                    context.Context // cancelled to abort everything
	cancel                 context.CancelFunc
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
	if cfg.UDPBuffer < 0 || cfg.UDPMaxPending < 0 || cfg.UDPReaders < 0 {
		return nil, errors.New("plain: UDP buffer, readers and pending bound must not be negative")
	}
	if cfg.ProxyProtocol && len(cfg.TrustedProxies) == 0 {
		return nil, errors.New("plain: ProxyProtocol needs TrustedProxies")
	}
	for _, p := range cfg.TrustedProxies {
		if !p.IsValid() {
			return nil, errors.New("plain: invalid prefix in TrustedProxies")
		}
	}
	if cfg.UDPReaders == 0 {
		cfg.UDPReaders = 1
	}
	if cfg.UDPBuffer == 0 {
		cfg.UDPBuffer = DefaultUDPBuffer
	}
	if cfg.UDPMaxInflight <= 0 {
		cfg.UDPMaxInflight = 512
	}
	if cfg.UDPMaxPending == 0 {
		cfg.UDPMaxPending = 4096
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
	s := &Server{cfg: cfg, missesRefused: prometheus.NewCounter(prometheus.CounterOpts{
		Name: "dnsward_udp_misses_refused_total",
		Help: "UDP queries answered SERVFAIL at once because udp_max_pending queries were waiting on upstreams already.",
	})}
	if cfg.ProxyProtocol {
		s.trusted = clientaddr.Trusted(cfg.TrustedProxies)
		var err error
		if s.rejectsUDP, err = clientaddr.NewRejects(cfg.Registry, "udp"); err != nil {
			return nil, fmt.Errorf("plain: %w", err)
		}
		if s.rejectsTCP, err = clientaddr.NewRejects(cfg.Registry, "tcp"); err != nil {
			return nil, fmt.Errorf("plain: %w", err)
		}
	}
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
	if err := s.register(); err != nil {
		s.closeSockets()
		return err
	}
	s.logUDPBuffers()
	for _, c := range s.udp {
		local := c.LocalAddr().(*net.UDPAddr).AddrPort().Addr().Unmap()
		sock := &udpSocket{c: c, jobs: make(chan *udpJob)}
		sock.readers.Store(int32(s.cfg.UDPReaders))
		for range s.cfg.UDPMaxInflight {
			s.wg.Add(1)
			go s.workUDP(sock)
		}
		for range s.cfg.UDPReaders {
			s.wg.Add(1)
			go s.readUDP(sock, local)
		}
	}
	for _, l := range s.tcp {
		s.wg.Add(1)
		go s.serveTCP(l)
	}
	return nil
}

// register exports the listener's metrics to cfg.Registry.
func (s *Server) register() error {
	if s.cfg.Registry == nil {
		return nil
	}
	drops := &udpDrops{}
	for _, c := range s.udp {
		ino, err := socketInode(c)
		if err != nil {
			return fmt.Errorf("plain: udp socket inode: %w", err)
		}
		drops.inodes = append(drops.inodes, ino)
	}
	pending := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "dnsward_udp_pending_misses",
		Help: "UDP queries waiting on upstreams.",
	}, func() float64 { return float64(s.pending.Load()) })
	for _, c := range []prometheus.Collector{drops, pending, s.missesRefused} {
		if err := s.cfg.Registry.Register(c); err != nil {
			return fmt.Errorf("plain: metrics: %w", err)
		}
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

// resolve parses wire and answers it through the handler in ctx (the
// server's, or one derived from it). It returns nil when nothing is to be
// sent back; query is nil when wire did not parse.
func (s *Server) resolve(ctx context.Context, wire []byte, req *resolver.Request) (query, resp *dns.Msg) {
	t := req.Transport
	q := new(dns.Msg)
	if err := q.Unpack(wire); err != nil {
		s.cfg.Metrics.Malformed(t, "unparsable")
		return nil, resolver.MalformedReply(wire)
	}
	req.Msg = q
	// No per-query deadline: the resolver bounds upstream work itself
	// (upstream_timeout), and a forced shutdown cancels s.ctx.
	resp, err := s.cfg.Handler.ServeDNS(ctx, req)
	if err != nil {
		if !errors.Is(err, resolver.ErrDrop) {
			s.cfg.Logger.Debug("plain: query not answered", "transport", t, "err", err)
		}
		return q, nil
	}
	return q, resp
}
