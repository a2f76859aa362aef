package sockets

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dnsward/dnsward/internal/dnstest"
)

// socketFile binds network's addr and returns the socket as a file named
// name, as systemd passes it.
func socketFile(t *testing.T, name, network, addr string) *os.File {
	t.Helper()
	var f *os.File
	var err error
	if strings.HasPrefix(network, "tcp") {
		var l net.Listener
		if l, err = net.Listen(network, addr); err == nil {
			f, err = l.(*net.TCPListener).File()
			l.Close()
		}
	} else {
		var c net.PacketConn
		if c, err = net.ListenPacket(network, addr); err == nil {
			f, err = c.(*net.UDPConn).File()
			c.Close()
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fd, err := syscall.Dup(int(f.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	return os.NewFile(uintptr(fd), name)
}

// TestPoolMatches: a configured address takes the inherited socket of the
// same type bound to the same address and port, and anything else binds a
// socket of its own: an IPv4 unspecified address does not take a dual-stack
// [::] socket.
func TestPoolMatches(t *testing.T) {
	port := dnstest.FreePort(t)
	p := func(host string) string { return net.JoinHostPort(host, fmt.Sprint(port)) }
	for _, tc := range []struct {
		name, inheritNet, inheritAddr, network, addr string
		inherited                                    bool
	}{
		{"tcp same address", "tcp4", p("127.0.0.1"), "tcp", p("127.0.0.1"), true},
		{"udp same address", "udp4", p("127.0.0.1"), "udp", p("127.0.0.1"), true},
		{"udp for a tcp address", "udp4", p("127.0.0.1"), "tcp", p("127.0.0.1"), false},
		{"tcp for a udp address", "tcp4", p("127.0.0.1"), "udp", p("127.0.0.1"), false},
		{"another address", "tcp4", p("127.0.0.1"), "tcp", p("127.0.0.2"), false},
		{"empty host", "tcp", p("::"), "tcp", p(""), false},
		{"IPv4 unspecified, IPv6 socket", "tcp", p("::"), "tcp", p("0.0.0.0"), false},
		{"IPv4 unspecified", "tcp4", p("0.0.0.0"), "tcp", p("0.0.0.0"), true},
		{"IPv6 unspecified", "udp", p("::"), "udp", p("::"), true},
		{"specific address, unspecified socket", "tcp4", p("0.0.0.0"), "tcp", p("127.0.0.1"), false},
		{"host name", "tcp4", p("127.0.0.1"), "tcp", p("localhost"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := socketFile(t, "s", tc.inheritNet, tc.inheritAddr)
			pool := NewPool([]*os.File{f})
			var err error
			if strings.HasPrefix(tc.network, "tcp") {
				var l net.Listener
				if l, err = pool.Listen(context.Background(), &net.ListenConfig{}, tc.network, tc.addr); err == nil {
					defer l.Close()
				}
			} else {
				var c net.PacketConn
				if c, err = pool.ListenPacket(context.Background(), &net.ListenConfig{}, tc.network, tc.addr); err == nil {
					defer c.Close()
				}
			}
			pool.mu.Lock()
			taken := pool.socks[0].taken
			pool.mu.Unlock()
			if taken != tc.inherited {
				t.Fatalf("inherited socket taken: %v, want %v", taken, tc.inherited)
			}
			if tc.inherited && err != nil {
				t.Fatal(err)
			}
			if !tc.inherited {
				f.Close() // binding its own may have failed on the inherited socket's port: EADDRINUSE, as without systemd
			}
		})
	}
}

// TestSettle: the start-up line names the sockets taken; one no listener
// took is named in a warning and closed, so its port refuses connections.
func TestSettle(t *testing.T) {
	used := socketFile(t, "dot", "tcp4", "127.0.0.1:0")
	spare := socketFile(t, "extra", "tcp4", "127.0.0.1:0")
	d, err := describe(used)
	if err != nil {
		t.Fatal(err)
	}
	s, err := describe(spare)
	if err != nil {
		t.Fatal(err)
	}
	pool := NewPool([]*os.File{used, spare})
	l, err := pool.Listen(context.Background(), &net.ListenConfig{}, "tcp", d.addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var logs bytes.Buffer
	pool.Settle(slog.New(slog.NewTextHandler(&logs, nil)))
	for _, want := range []string{
		`inherited="dot=tcp/` + d.addr.String() + `"`,
		`level=WARN msg="sockets: an inherited socket is configured nowhere; closing it" name=extra socket=tcp/` + s.addr.String(),
	} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
	if c, err := net.DialTimeout("tcp", s.addr.String(), time.Second); !errors.Is(err, syscall.ECONNREFUSED) {
		if c != nil {
			c.Close()
		}
		t.Errorf("the unconfigured socket still listens (%v)", err)
	}
	c, err := net.DialTimeout("tcp", l.Addr().String(), time.Second)
	if err != nil {
		t.Fatalf("the inherited listener: %v", err)
	}
	c.Close()
}
