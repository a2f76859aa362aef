package clientaddr

import (
	"net/http"
	"net/netip"
	"strings"
)

// ClientFromHeaders returns the client address of an HTTP request that came
// from peer. When peer is a trusted proxy, the hops it reports are walked from
// the nearest to the farthest: trusted proxies are skipped and the first
// untrusted address is the client. Forwarded (RFC 7239) is preferred over
// X-Forwarded-For when both are present. A hop that is not an IP address
// ("unknown", an obfuscated name, garbage) stops the walk at the last proxy
// that could be vouched for. Addresses from headers carry their port, or 0.
func ClientFromHeaders(peer netip.AddrPort, h http.Header, trusted Trusted) netip.AddrPort {
	if !trusted.Contains(peer.Addr()) {
		return peer
	}
	hops, parse := h.Values("Forwarded"), forwardedFor
	if len(hops) == 0 {
		hops, parse = h.Values("X-Forwarded-For"), parseHop
	}
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		elems := strings.Split(hops[i], ",")
		for j := len(elems) - 1; j >= 0; j-- {
			hop, ok := parse(elems[j])
			if !ok {
				return client
			}
			client = hop
			if !trusted.Contains(hop.Addr()) {
				return client
			}
		}
	}
	return client
}

// forwardedFor extracts the for= parameter of one Forwarded element.
func forwardedFor(elem string) (netip.AddrPort, bool) {
	for pair := range strings.SplitSeq(elem, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
		if ok && strings.EqualFold(strings.TrimSpace(k), "for") {
			return parseHop(strings.Trim(strings.TrimSpace(v), `"`))
		}
	}
	return netip.AddrPort{}, false
}

// parseHop parses "192.0.2.1", "192.0.2.1:80", "2001:db8::1", "[2001:db8::1]"
// or "[2001:db8::1]:80".
func parseHop(s string) (netip.AddrPort, bool) {
	s = strings.TrimSpace(s)
	if a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")); err == nil {
		return netip.AddrPortFrom(a.Unmap(), 0), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), true
	}
	return netip.AddrPort{}, false
}
