package upstream

import (
	"testing"
	"time"
)

func TestParseEndpoint(t *testing.T) {
	tests := []struct {
		raw        string
		want       string // canonical String(); "" means an error
		serverName string
	}{
		{"127.0.0.1:5353", "udp://127.0.0.1:5353", ""},
		{"127.0.0.1", "udp://127.0.0.1:53", ""},
		{"udp://[::1]:53", "udp://[::1]:53", ""},
		{"TCP://127.0.0.1", "tcp://127.0.0.1:53", ""},
		{"tls://127.0.0.1#dns.test", "tls://127.0.0.1:853#dns.test", "dns.test"},
		{"tls://dns.test:8853", "tls://dns.test:8853", "dns.test"},
		{"https://127.0.0.1/dns-query", "https://127.0.0.1:443/dns-query", "127.0.0.1"},
		{"https://dns.test:8443", "https://dns.test:8443/dns-query", "dns.test"},
		{"https://dns.test/custom/path", "https://dns.test:443/custom/path", "dns.test"},
		{"h3://dns.test/dns-query", "h3://dns.test:443/dns-query", "dns.test"},
		{"quic://[::1]#dns.test", "quic://[::1]:853#dns.test", "dns.test"},
		{"", "", ""},
		{"ftp://127.0.0.1", "", ""},
		{"udp://", "", ""},
		{"udp://127.0.0.1:0", "", ""},
		{"udp://127.0.0.1:65536", "", ""},
		{"udp://127.0.0.1:x", "", ""},
		{"udp://127.0.0.1/path", "", ""},
		{"udp://127.0.0.1#name", "", ""},
		{"tls://127.0.0.1/path", "", ""},
		{"https://user:pw@dns.test/dns-query", "", ""},
		{"https://dns.test/dns-query?dns=x", "", ""},
		{"https://dns.test/dns-query#name", "", ""},
		{"udp://[::1", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			ep, err := parseEndpoint(tt.raw)
			if tt.want == "" {
				if err == nil {
					t.Fatalf("accepted, parsed as %s", ep)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ep.String() != tt.want || ep.serverName != tt.serverName {
				t.Errorf("got %s (name %q), want %s (name %q)", ep, ep.serverName, tt.want, tt.serverName)
			}
		})
	}
}

func TestNewValidation(t *testing.T) {
	tests := []struct {
		name string
		url  string
		opts Options
	}{
		{"bad url", "ftp://127.0.0.1", Options{}},
		{"negative timeout", "127.0.0.1", Options{Timeout: -time.Second}},
		{"negative idle", "127.0.0.1", Options{IdleTimeout: -time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if u, err := New(tt.url, tt.opts); err == nil {
				u.Close()
				t.Fatal("New accepted a bad configuration")
			}
		})
	}
}

// FuzzParseEndpoint: any string parses or fails cleanly, and a parsed
// endpoint's canonical form parses back to itself.
func FuzzParseEndpoint(f *testing.F) {
	for _, s := range []string{"127.0.0.1:53", "tls://[::1]:853#dns.test", "https://dns.test/q", "quic://a#b", "h3://x:1/y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		ep, err := parseEndpoint(raw)
		if err != nil {
			return
		}
		again, err := parseEndpoint(ep.String())
		if err != nil {
			t.Fatalf("canonical form %q of %q does not parse: %v", ep, raw, err)
		}
		if again != ep {
			t.Fatalf("%q → %+v → %q → %+v", raw, ep, ep.String(), again)
		}
	})
}

func TestLoopbackFor(t *testing.T) {
	tests := []struct{ in, want string }{
		{"localhost:853", "127.0.0.1:853"},
		{"child.localhost:8443", "127.0.0.1:8443"},
		{"Child.LOCALHOST.:8443", "127.0.0.1:8443"},
		{"notlocalhost:53", "notlocalhost:53"},
		{"localhost.example:53", "localhost.example:53"},
		{"[::1]:53", "[::1]:53"},
		{"127.0.0.5:53", "127.0.0.5:53"},
	}
	for _, tt := range tests {
		if got := loopbackFor(tt.in); got != tt.want {
			t.Errorf("loopbackFor(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
