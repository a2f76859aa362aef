package upstream

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dnsward/dnsward/internal/dnstest"
	"github.com/dnsward/dnsward/internal/testpki"
	"github.com/miekg/dns"
	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
)

// testServerName is the name the test certificate is issued for (besides
// 127.0.0.1 and ::1).
const testServerName = "dns.test"

// testPKI is a CA and a server certificate (full chain) issued by it.
var testPKI = sync.OnceValues(func() (*x509.CertPool, tls.Certificate) {
	ca := testpki.NewCA("dnsward test CA")
	return ca.Pool, ca.Issue(testpki.Leaf{Names: []string{testServerName, "127.0.0.1", "::1"}})
})

// quietLog keeps expected failures out of the test output.
var quietLog = slog.New(slog.DiscardHandler)

func testOptions() Options {
	pool, _ := testPKI()
	return Options{Timeout: 2 * time.Second, RootCAs: pool, Logger: quietLog}
}

func serverTLS(alpn ...string) *tls.Config {
	_, cert := testPKI()
	return &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: alpn, MinVersion: tls.VersionTLS12}
}

// answerFunc answers a query; nil means stay silent.
type answerFunc func(q *dns.Msg) *dns.Msg

// testAddr is the A record every test server answers with.
var testAddr = net.IPv4(192, 0, 2, 1).To4()

// answerA answers every query with one A record.
func answerA(q *dns.Msg) *dns.Msg {
	r := new(dns.Msg)
	r.SetReply(q)
	r.Answer = append(r.Answer, &dns.A{
		Hdr: dns.RR_Header{Name: q.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
		A:   testAddr,
	})
	return r
}

func silent(*dns.Msg) *dns.Msg { return nil }

// udpServer answers plain DNS over UDP with miekg/dns.
type udpServer struct {
	addr string
	hits atomic.Int64
}

func startUDP(t testing.TB, pc net.PacketConn, answer answerFunc) *udpServer {
	t.Helper()
	s := &udpServer{addr: pc.LocalAddr().String()}
	dnstest.ServeOn(t, dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		s.hits.Add(1)
		if r := answer(q); r != nil {
			_ = w.WriteMsg(r)
		}
	}), pc, nil)
	return s
}

func listenUDP(t testing.TB) net.PacketConn {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return pc
}

func listenTCP(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// listenPair returns UDP and TCP sockets on the same loopback port.
func listenPair(t testing.TB) (net.PacketConn, net.Listener) {
	t.Helper()
	for range 50 {
		pc := listenUDP(t)
		port := pc.LocalAddr().(*net.UDPAddr).Port
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err == nil {
			return pc, ln
		}
		pc.Close()
	}
	t.Fatal("no free UDP+TCP port pair on loopback")
	return nil, nil
}

// streamServer answers length-framed DNS over TCP or TLS, one goroutine per
// query and a write lock per connection, so pipelined queries are answered
// out of order (RFC 7766).
type streamServer struct {
	addr    string
	answer  answerFunc
	perConn int          // queries answered per connection, 0: no limit
	conns   atomic.Int64 // connections accepted
	hits    atomic.Int64 // queries read
	alpn    atomic.Value // last negotiated ALPN (TLS only)
	mu      sync.Mutex
	open    map[net.Conn]bool
	closed  chan net.Conn // connections the client closed
	wg      sync.WaitGroup
}

func startStream(t testing.TB, ln net.Listener, answer answerFunc) *streamServer {
	t.Helper()
	return startStreamLimited(t, ln, answer, 0)
}

// startStreamLimited starts a stream server that closes each connection,
// unanswered, when it reads query number perConn+1 (0: no limit).
func startStreamLimited(t testing.TB, ln net.Listener, answer answerFunc, perConn int) *streamServer {
	t.Helper()
	s := &streamServer{addr: ln.Addr().String(), answer: answer, perConn: perConn, open: map[net.Conn]bool{}, closed: make(chan net.Conn, 64)}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.conns.Add(1)
			s.mu.Lock()
			s.open[c] = true
			s.mu.Unlock()
			s.wg.Add(1)
			go s.serve(c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		s.dropAll()
		s.wg.Wait()
	})
	return s
}

// dropAll closes every open server-side connection.
func (s *streamServer) dropAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.open {
		c.Close()
		delete(s.open, c)
	}
}

func (s *streamServer) serve(c net.Conn) {
	defer s.wg.Done()
	defer c.Close()
	if tc, ok := c.(*tls.Conn); ok {
		if tc.Handshake() != nil {
			return
		}
		s.alpn.Store(tc.ConnectionState().NegotiatedProtocol)
	}
	var wmu sync.Mutex
	var hdr [2]byte
	served := 0
	for {
		if _, err := io.ReadFull(c, hdr[:]); err != nil {
			s.mu.Lock()
			wasOpen := s.open[c]
			delete(s.open, c)
			s.mu.Unlock()
			if wasOpen && errors.Is(err, io.EOF) {
				s.closed <- c
			}
			return
		}
		raw := make([]byte, binary.BigEndian.Uint16(hdr[:]))
		if _, err := io.ReadFull(c, raw); err != nil {
			return
		}
		if served++; s.perConn > 0 && served > s.perConn {
			return
		}
		s.hits.Add(1)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			q := new(dns.Msg)
			if q.Unpack(raw) != nil {
				return
			}
			r := s.answer(q)
			if r == nil {
				return
			}
			out, err := r.Pack()
			if err != nil {
				return
			}
			wmu.Lock()
			defer wmu.Unlock()
			_, _ = c.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(out))), out...))
		}()
	}
}

