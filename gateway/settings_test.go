package gateway

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/dnsward/dnsward/doq"
	"github.com/dnsward/dnsward/internal/frontendtest"

	"github.com/miekg/dns"

	"github.com/dnsward/dnsward/internal/dnstest"
	"github.com/dnsward/dnsward/internal/metricstest"
	"github.com/dnsward/dnsward/resolver"
)

// TestCacheSize checks README's cache.size contract: the default caches, and
// 0 turns the cache off so every query reaches the upstream.
func TestCacheSize(t *testing.T) {
	tests := []struct {
		cache       string
		wantUpQuery int64 // upstream queries for three identical client queries
	}{
		{"", 1},
		{"cache: {size: 0}", 3},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q", tt.cache), func(t *testing.T) {
			auth := dnstest.StartAuthority(t, []string{"www.example. 300 IN A 127.0.0.1"}, nil)
			addr := fmt.Sprintf("127.0.0.1:%d", dnstest.FreePort(t))
			runGateway(t, loadYAML(t, t.TempDir(), fmt.Sprintf("listen: {dns: [%q]}\nupstreams: [udp://%s]\n%s\n", addr, auth.Addr, tt.cache)), nil)
			for i := 0; i < 3; i++ {
				if resp := exchange(t, "udp", addr, "www.example.", dns.TypeA); len(resp.Answer) != 1 {
					t.Fatalf("query %d: %v", i, resp)
				}
			}
			if got := auth.Queries.Load(); got != tt.wantUpQuery {
				t.Fatalf("upstream saw %d queries, want %d", got, tt.wantUpQuery)
			}
		})
	}
}

// TestReloadAppliesRateLimit checks that Reload (SIGHUP) applies a new
// rate_limit to the running limiter: with qps 1 the second TCP query in a row
// is REFUSED, and after reloading qps 1000 a burst of queries passes.
func TestReloadAppliesRateLimit(t *testing.T) {
	auth := dnstest.StartAuthority(t, []string{"www.example. 300 IN A 127.0.0.1"}, nil)
	addr := fmt.Sprintf("127.0.0.1:%d", dnstest.FreePort(t))
	dir := t.TempDir()
	text := "listen: {dns: [%q]}\nupstreams: [udp://%s]\nrate_limit: {qps: %d, burst: %d}\n"
	g := runGateway(t, loadYAML(t, dir, fmt.Sprintf(text, addr, auth.Addr, 1, 1)), nil)
	rcodes := func(n int) (refused int) {
		for i := 0; i < n; i++ {
			if exchange(t, "tcp", addr, "www.example.", dns.TypeA).Rcode == dns.RcodeRefused {
				refused++
			}
		}
		return refused
	}
	if refused := rcodes(3); refused < 2 {
		t.Fatalf("qps 1, burst 1: %d of 3 back-to-back queries refused, want at least 2", refused)
	}
	if err := g.Reload(loadYAML(t, dir, fmt.Sprintf(text, addr, auth.Addr, 1000, 1000))); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond) // the emptied bucket refills at the new rate
	if refused := rcodes(10); refused != 0 {
		t.Fatalf("after reloading qps 1000: %d of 10 queries refused", refused)
	}
	unlimited := fmt.Sprintf("listen: {dns: [%q]}\nupstreams: [udp://%s]\n", addr, auth.Addr)
	if err := g.Reload(loadYAML(t, dir, unlimited)); err == nil || !strings.Contains(err.Error(), "added or removed: that takes effect on restart") {
		t.Fatalf("reloading without rate_limit: %v, want an error saying it takes a restart", err)
	}
}

// TestReloadAppliesMaxConns checks that rate_limit.max_conns_per_prefix is
// one bound across every transport and that Reload (SIGHUP) applies it: with
// 2, a DoT and a DoH connection from 127.0.0.1 are made and a third, over
// DoQ, is refused; after reloading 6 one more connection on each is made
// (and, over DoT, answered). 6 leaves room for a ghost: the refused QUIC
// client's ClientHello spans two Initial packets, and the second, if the
// server reads it only after the reload, opens a handshake that holds a
// slot until it times out.
func TestReloadAppliesMaxConns(t *testing.T) {
	free := func() string { return fmt.Sprintf("127.0.0.1:%d", dnstest.FreePort(t)) }
	dotAddr, dohAddr, doqAddr := free(), free(), free()
	dir := t.TempDir()
	text := "listen: {dot: [%q], doh: [%q], doq: [%q]}\nupstreams: [udp://127.0.0.1:9]\ndata_dir: %s\n" +
		"tls: {mode: self_signed}\nrate_limit: {qps: 1000, burst: 1000, max_conns_per_prefix: %d}\n"
	yaml := func(max int) string {
		return fmt.Sprintf(text, dotAddr, dohAddr, doqAddr, filepath.Join(dir, "data"), max)
	}
	g := runGateway(t, loadYAML(t, dir, yaml(2)), nil)
	pool := caPool(t, g)
	tlsFor := func(alpn string) *tls.Config {
		return &tls.Config{RootCAs: pool, ServerName: "localhost", NextProtos: []string{alpn}}
	}
	dials := []struct {
		name string
		dial func() (io.Closer, error)
	}{
		{"dot", func() (io.Closer, error) { return tls.Dial("tcp", dotAddr, tlsFor("dot")) }},
		{"doh", func() (io.Closer, error) { return tls.Dial("tcp", dohAddr, tlsFor("h2")) }},
		{"doq", func() (io.Closer, error) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			c, err := quic.DialAddr(ctx, doqAddr, tlsFor(doq.ALPN), nil)
			if err != nil {
				return nil, err
			}
			return closerFunc(func() error { return c.CloseWithError(0, "") }), nil
		}},
	}
	var open []io.Closer
	t.Cleanup(func() {
		for _, c := range open {
			c.Close()
		}
	})
	for _, d := range dials[:2] {
		c, err := d.dial()
		if err != nil {
			t.Fatalf("%s: connection within the bound: %v", d.name, err)
		}
		open = append(open, c)
	}
	if c, err := dials[2].dial(); err == nil {
		c.Close()
		t.Fatal("doq: a third connection from the prefix accepted with max_conns_per_prefix 2 (DoT and DoH hold two)")
	}
	if err := g.Reload(loadYAML(t, dir, yaml(6))); err != nil {
		t.Fatal(err)
	}
	for _, d := range dials {
		c, err := d.dial()
		if err != nil {
			t.Fatalf("%s: after reloading max_conns_per_prefix 6: %v", d.name, err)
		}
		open = append(open, c)
	}
	conn := &dns.Conn{Conn: open[len(open)-len(dials)].(*tls.Conn)} // the second DoT connection answers
	if err := conn.WriteMsg(new(dns.Msg).SetQuestion("localhost.", dns.TypeA)); err != nil {
		t.Fatal(err)
	}
	if resp, err := conn.ReadMsg(); err != nil || resp.Rcode != dns.RcodeSuccess {
		t.Fatalf("query on the second DoT connection: %v %v", resp, err)
	}
}

