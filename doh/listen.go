package doh

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"syscall"

	"github.com/quic-go/quic-go"

	"github.com/dnsward/dnsward/clientaddr"
	"github.com/dnsward/dnsward/internal/sockets"
)

// portRetries bounds the attempts to find a port free on both TCP and UDP
// when an address asks for port 0.
const portRetries = 20

// listenPair binds TCP and UDP on the same port and starts QUIC on the UDP socket.
func (s *Server) listenPair(ctx context.Context, addr string) (net.Listener, *quic.Listener, error) {
	host, port, _ := net.SplitHostPort(addr)
	for attempt := 0; ; attempt++ {
		tl, err := s.listenTCP(ctx, addr)
		if err != nil {
			return nil, nil, err
		}
		bound := strconv.Itoa(tl.Addr().(*net.TCPAddr).Port)
		var lc net.ListenConfig
		pc, err := sockets.ListenPacket(ctx, &lc, "udp", net.JoinHostPort(host, bound))
		if err != nil {
			_ = tl.Close()
			if port == "0" && errors.Is(err, syscall.EADDRINUSE) && attempt < portRetries {
				continue
			}
			return nil, nil, fmt.Errorf("doh: listening on udp %s: %w", addr, err)
		}
		tr := &quic.Transport{Conn: pc, ConnContext: s.limit.quicConnContext}
		ql, err := tr.Listen(s.quicTLS(), &quic.Config{
			MaxIncomingStreams:   int64(s.cfg.MaxStreams),
			MaxIdleTimeout:       s.cfg.IdleTimeout,
			HandshakeIdleTimeout: s.cfg.ReadTimeout,
		})
		if err != nil {
			_ = tl.Close()
			_ = pc.Close()
			return nil, nil, fmt.Errorf("doh: starting QUIC on %s: %w", addr, err)
		}
		s.closers = append(s.closers, pc.Close, tr.Close, ql.Close)
		return tl, ql, nil
	}
}

// listenTCP binds a TCP address with the PROXY v2 and per-client wrappers.
func (s *Server) listenTCP(ctx context.Context, addr string) (net.Listener, error) {
	var lc net.ListenConfig
	l, err := sockets.Listen(ctx, &lc, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("doh: listening on tcp %s: %w", addr, err)
	}
	if s.cfg.ProxyProtocol {
		rejects, err := clientaddr.NewRejects(s.cfg.Metrics, "doh")
		if err != nil {
			_ = l.Close()
			return nil, fmt.Errorf("doh: %w", err)
		}
		if l, err = clientaddr.NewListener(l, clientaddr.ListenerConfig{
			Trusted:       s.handler.trusted,
			Rejects:       rejects,
			HeaderTimeout: s.cfg.ReadTimeout,
			Logger:        s.cfg.Logger,
		}); err != nil {
			return nil, fmt.Errorf("doh: %w", err)
		}
	}
	return &limitListener{Listener: l, lim: s.limit}, nil
}