// dohServer answers RFC 8484 POST requests; it records the IDs and HTTP
// versions it saw.
type dohServer struct {
	url   string
	conns atomic.Int64
	mu    sync.Mutex
	ids   []uint16
	proto []int
}

func (s *dohServer) handler(answer answerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != dohMediaType {
			http.Error(w, "want POST "+dohMediaType, http.StatusUnsupportedMediaType)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, maxMsg))
		q := new(dns.Msg)
		if err != nil || q.Unpack(body) != nil {
			http.Error(w, "bad message", http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		s.ids = append(s.ids, q.Id)
		s.proto = append(s.proto, r.ProtoMajor)
		s.mu.Unlock()
		a := answer(q)
		if a == nil { // stay silent until the client gives up
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
			http.Error(w, "no answer", http.StatusGatewayTimeout)
			return
		}
		out, err := a.Pack()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", dohMediaType)
		_, _ = w.Write(out)
	}
}

func startDoH(t testing.TB, answer answerFunc) *dohServer {
	t.Helper()
	s := &dohServer{}
	hs := httptest.NewUnstartedServer(s.handler(answer))
	hs.EnableHTTP2 = true
	hs.TLS = serverTLS()
	hs.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	hs.StartTLS()
	t.Cleanup(hs.Close)
	s.url = hs.URL + "/dns-query"
	return s
}

func startDoH3(t testing.TB, answer answerFunc) *dohServer {
	t.Helper()
	s := &dohServer{}
	pc := listenUDP(t)
	srv := &http3.Server{Handler: s.handler(answer), TLSConfig: http3.ConfigureTLSConfig(serverTLS())}
	go func() { _ = srv.Serve(pc) }()
	t.Cleanup(func() { _ = srv.Close(); pc.Close() })
	s.url = "h3://" + pc.LocalAddr().String() + "/dns-query"
	return s
}

// doqServer speaks RFC 9250: it reads each stream to its FIN, closes the
// connection with DOQ_PROTOCOL_ERROR on a non-zero ID, and answers.
type doqServer struct {
	addr      string
	conns     atomic.Int64
	badIDs    atomic.Int64
	keepalive atomic.Int64 // queries carrying edns-tcp-keepalive
	mu        sync.Mutex
	current   []*quic.Conn
}

func startDoQ(t testing.TB, answer answerFunc) *doqServer {
	t.Helper()
	ln, err := quic.ListenAddr("127.0.0.1:0", serverTLS("doq"), nil)
	if err != nil {
		t.Fatal(err)
	}
	s := &doqServer{addr: ln.Addr().String()}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := ln.Accept(context.Background())
			if err != nil {
				return
			}
			s.conns.Add(1)
			s.mu.Lock()
			s.current = append(s.current, conn)
			s.mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					st, err := conn.AcceptStream(context.Background())
					if err != nil {
						return
					}
					wg.Add(1)
					go func() {
						defer wg.Done()
						s.serveStream(conn, st, answer)
					}()
				}
			}()
		}
	}()
	t.Cleanup(func() {
		s.dropAll()
		ln.Close()
		wg.Wait()
	})
	return s
}

// dropAll closes every connection, as a server restart or idle close would.
func (s *doqServer) dropAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.current {
		_ = c.CloseWithError(0, "")
	}
	s.current = nil
}

func (s *doqServer) serveStream(conn *quic.Conn, st *quic.Stream, answer answerFunc) {
	defer st.Close()
	_ = st.SetDeadline(time.Now().Add(5 * time.Second))
	raw, err := io.ReadAll(io.LimitReader(st, 2+maxMsg))
	if err != nil || len(raw) < 2 || int(binary.BigEndian.Uint16(raw)) != len(raw)-2 {
		st.CancelRead(0x2)
		return
	}
	q := new(dns.Msg)
	if q.Unpack(raw[2:]) != nil {
		return
	}
	if opt := q.IsEdns0(); opt != nil && slices.ContainsFunc(opt.Option, isKeepalive) {
		s.keepalive.Add(1)
	}
	if q.Id != 0 {
		s.badIDs.Add(1)
		_ = conn.CloseWithError(0x2, "DOQ_PROTOCOL_ERROR: message ID must be 0")
		return
	}
	r := answer(q)
	if r == nil { // stay silent until the client gives up
		select {
		case <-st.Context().Done():
		case <-time.After(5 * time.Second):
		}
		return
	}
	out, err := r.Pack()
	if err != nil {
		return
	}
	_, _ = st.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(out))), out...))
}
