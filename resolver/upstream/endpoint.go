package upstream

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// scheme is an upstream protocol.
type scheme string

const (
	schemeUDP   scheme = "udp"
	schemeTCP   scheme = "tcp"
	schemeTLS   scheme = "tls"
	schemeHTTPS scheme = "https"
	schemeH3    scheme = "h3"
	schemeQUIC  scheme = "quic"
)

var defaultPorts = map[scheme]string{
	schemeUDP: "53", schemeTCP: "53", schemeTLS: "853", schemeHTTPS: "443", schemeH3: "443", schemeQUIC: "853",
}

// endpoint is a parsed upstream URL.
type endpoint struct {
	scheme     scheme
	addr       string // host:port, IPv6 in brackets
	host       string // host without port or brackets
	path       string // DoH path, "/dns-query" when empty
	serverName string // TLS name to verify
}

// parseEndpoint parses the URL forms listed on New.
func parseEndpoint(raw string) (endpoint, error) {
	if raw == "" {
		return endpoint{}, errors.New("empty upstream URL")
	}
	if !strings.Contains(raw, "://") {
		host, port, err := net.SplitHostPort(raw)
		if err != nil {
			host, port = raw, defaultPorts[schemeUDP]
		}
		raw = "udp://" + net.JoinHostPort(host, port)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return endpoint{}, fmt.Errorf("bad upstream URL %q: %w", raw, err)
	}
	ep := endpoint{scheme: scheme(strings.ToLower(u.Scheme))}
	port, ok := defaultPorts[ep.scheme]
	if !ok {
		return endpoint{}, fmt.Errorf("upstream URL %q: unsupported scheme %q (want udp, tcp, tls, https, h3 or quic)", raw, u.Scheme)
	}
	if u.User != nil || u.Opaque != "" || u.RawQuery != "" {
		return endpoint{}, fmt.Errorf("upstream URL %q: user info, opaque parts and queries are not supported", raw)
	}
	ep.host = u.Hostname()
	if !validHost(ep.host) {
		return endpoint{}, fmt.Errorf("upstream URL %q: bad host %q", raw, ep.host)
	}
	if p := u.Port(); p != "" {
		n, err := strconv.ParseUint(p, 10, 16)
		if err != nil || n == 0 {
			return endpoint{}, fmt.Errorf("upstream URL %q: bad port %q", raw, p)
		}
		port = p
	}
	ep.addr = net.JoinHostPort(ep.host, port)
	switch ep.scheme {
	case schemeHTTPS, schemeH3:
		if u.Fragment != "" {
			return endpoint{}, fmt.Errorf("upstream URL %q: DoH verifies the URL host; drop the #name", raw)
		}
		ep.path = u.EscapedPath()
		if ep.path == "" || ep.path == "/" {
			ep.path = "/dns-query"
		}
		ep.serverName = ep.host
	case schemeTLS, schemeQUIC:
		if u.Path != "" {
			return endpoint{}, fmt.Errorf("upstream URL %q: %s takes no path", raw, ep.scheme)
		}
		ep.serverName = u.Fragment
		if ep.serverName == "" {
			ep.serverName = ep.host
		}
	default:
		if u.Path != "" || u.Fragment != "" {
			return endpoint{}, fmt.Errorf("upstream URL %q: %s takes no path or #name", raw, ep.scheme)
		}
	}
	return ep, nil
}

// loopbackFor maps a host:port whose host is "localhost" or ends in
// ".localhost" to 127.0.0.1 on the same port (RFC 6761 §6.3: such names are
// loopback and must never be sent to a resolver); other addresses pass
// unchanged. The TLS name and the HTTP Host stay the original name, so
// profile selection by name still works against a local gateway.
func loopbackFor(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return net.JoinHostPort("127.0.0.1", port)
	}
	return addr
}

// String returns the canonical URL, used in logs and as the metrics label.
func (ep endpoint) String() string {
	s := string(ep.scheme) + "://" + ep.addr + ep.path
	if ep.serverName != "" && ep.serverName != ep.host && ep.path == "" {
		s += "#" + ep.serverName
	}
	return s
}

// url returns the DoH request URL.
func (ep endpoint) url() string { return "https://" + ep.addr + ep.path }

// validHost accepts an IP address or a host name of letters, digits, '-',
// '_' and dots.
func validHost(h string) bool {
	if h == "" {
		return false
	}
	if _, err := netip.ParseAddr(h); err == nil {
		return true
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}