// closerFunc adapts a function to io.Closer.
type closerFunc func() error

func (f closerFunc) Close() error { return f() }

// TestDeclaredListFormat: "#rpz" after a list's path declares its format,
// for files whose content alone does not say: an RPZ of local data only
// reads like a broken hosts file.
func TestDeclaredListFormat(t *testing.T) {
	auth := dnstest.StartAuthority(t, []string{"blocked.example. 300 IN A 127.0.0.9"}, nil)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "policy.txt"), []byte("blocked.example A 127.0.0.77\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", dnstest.FreePort(t))
	runGateway(t, loadYAML(t, dir, fmt.Sprintf(`
listen: {dns: [%q]}
upstreams: [udp://%s]
data_dir: %s/data
lists: {adult: ["policy.txt#rpz"]}
default_profile: child
profiles:
  child: {block: [adult]}
`, addr, auth.Addr, dir)), nil)
	resp := exchange(t, "udp", addr, "blocked.example.", dns.TypeA)
	if len(resp.Answer) != 1 || !strings.Contains(resp.Answer[0].String(), "127.0.0.77") {
		t.Fatalf("the RPZ local data did not apply: %v", resp)
	}
}

// TestPlainUDPSettings checks README's listen.udp_buffer and
// listen.udp_max_pending contracts: the sockets get the buffer (the log line
// says so), and with an upstream that answers after a second, of five
// distinct misses two wait for it while three are answered SERVFAIL with
// EDE 0 at once and counted.
func TestPlainUDPSettings(t *testing.T) {
	auth := dnstest.StartAuthority(t, nil, func(string) time.Duration { return time.Second })
	addr := fmt.Sprintf("127.0.0.1:%d", dnstest.FreePort(t))
	var logs frontendtest.Logs
	g := runGateway(t, loadYAML(t, t.TempDir(), fmt.Sprintf(
		"listen: {dns: [%q], udp_buffer: 65536, udp_max_pending: 2}\nupstreams: [udp://%s]\n", addr, auth.Addr)),
		slog.New(slog.NewTextHandler(&logs, nil)))
	if !strings.Contains(logs.String(), "asked_bytes=65536 receive_bytes=65536 send_bytes=65536") {
		t.Errorf("no log line with the buffers asked for:\n%s", logs.String())
	}
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	for i := range 5 {
		q := new(dns.Msg).SetQuestion(fmt.Sprintf("miss%d.example.", i), dns.TypeA)
		q.SetEdns0(1232, false)
		b, _ := q.Pack()
		c.Write(b)
	}
	var refused, resolved int
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	buf := make([]byte, 1232)
	for refused+resolved < 5 {
		n, err := c.Read(buf)
		if err != nil {
			t.Fatalf("%d refused, %d resolved: %v", refused, resolved, err)
		}
		r := new(dns.Msg)
		if err := r.Unpack(buf[:n]); err != nil {
			t.Fatal(err)
		}
		switch ede, ok := resolver.EDE(r); {
		case r.Rcode == dns.RcodeServerFailure && ok && ede.InfoCode == dns.ExtendedErrorCodeOther:
			if d := time.Since(start); d > 500*time.Millisecond {
				t.Errorf("a refused miss was answered after %v", d)
			}
			refused++
		case r.Rcode == dns.RcodeNameError:
			resolved++
		default:
			t.Fatalf("unexpected answer %v", r)
		}
	}
	if refused != 3 || resolved != 2 {
		t.Errorf("%d refused, %d resolved; want 3 and 2", refused, resolved)
	}
	if got := metricstest.Must(t, g.registry, "dnsward_udp_misses_refused_total"); got != 3 {
		t.Errorf("dnsward_udp_misses_refused_total %v, want 3", got)
	}
	metricstest.Must(t, g.registry, "dnsward_udp_receive_drops_total", "socket", "0")
}
