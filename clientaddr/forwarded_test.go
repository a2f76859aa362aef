package clientaddr

import (
	"net/http"
	"net/netip"
	"testing"
)

func TestClientFromHeaders(t *testing.T) {
	trusted := Trusted{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("10.0.0.0/8")}
	proxy := netip.MustParseAddrPort("127.0.0.1:40000")
	stranger := netip.MustParseAddrPort("203.0.113.9:40000")
	tests := []struct {
		name    string
		peer    netip.AddrPort
		headers map[string][]string
		want    string
	}{
		{"no headers", proxy, nil, "127.0.0.1:40000"},
		{"xff from trusted", proxy, map[string][]string{"X-Forwarded-For": {"198.51.100.1"}}, "198.51.100.1:0"},
		{"xff from untrusted ignored", stranger, map[string][]string{"X-Forwarded-For": {"198.51.100.1"}}, "203.0.113.9:40000"},
		{"xff chain skips trusted hops", proxy, map[string][]string{"X-Forwarded-For": {"192.0.2.66, 198.51.100.1, 10.1.2.3"}}, "198.51.100.1:0"},
		{"xff spoofed left entry not used", proxy, map[string][]string{"X-Forwarded-For": {"1.1.1.1", "198.51.100.1"}}, "198.51.100.1:0"},
		{"xff ipv6 with port", proxy, map[string][]string{"X-Forwarded-For": {"[2001:db8::5]:4711"}}, "[2001:db8::5]:4711"},
		{"xff garbage stops at last proxy", proxy, map[string][]string{"X-Forwarded-For": {"198.51.100.1, bogus, 10.0.0.2"}}, "10.0.0.2:0"},
		{"xff all trusted", proxy, map[string][]string{"X-Forwarded-For": {"10.0.0.1, 10.0.0.2"}}, "10.0.0.1:0"},
		{"forwarded", proxy, map[string][]string{"Forwarded": {`for=198.51.100.1;proto=https;by=127.0.0.1`}}, "198.51.100.1:0"},
		{"forwarded quoted ipv6 port", proxy, map[string][]string{"Forwarded": {`For="[2001:db8:cafe::17]:4711"`}}, "[2001:db8:cafe::17]:4711"},
		{"forwarded preferred over xff", proxy, map[string][]string{"Forwarded": {"for=198.51.100.2"}, "X-Forwarded-For": {"198.51.100.1"}}, "198.51.100.2:0"},
		{"forwarded unknown", proxy, map[string][]string{"Forwarded": {"for=unknown"}}, "127.0.0.1:40000"},
		{"forwarded multiple lines", proxy, map[string][]string{"Forwarded": {"for=192.0.2.60", "for=10.9.9.9, for=10.8.8.8"}}, "192.0.2.60:0"},
		{"forwarded without for", proxy, map[string][]string{"Forwarded": {"proto=https"}}, "127.0.0.1:40000"},
		{"mapped ipv4 peer", netip.MustParseAddrPort("[::ffff:127.0.0.1]:1"), map[string][]string{"X-Forwarded-For": {"198.51.100.1"}}, "198.51.100.1:0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for k, vs := range tt.headers {
				for _, v := range vs {
					h.Add(k, v)
				}
			}
			got := ClientFromHeaders(tt.peer, h, trusted)
			if got != netip.MustParseAddrPort(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func FuzzClientFromHeaders(f *testing.F) {
	f.Add("198.51.100.1, 10.0.0.1", `for="[2001:db8::1]:53";proto=https`)
	f.Add("", "for=unknown")
	f.Add("[::1", `for="`)
	trusted := Trusted{netip.MustParsePrefix("10.0.0.0/8")}
	peer := netip.MustParseAddrPort("10.0.0.9:1")
	f.Fuzz(func(t *testing.T, xff, fwd string) {
		h := http.Header{"X-Forwarded-For": {xff}}
		if fwd != "" {
			h.Set("Forwarded", fwd)
		}
		got := ClientFromHeaders(peer, h, trusted)
		if !got.IsValid() {
			t.Fatalf("invalid client address from %q / %q", xff, fwd)
		}
	})
}
