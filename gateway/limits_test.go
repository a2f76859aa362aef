package gateway

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"

	"github.com/dnsward/dnsward/doq"
	"github.com/dnsward/dnsward/gateway/config"
	"github.com/dnsward/dnsward/internal/dnstest"
	"github.com/dnsward/dnsward/resolver"
)

// limitedGateway runs a gateway on loopback with rate_limit {qps, burst}
// and every transport, self-signed certificates in a temporary data_dir.
// It returns the gateway, its listen addresses and a TLS config trusting
// its CA. Every query the tests send is for localhost., which the gateway
// answers itself.
func limitedGateway(t *testing.T, qps, burst int) (*Gateway, config.Listen, *tls.Config) {
	t.Helper()
	free := func() string { return fmt.Sprintf("127.0.0.1:%d", dnstest.FreePort(t)) }
	l := config.Listen{DNS: []string{free()}, DoH: []string{free()}, DoT: []string{free()}, DoQ: []string{free()}, Metrics: free()}
	yaml := fmt.Sprintf(`listen: {dns: [%q], doh: [%q], dot: [%q], doq: [%q], metrics: %q}
upstreams: [udp://%s]
data_dir: %s
tls: {mode: self_signed}
rate_limit: {qps: %d, burst: %d}
`, l.DNS[0], l.DoH[0], l.DoT[0], l.DoQ[0], l.Metrics, free(), t.TempDir(), qps, burst)
	g := runGateway(t, loadYAML(t, t.TempDir(), yaml), nil)
	return g, l, &tls.Config{RootCAs: caPool(t, g), ServerName: "localhost"}
}

// limitedQuery is one query for a transport client: limited reports a
// rate-limited answer in the transport's own terms; err anything else.
type limitedQuery func(i int) (limited bool, err error)

// streamClient asks over one plain TCP or DoT connection and expects
// REFUSED with EDE 18 (Prohibited) when limited.
func streamClient(t *testing.T, network, addr string, tlsCfg *tls.Config) limitedQuery {
	c, err := (&dns.Client{Net: network, TLSConfig: tlsCfg, Timeout: 5 * time.Second}).Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return func(i int) (bool, error) {
		q := new(dns.Msg)
		q.SetQuestion(fmt.Sprintf("q%d.localhost.", i), dns.TypeA)
		q.SetEdns0(1232, false)
		if err := c.WriteMsg(q); err != nil {
			return false, err
		}
		resp, err := c.ReadMsg()
		switch {
		case err != nil:
			return false, err
		case resp.Rcode == dns.RcodeSuccess && len(resp.Answer) == 1:
			return false, nil
		case resp.Rcode == dns.RcodeRefused:
			if ede, ok := resolver.EDE(resp); !ok || ede.InfoCode != resolver.EDEProhibited {
				return true, fmt.Errorf("REFUSED without EDE 18: %v", resp)
			}
			return true, nil
		}
		return false, fmt.Errorf("unexpected answer %v", resp)
	}
}

