package loadgen

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
)

// client exchanges one query; implementations are safe for concurrent use
// and multiplex every in-flight query on their one connection.
type client interface {
	Exchange(ctx context.Context, wire []byte) ([]byte, error)
	Close() error
}

var (
	errBusy       = errors.New("all 65536 message IDs in flight")
	errHTTPStatus = errors.New("HTTP status not 200")
)

// target is a parsed -s server URL.
type target struct {
	scheme string // udp, tcp, tls, https, h3, quic
	addr   string // host:port
	host   string // for SNI
	url    string // DoH URL (https:// also for h3)
}

var defaultPorts = map[string]string{"udp": "53", "tcp": "53", "tls": "853", "https": "443", "h3": "443", "quic": "853"}

func parseTarget(s string) (target, error) {
	u, err := url.Parse(s)
	if err != nil {
		return target{}, fmt.Errorf("loadgen: server %q: %w", s, err)
	}
	port, ok := defaultPorts[u.Scheme]
	if !ok {
		return target{}, fmt.Errorf("loadgen: server %q: scheme must be one of udp, tcp, tls, https, h3, quic", s)
	}
	if u.Hostname() == "" {
		return target{}, fmt.Errorf("loadgen: server %q: no host", s)
	}
	if u.Port() != "" {
		port = u.Port()
	}
	t := target{scheme: u.Scheme, host: u.Hostname(), addr: net.JoinHostPort(u.Hostname(), port)}
	if u.Scheme == "https" || u.Scheme == "h3" {
		if u.Path == "" {
			u.Path = "/dns-query"
		}
		u.Scheme = "https"
		u.Host = t.addr
		t.url = u.String()
	}
	return t, nil
}

// dialer returns how to open one connection to t; single: one query per
// write (see Options.Single).
func (t target) dialer(tlsConf *tls.Config, timeout time.Duration, single bool) func(context.Context) (client, error) {
	withALPN := func(alpn ...string) *tls.Config {
		c := tlsConf.Clone()
		c.NextProtos = alpn
		if c.ServerName == "" {
			c.ServerName = t.host
		}
		return c
	}
	switch t.scheme {
	case "udp":
		return func(ctx context.Context) (client, error) { return dialUDP(ctx, t.addr, timeout) }
	case "tcp":
		return func(ctx context.Context) (client, error) { return dialStream(ctx, t.addr, nil, timeout, single) }
	case "tls":
		c := withALPN("dot")
		return func(ctx context.Context) (client, error) { return dialStream(ctx, t.addr, c, timeout, single) }
	case "quic":
		c := withALPN("doq")
		return func(ctx context.Context) (client, error) { return dialDoQ(ctx, t.addr, c, timeout, single) }
	case "https":
		c := withALPN("h2", "http/1.1")
		return func(context.Context) (client, error) { return newDoH(t.url, c.Clone(), false, timeout), nil }
	default: // h3
		c := withALPN("h3")
		return func(context.Context) (client, error) { return newDoH(t.url, c.Clone(), true, timeout), nil }
	}
}

// idZero reports whether the transport sends every query with ID 0.
func (t target) idZero() bool { return strings.Contains("https h3 quic", t.scheme) }
