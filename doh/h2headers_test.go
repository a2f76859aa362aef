package doh

import (
	"fmt"
	"strings"
	"testing"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/net/http2"
)

// TestH2OversizedHeadersRefuseTheStream: a request whose headers pass
// MaxHeaderBytes, with one huge field or with a thousand small ones, is
// answered 431 on its stream; the connection goes on, its HPACK table in
// step with the client's (the next request refers to fields the client
// indexed meanwhile), and the refusal is counted by reason.
func TestH2OversizedHeadersRefuseTheStream(t *testing.T) {
	for _, tt := range []struct {
		name   string
		extra  func() []string
		reason string
	}{
		{"one field of 20 KB", func() []string { return []string{"x-filler", strings.Repeat("x", 20<<10)} }, "stream_431_field_too_large"},
		{"1000 fields", func() []string {
			var kv []string
			for i := range 1000 {
				kv = append(kv, fmt.Sprintf("x-field-%d", i), fmt.Sprintf("value-%d", i))
			}
			return kv
		}, "stream_431_header_list_too_large"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			env, _ := startH2Server(t, func(c *Config) { c.MaxHeaderBytes, c.Metrics = 16<<10, reg })
			c := dialH2(t, env, []http2.Setting{})
			c.get(1, "a.test.")
			if status, _ := c.response(1); status != "200" {
				t.Fatalf("first request: %s", status)
			}
			path := dohURL("", "", "/dns-query", query(t, "a.test.", dns.TypeA, 0, 0))[len("://"):]
			block := c.block(append([]string{":method", "GET", ":scheme", "https", ":authority", "dns.test", ":path", path}, tt.extra()...)...)
			const frameMax = 16384
			first := block[:min(len(block), frameMax)]
			c.check(c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, EndStream: true, EndHeaders: len(first) == len(block), BlockFragment: first}))
			for rest := block[len(first):]; len(rest) > 0; {
				n := min(len(rest), frameMax)
				c.check(c.fr.WriteContinuation(3, n == len(rest), rest[:n]))
				rest = rest[n:]
			}
			if status, _ := c.response(3); status != "431" {
				t.Fatalf("oversized request: status %s, want 431", status)
			}
			c.get(5, "a.test.")
			if status, _ := c.response(5); status != "200" {
				t.Fatalf("request after the refused one: status %s, want 200", status)
			}
			if got := metricValue(t, reg, "dnsward_doh_http2_errors_total", tt.reason); got != 1 {
				t.Fatalf("%s counted %v times, want 1", tt.reason, got)
			}
		})
	}
}