// dohClient POSTs over rt and expects HTTP 429 when limited.
func dohClient(t *testing.T, rt http.RoundTripper, url string) limitedQuery {
	hc := &http.Client{Transport: rt, Timeout: 5 * time.Second}
	t.Cleanup(hc.CloseIdleConnections)
	return func(i int) (bool, error) {
		q := new(dns.Msg)
		q.SetQuestion(fmt.Sprintf("q%d.localhost.", i), dns.TypeA)
		q.Id = 0
		wire, err := q.Pack()
		if err != nil {
			return false, err
		}
		resp, err := hc.Post(url, "application/dns-message", bytes.NewReader(wire))
		if err != nil {
			return false, err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		switch resp.StatusCode {
		case http.StatusOK:
			return false, nil
		case http.StatusTooManyRequests:
			return true, nil
		}
		return false, fmt.Errorf("HTTP %s: %s", resp.Status, body)
	}
}

// doqClient asks over one QUIC connection, a stream per query, and expects
// the stream reset with DOQ_EXCESSIVE_LOAD when limited.
func doqClient(t *testing.T, addr string, tlsCfg *tls.Config) limitedQuery {
	tlsCfg = tlsCfg.Clone()
	tlsCfg.NextProtos = []string{doq.ALPN}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := quic.DialAddr(ctx, addr, tlsCfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.CloseWithError(doq.NoError, "") })
	return func(i int) (bool, error) {
		q := new(dns.Msg)
		q.SetQuestion(fmt.Sprintf("q%d.localhost.", i), dns.TypeA)
		q.Id = 0
		wire, err := q.Pack()
		if err != nil {
			return false, err
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		str, err := conn.OpenStreamSync(ctx)
		if err != nil {
			return false, err
		}
		str.SetDeadline(time.Now().Add(5 * time.Second))
		str.Write(binary.BigEndian.AppendUint16(nil, uint16(len(wire))))
		str.Write(wire)
		str.Close()
		answer, err := io.ReadAll(str)
		var serr *quic.StreamError
		switch {
		case errors.As(err, &serr) && serr.ErrorCode == doq.ExcessiveLoad:
			return true, nil
		case err != nil:
			return false, err
		case len(answer) < 2+12:
			return false, fmt.Errorf("short DoQ answer %x", answer)
		}
		return false, nil
	}
}

// TestLimitsPerTransport sends more queries than the limit allows over each
// stream transport, on a fresh gateway each (the limit is per client
// address, shared by all transports), and checks each says "limited" in its
// own way, as many times as the bucket requires, and that /debug/limits
// counts the same.
func TestLimitsPerTransport(t *testing.T) {
	const qps, burst, sent = 5, 5, 30
	tests := []struct {
		transport string // label in dnsward_ratelimit_decisions_total
		client    func(t *testing.T, l config.Listen, tlsCfg *tls.Config) limitedQuery
	}{
		{"tcp", func(t *testing.T, l config.Listen, _ *tls.Config) limitedQuery {
			return streamClient(t, "tcp", l.DNS[0], nil)
		}},
		{"dot", func(t *testing.T, l config.Listen, tlsCfg *tls.Config) limitedQuery {
			return streamClient(t, "tcp-tls", l.DoT[0], tlsCfg)
		}},
		{"doh2", func(t *testing.T, l config.Listen, tlsCfg *tls.Config) limitedQuery {
			return dohClient(t, &http.Transport{TLSClientConfig: tlsCfg, ForceAttemptHTTP2: true}, "https://"+l.DoH[0]+"/dns-query")
		}},
		{"doh3", func(t *testing.T, l config.Listen, tlsCfg *tls.Config) limitedQuery {
			return dohClient(t, &http3.Transport{TLSClientConfig: tlsCfg}, "https://"+l.DoH[0]+"/dns-query")
		}},
		{"doq", func(t *testing.T, l config.Listen, tlsCfg *tls.Config) limitedQuery {
			return doqClient(t, l.DoQ[0], tlsCfg)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.transport, func(t *testing.T) {
			_, l, tlsCfg := limitedGateway(t, qps, burst)
			ask := tt.client(t, l, tlsCfg)
			start := time.Now()
			passed, limited := 0, 0
			for i := range sent {
				lim, err := ask(i)
				if err != nil {
					t.Fatalf("query %d: %v", i, err)
				}
				if lim {
					limited++
				} else {
					passed++
				}
			}
			elapsed := time.Since(start)
			if most := burst + int(qps*elapsed.Seconds()) + 1; passed < burst || passed > most {
				t.Errorf("%d of %d queries answered in %v; the bucket allows %d to %d", passed, sent, elapsed, burst, most)
			}
			dec := decisions(t, l.Metrics, tt.transport)
			if dec["pass"] != uint64(passed) || dec["limited"] != uint64(limited) {
				t.Errorf("/debug/limits counts %v, the client saw %d answered and %d limited", dec, passed, limited)
			}
		})
	}
}

// limitsReport fetches /debug/limits.
func limitsReport(t *testing.T, metricsAddr string) LimitsReport {
	t.Helper()
	resp, err := http.Get("http://" + metricsAddr + "/debug/limits")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var rep LimitsReport
	if err := json.NewDecoder(resp.Body).Decode(&rep); err != nil {
		t.Fatal(err)
	}
	return rep
}

// decisions reads the userspace limiter's decisions for one transport
// from /debug/limits.
func decisions(t *testing.T, metricsAddr, transport string) map[string]uint64 {
	t.Helper()
	out := map[string]uint64{}
	for _, d := range limitsReport(t, metricsAddr).Userspace.Decisions {
		if d.Transport == transport {
			out[d.Decision] = d.Queries
		}
	}
	return out
}

// TestDebugLimitsTop checks the ?top= parameter of /debug/limits.
func TestDebugLimitsTop(t *testing.T) {
	_, l, _ := limitedGateway(t, 1, 1)
	ask := streamClient(t, "tcp", l.DNS[0], nil)
	for i := range 3 {
		if _, err := ask(i); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		query  string
		status int
		top    int
	}{
		{"", http.StatusOK, 1},
		{"?top=0", http.StatusOK, 0},
		{"?top=-1", http.StatusBadRequest, 0},
		{"?top=x", http.StatusBadRequest, 0},
		{fmt.Sprintf("?top=%d", MaxTop+1), http.StatusBadRequest, 0},
	}
	for _, tt := range tests {
		resp, err := http.Get("http://" + l.Metrics + "/debug/limits" + tt.query)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.status {
			t.Errorf("%q: HTTP %d, want %d: %s", tt.query, resp.StatusCode, tt.status, body)
			continue
		}
		if tt.status != http.StatusOK {
			continue
		}
		var rep LimitsReport
		if err := json.Unmarshal(body, &rep); err != nil {
			t.Fatal(err)
		}
		// The client is written as query_log.client says: a pseudonym by default.
		if len(rep.Userspace.TopLimited) != tt.top || tt.top == 1 && !strings.HasPrefix(rep.Userspace.TopLimited[0].Prefix, "100::") {
			t.Errorf("%q: top limited %v, want %d entries (127.0.0.1's pseudonym)", tt.query, rep.Userspace.TopLimited, tt.top)
		}
	}
}
