package upstream

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsward/dnsward/resolver"
)

func query(name string, id uint16) *dns.Msg {
	q := new(dns.Msg)
	q.SetQuestion(dns.Fqdn(name), dns.TypeA)
	q.Id = id
	return q
}

// checkAnswer fails unless r is answerA's answer to q with q's ID.
func checkAnswer(t testing.TB, q, r *dns.Msg) {
	t.Helper()
	if r.Id != q.Id {
		t.Errorf("reply ID %d, want the caller's %d", r.Id, q.Id)
	}
	if r.Truncated || r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
		t.Fatalf("reply: want one answer, got\n%v", r)
	}
	a, ok := r.Answer[0].(*dns.A)
	if !ok || !a.A.Equal(testAddr) || !strings.EqualFold(a.Hdr.Name, q.Question[0].Name) {
		t.Errorf("answer %v, want %s A %s", r.Answer[0], q.Question[0].Name, testAddr)
	}
}

func newUpstream(t testing.TB, url string, opts Options) resolver.Upstream {
	t.Helper()
	u, err := New(url, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { u.Close() })
	return u
}

// TestSchemes asks each protocol three queries and checks answers, ID
// restoration and connection reuse.
func TestSchemes(t *testing.T) {
	tests := []struct {
		name  string
		start func(t *testing.T) (url string, conns func() int64)
	}{
		{"udp", func(t *testing.T) (string, func() int64) {
			s := startUDP(t, listenUDP(t), answerA)
			return "udp://" + s.addr, nil
		}},
		{"bare", func(t *testing.T) (string, func() int64) {
			s := startUDP(t, listenUDP(t), answerA)
			return s.addr, nil
		}},
		{"tcp", func(t *testing.T) (string, func() int64) {
			s := startStream(t, listenTCP(t), answerA)
			return "tcp://" + s.addr, s.conns.Load
		}},
		{"tls", func(t *testing.T) (string, func() int64) {
			s := startStream(t, tlsListen(t), answerA)
			t.Cleanup(func() {
				if alpn, _ := s.alpn.Load().(string); alpn != "dot" {
					t.Errorf("DoT negotiated ALPN %q, want dot", alpn)
				}
			})
			return "tls://" + s.addr + "#" + testServerName, s.conns.Load
		}},
		{"https", func(t *testing.T) (string, func() int64) {
			s := startDoH(t, answerA)
			t.Cleanup(func() { checkDoH(t, s, 2) })
			return s.url, s.conns.Load
		}},
		{"h3", func(t *testing.T) (string, func() int64) {
			s := startDoH3(t, answerA)
			t.Cleanup(func() { checkDoH(t, s, 3) })
			return s.url, nil
		}},
		{"quic", func(t *testing.T) (string, func() int64) {
			s := startDoQ(t, answerA)
			t.Cleanup(func() {
				if n := s.badIDs.Load(); n != 0 {
					t.Errorf("DoQ server saw %d queries with a non-zero ID", n)
				}
			})
			return "quic://" + s.addr + "#" + testServerName, s.conns.Load
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url, conns := tt.start(t)
			u := newUpstream(t, url, testOptions())
			for i := range 3 {
				q := query(fmt.Sprintf("q%d.Example.", i), uint16(4242+i))
				r, err := u.Exchange(context.Background(), q)
				if err != nil {
					t.Fatalf("query %d: %v", i, err)
				}
				checkAnswer(t, q, r)
			}
			if conns != nil {
				if n := conns(); n != 1 {
					t.Errorf("server saw %d connections for 3 sequential queries, want 1 (reuse)", n)
				}
			}
		})
	}
}

func checkDoH(t *testing.T, s *dohServer, wantProto int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, id := range s.ids {
		if id != 0 {
			t.Errorf("DoH query %d had ID %d on the wire, want 0", i, id)
		}
		if s.proto[i] != wantProto {
			t.Errorf("DoH query %d used HTTP/%d, want HTTP/%d", i, s.proto[i], wantProto)
		}
	}
	if len(s.ids) == 0 {
		t.Error("DoH server saw no queries")
	}
}

func tlsListen(t testing.TB) net.Listener {
	t.Helper()
	return tls.NewListener(listenTCP(t), serverTLS("dot"))
}

// TestTLSVerification checks that DoT and DoQ verify the name after #.
func TestTLSVerification(t *testing.T) {
	dot := startStream(t, tlsListen(t), answerA)
	doq := startDoQ(t, answerA)
	pool, _ := testPKI()
	tests := []struct {
		name    string
		url     string
		opts    Options
		wantErr bool
	}{
		{"dot name", "tls://" + dot.addr + "#" + testServerName, Options{RootCAs: pool}, false},
		{"dot ip", "tls://" + dot.addr, Options{RootCAs: pool}, false},
		{"dot wrong name", "tls://" + dot.addr + "#other.test", Options{RootCAs: pool}, true},
		{"dot unknown CA", "tls://" + dot.addr + "#" + testServerName, Options{}, true},
		{"dot insecure", "tls://" + dot.addr + "#other.test", Options{InsecureSkipVerify: true}, false},
		{"doq wrong name", "quic://" + doq.addr + "#other.test", Options{RootCAs: pool}, true},
		{"doq unknown CA", "quic://" + doq.addr + "#" + testServerName, Options{}, true},
		{"doq insecure", "quic://" + doq.addr, Options{InsecureSkipVerify: true}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Timeout = 2 * time.Second
			u := newUpstream(t, tt.url, tt.opts)
			q := query("verify.test.", 7)
			r, err := u.Exchange(context.Background(), q)
			if tt.wantErr {
				var ue *Error
				if !errors.As(err, &ue) || ue.Kind != KindNetwork || !errors.Is(err, ErrNetwork) {
					t.Fatalf("got %v, %v; want a network *Error", r, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			checkAnswer(t, q, r)
		})
	}
}

// TestPipelining sends concurrent queries that the server answers only once
// all of them arrived, in reverse order, and checks they shared one connection.
func TestPipelining(t *testing.T) {
	const n = 16
	for _, scheme := range []string{"tcp", "tls"} {
		t.Run(scheme, func(t *testing.T) {
			arrived := make(chan chan struct{}, n)
			answer := func(q *dns.Msg) *dns.Msg {
				me := make(chan struct{})
				arrived <- me
				select {
				case <-me:
					return answerA(q)
				case <-time.After(5 * time.Second):
					return nil // the barrier never filled: let the client time out
				}
			}
			go func() { // release in reverse order once all n are in flight
				waiting := make([]chan struct{}, 0, n)
				for range n {
					select {
					case me := <-arrived:
						waiting = append(waiting, me)
					case <-time.After(5 * time.Second):
						return
					}
				}
				for i := n - 1; i >= 0; i-- {
					close(waiting[i])
				}
			}()
			ln := listenTCP(t)
			url := "tcp://" + ln.Addr().String()
			if scheme == "tls" {
				ln = tls.NewListener(ln, serverTLS("dot"))
				url = "tls://" + ln.Addr().String() + "#" + testServerName
			}
			s := startStream(t, ln, answer)
			opts := testOptions()
			opts.Timeout = 4 * time.Second
			u := newUpstream(t, url, opts)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					q := query(fmt.Sprintf("p%d.test.", i), uint16(i))
					r, err := u.Exchange(context.Background(), q)
					if err != nil {
						t.Errorf("query %d: %v", i, err)
						return
					}
					checkAnswer(t, q, r)
				})
			}
			wg.Wait()
			if c := s.conns.Load(); c != 1 {
				t.Errorf("%d pipelined queries used %d connections, want 1", n, c)
			}
		})
	}
}
