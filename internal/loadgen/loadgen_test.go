package loadgen

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/quic-go/quic-go/http3"

	"github.com/dnsward/dnsward/doq"
	"github.com/dnsward/dnsward/dot"
	"github.com/dnsward/dnsward/internal/frontendtest"
	"github.com/dnsward/dnsward/internal/testpki"
)

func TestParseQueries(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []string // "name type"
		err      bool
	}{
		{"dnsperf lines", "www.example.com A\nexample.org AAAA\n\n# comment\nmx.example. mx\n", []string{"www.example.com. A", "example.org. AAAA", "mx.example. MX"}, false},
		{"type defaults to A", "example.net\n", []string{"example.net. A"}, false},
		{"unknown type", "example.net BOGUS\n", nil, true},
		{"too many fields", "example.net A extra\n", nil, true},
		{"empty", "\n# nothing\n", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			qs, err := ParseQueries(strings.NewReader(tc.in))
			if (err != nil) != tc.err {
				t.Fatalf("err = %v", err)
			}
			var got []string
			for _, q := range qs {
				got = append(got, q.Name+" "+dns.TypeToString[q.Type])
				var m dns.Msg
				if err := m.Unpack(q.Wire); err != nil || m.Question[0].Name != q.Name || m.Id != 0 {
					t.Fatalf("wire for %s: %v %v", q.Name, err, &m)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestHistogramQuantiles(t *testing.T) {
	var h histogram
	var all []time.Duration
	r := rand.New(rand.NewPCG(1, 2))
	for range 100000 {
		d := time.Duration(r.ExpFloat64()*2e6) + 20*time.Microsecond // ~2 ms mean
		h.record(d)
		all = append(all, d)
	}
	slices.Sort(all)
	for _, q := range []float64{0.5, 0.99, 0.999} {
		exact := all[int(q*float64(len(all)))]
		got := h.quantile(q)
		if diff := float64(got-exact) / float64(exact); diff < -0.01 || diff > 0.02 {
			t.Errorf("p%v = %s, exact %s", q*100, got, exact)
		}
	}
}

func writeQueries(t *testing.T, lines ...string) string {
	p := filepath.Join(t.TempDir(), "queries.txt")
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestMainUDP runs the command against an in-test UDP server, bounded by count.
func TestMainUDP(t *testing.T) {
	up := frontendtest.StartUpstream(t)
	file := writeQueries(t, "a.example A", "b.example AAAA", "gone.nx A")
	var out, errOut bytes.Buffer
	code := Main([]string{"-s", "udp://" + up.Addr, "-d", file, "-c", "2", "-q", "8", "-n", "600", "-quiet"}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out.String(), errOut.String())
	}
	if got := up.Queries.Load(); got != 600 {
		t.Fatalf("server saw %d queries, want 600", got)
	}
	for _, want := range []string{"600 sent, 600 answered", "NOERROR=400", "NXDOMAIN=200", "errors:      none", "p99.9"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestMainUsage(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"-d", "/nonexistent/file"},
		{"-d", writeQueries(t, "a.example BOGUS")},
		{"-bogus"},
	} {
		if code := Main(args, io.Discard, io.Discard); code != 2 {
			t.Errorf("Main(%q) = %d, want 2", args, code)
		}
	}
	if code := Main([]string{"-s", "ftp://x", "-d", writeQueries(t, "a.example")}, io.Discard, io.Discard); code != 1 {
		t.Errorf("bad scheme: exit %d, want 1", code)
	}
}

// TestTimeouts: a server that never answers yields timeout errors, counted.
func TestTimeouts(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	qs, _ := ParseQueries(strings.NewReader("a.example A\n"))
	res, err := Run(context.Background(), Options{Server: "udp://" + pc.LocalAddr().String(), Queries: qs, Count: 5, Inflight: 5, Timeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.Answered != 0 || res.Errors[ErrTimeout] != 5 {
		t.Fatalf("answered %d, errors %v", res.Answered, res.Errors)
	}
}

// TestTransports runs every client against a real server of its kind.
func TestTransports(t *testing.T) {
	pki := testpki.New(t, frontendtest.Names...)
	up := frontendtest.StartUpstream(t)
	handler := &frontendtest.Handler{Upstream: up.Addr}
	profiles := frontendtest.Profiles(t)
	quiet := slog.New(slog.DiscardHandler)

	dotSrv, err := dot.New(dot.Config{Addrs: []string{"127.0.0.1:0"}, TLS: pki.Server, Handler: handler, Profiles: profiles, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	doqSrv, err := doq.New(doq.Config{Addrs: []string{"127.0.0.1:0"}, TLS: pki.Server, Handler: handler, Profiles: profiles, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []interface {
		Start(context.Context) error
		Shutdown(context.Context) error
	}{dotSrv, doqSrv} {
		if err := s.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Shutdown(context.Background()) })
	}
	tcpAddr := startTCP(t, up.Addr)
	h2URL, h3URL := startDoH(t, pki, up.Addr)

	qs, _ := ParseQueries(strings.NewReader("a.example A\nb.example A\nc.nx A\n"))
	for _, tc := range []struct {
		name, server string
		single       bool
	}{
		{"udp", "udp://" + up.Addr, false},
		{"tcp", "tcp://" + tcpAddr, false},
		{"tcp-single", "tcp://" + tcpAddr, true},
		{"dot", "tls://" + dotSrv.Addrs()[0].String(), false},
		{"dot-single", "tls://" + dotSrv.Addrs()[0].String(), true},
		{"doq", "quic://" + doqSrv.Addrs()[0].String(), false},
		{"doq-single", "quic://" + doqSrv.Addrs()[0].String(), true},
		{"doh2", h2URL, false},
		{"doh3", h3URL, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Run(context.Background(), Options{
				Server: tc.server, Queries: qs, Conns: 2, Inflight: 16, Count: 300,
				TLS: pki.Client("dns.test"), Single: tc.single,
			})
			if err != nil {
				t.Fatal(err)
			}
			if res.Answered != 300 || len(res.Errors) != 0 || res.Rcodes["NXDOMAIN"] != 100 {
				var b bytes.Buffer
				res.Print(&b)
				t.Fatalf("unexpected result:\n%s", b.String())
			}
		})
	}
}

// TestSingleWrites: with Options.Single every TLS record carries exactly one
// query, as a stub resolver sends them (crypto/tls returns at most one
// record per Read); without it, queries in flight share records.
func TestSingleWrites(t *testing.T) {
	pki := testpki.New(t, frontendtest.Names...)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", pki.Server)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	perRead := make(chan int, 4096) // queries per Read: room for one a query
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go echoFrames(c, perRead)
		}
	}()
	qs, _ := ParseQueries(strings.NewReader("a.example A\n"))
	for _, single := range []bool{true, false} {
		res, err := Run(context.Background(), Options{
			Server: "tls://" + ln.Addr().String(), Queries: qs, Inflight: 32, Count: 2000,
			TLS: pki.Client("dns.test"), Single: single,
		})
		if err != nil || res.Answered != 2000 {
			t.Fatalf("single=%v: %v, %+v", single, err, res)
		}
		most := 0
		for n := 0; n < 2000; {
			k := <-perRead
			n, most = n+k, max(most, k)
		}
		if single && most != 1 || !single && most == 1 {
			t.Errorf("single=%v: up to %d queries in one TLS record", single, most)
		}
	}
}

// echoFrames answers every length-prefixed query read from c with itself
// (QR set), and sends how many whole queries each Read returned to perRead.
func echoFrames(c net.Conn, perRead chan<- int) {
	defer c.Close()
	buf := make([]byte, 64<<10)
	var pending []byte
	for {
		n, err := c.Read(buf)
		if err != nil {
			return
		}
		pending = append(pending, buf[:n]...)
		k := 0
		for len(pending) >= 2 && len(pending) >= 2+int(binary.BigEndian.Uint16(pending)) {
			l := 2 + int(binary.BigEndian.Uint16(pending))
			f := slices.Clone(pending[:l])
			f[4] |= 0x80 // QR
			if _, err := c.Write(f); err != nil {
				return
			}
			pending, k = pending[l:], k+1
		}
		if k > 0 {
			perRead <- k
		}
	}
}

// startTCP runs a miekg/dns TCP server that forwards to the upstream.
func startTCP(t *testing.T, upstream string) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{Listener: ln, MaxTCPQueries: -1, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		resp, err := dns.Exchange(q, upstream)
		if err != nil {
			return
		}
		w.WriteMsg(resp)
	})}
	go srv.ActivateAndServe()
	t.Cleanup(func() { srv.Shutdown() })
	return ln.Addr().String()
}

// startDoH runs an RFC 8484 POST endpoint over HTTP/2 (TLS) and HTTP/3.
func startDoH(t *testing.T, pki *testpki.PKI, upstream string) (h2URL, h3URL string) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		q := new(dns.Msg)
		if r.Method != http.MethodPost || q.Unpack(body) != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		resp, err := dns.Exchange(q, upstream)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		resp.Id = 0
		b, _ := resp.Pack()
		w.Header().Set("Content-Type", "application/dns-message")
		w.Write(b)
	})
	hs := httptest.NewUnstartedServer(h)
	hs.EnableHTTP2 = true
	hs.TLS = pki.Server.Clone()
	hs.StartTLS()
	t.Cleanup(hs.Close)

	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h3 := &http3.Server{Handler: h, TLSConfig: http3.ConfigureTLSConfig(pki.Server.Clone())}
	go h3.Serve(pc)
	t.Cleanup(func() { h3.Close(); pc.Close() })
	return "https://" + hs.Listener.Addr().String() + "/dns-query", "h3://" + pc.LocalAddr().String() + "/dns-query"
}

// TestProgress: a run bounded by time prints a progress line each second.
func TestProgress(t *testing.T) {
	up := frontendtest.StartUpstream(t)
	file := writeQueries(t, "a.example A")
	var out, errOut bytes.Buffer
	code := Main([]string{"-s", "udp://" + up.Addr, "-d", file, "-c", "1", "-q", "2", "-l", "2100ms", "-n", "200000"}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errOut.String())
	}
	if n := strings.Count(errOut.String(), " qps "); n < 2 {
		t.Fatalf("%d progress lines, want 2:\n%s", n, errOut.String())
	}
}

func FuzzParseQueries(f *testing.F) {
	f.Add("www.example.com A\nexample.org AAAA\n")
	f.Add("# c\n\nx\n")
	f.Add("a..b A\n")
	f.Fuzz(func(t *testing.T, in string) {
		qs, err := ParseQueries(strings.NewReader(in))
		if err != nil {
			return
		}
		for _, q := range qs {
			var m dns.Msg
			if err := m.Unpack(q.Wire); err != nil || len(m.Question) != 1 || m.Question[0].Qtype != q.Type {
				t.Fatalf("query %q %d packs to %v (%v)", q.Name, q.Type, &m, err)
			}
		}
	})
}
