// Package sockets hands the transports the listening sockets that systemd
// passed (socket activation: LISTEN_FDS, LISTEN_PID, LISTEN_FDNAMES) in
// place of binding their own: each transport asks for its configured
// network and address and gets the inherited socket bound there, or a socket
// bound as usual when none was passed for it. Without LISTEN_FDS nothing
// changes: every call binds.
package sockets

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"

	"github.com/coreos/go-systemd/v22/activation"
)

// Pool holds inherited sockets until a listener takes them.
type Pool struct {
	mu    sync.Mutex
	socks []*inherited
}

// inherited is one socket passed by systemd.
type inherited struct {
	f     *os.File
	desc  desc  // zero when the socket is not an inet stream or datagram socket
	err   error // why desc is zero
	taken bool
}

// std is the process's pool, filled once by Inherit.
var std = &Pool{}

// Inherit takes the sockets systemd passed to this process, once at start,
// and unsets LISTEN_FDS, LISTEN_PID and LISTEN_FDNAMES so that no child
// takes them again. Without them it does nothing.
func Inherit() {
	std = NewPool(activation.Files(true))
}

// NewPool holds files, sockets passed by systemd, for Listen and
// ListenPacket; the pool owns them.
func NewPool(files []*os.File) *Pool {
	p := &Pool{}
	for _, f := range files {
		d, err := describe(f)
		p.socks = append(p.socks, &inherited{f: f, desc: d, err: err})
	}
	return p
}

// Listen returns the inherited stream socket bound to addr, else one lc
// binds.
func Listen(ctx context.Context, lc *net.ListenConfig, network, addr string) (net.Listener, error) {
	return std.Listen(ctx, lc, network, addr)
}

// ListenPacket returns the inherited datagram socket bound to addr, else
// one lc binds.
func ListenPacket(ctx context.Context, lc *net.ListenConfig, network, addr string) (net.PacketConn, error) {
	return std.ListenPacket(ctx, lc, network, addr)
}

// TakePacket returns the inherited datagram socket bound to addr, or nil
// when none was passed for it.
func TakePacket(network, addr string) (*net.UDPConn, error) { return std.TakePacket(network, addr) }

// Settle logs which sockets were inherited, then warns about and closes
// those that no listener took. Call it once every listener has started.
func Settle(log *slog.Logger) { std.Settle(log) }

// Listen returns p's stream socket bound to addr, else one lc binds.
func (p *Pool) Listen(ctx context.Context, lc *net.ListenConfig, network, addr string) (net.Listener, error) {
	if f := p.take(stream, network, addr); f != nil {
		defer f.Close()
		l, err := net.FileListener(f)
		if err != nil {
			return nil, fmt.Errorf("sockets: inherited %s: %w", f.Name(), err)
		}
		return l, nil
	}
	return lc.Listen(ctx, network, addr)
}

// ListenPacket returns p's datagram socket bound to addr, else one lc
// binds.
func (p *Pool) ListenPacket(ctx context.Context, lc *net.ListenConfig, network, addr string) (net.PacketConn, error) {
	c, err := p.TakePacket(network, addr)
	if c != nil || err != nil {
		return c, err
	}
	return lc.ListenPacket(ctx, network, addr)
}

// TakePacket returns p's datagram socket bound to addr, or nil.
func (p *Pool) TakePacket(network, addr string) (*net.UDPConn, error) {
	f := p.take(datagram, network, addr)
	if f == nil {
		return nil, nil
	}
	defer f.Close()
	c, err := net.FilePacketConn(f)
	if err != nil {
		return nil, fmt.Errorf("sockets: inherited %s: %w", f.Name(), err)
	}
	u, ok := c.(*net.UDPConn)
	if !ok {
		c.Close()
		return nil, fmt.Errorf("sockets: inherited %s is not a UDP socket", f.Name())
	}
	return u, nil
}

// take marks the socket of kind bound to network's addr taken and returns
// it, or nil.
func (p *Pool) take(k kind, network, addr string) *os.File {
	want, ok := parseConfigured(k, network, addr)
	if !ok {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range p.socks {
		if !s.taken && s.err == nil && s.desc.matches(want) {
			s.taken = true
			return s.f
		}
	}
	return nil
}

// Settle logs in one line which sockets were taken, then warns about each
// one that was not, naming it, and closes it.
func (p *Pool) Settle(log *slog.Logger) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.socks) == 0 {
		return
	}
	var used []string
	for _, s := range p.socks {
		if s.taken {
			used = append(used, s.f.Name()+"="+s.desc.String())
			continue
		}
		what := s.desc.String()
		if s.err != nil {
			what = s.err.Error()
		}
		log.Warn("sockets: an inherited socket is configured nowhere; closing it", "name", s.f.Name(), "socket", what)
		s.f.Close()
	}
	p.socks = nil
	log.Info("sockets: listeners inherited from systemd", "inherited", strings.Join(used, " "))
}
