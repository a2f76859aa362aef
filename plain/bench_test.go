package plain

import (
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dnsward/dnsward/internal/dnstest"
	"github.com/dnsward/dnsward/internal/metricstest"
	"github.com/dnsward/dnsward/ratelimit"
)

// BenchmarkUDPRoundTrip sends one query at a time over a connected UDP socket
// on loopback and waits for the cached answer: the full server path
// (read, parse, chain, pack, write) plus the client's syscalls.
func BenchmarkUDPRoundTrip(b *testing.B) {
	auth := dnstest.StartAuthority(b, []string{"www.example. 300 IN A 127.0.0.1"}, nil)
	s := startServer(b, auth, nil)
	conn, err := net.Dial("udp", s.UDPAddrs()[0].String())
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	q := new(dns.Msg)
	q.SetQuestion("www.example.", dns.TypeA)
	q.SetEdns0(1232, false)
	wire, _ := q.Pack()
	buf := make([]byte, 1232)
	roundTrip := func() {
		conn.SetDeadline(time.Now().Add(2 * time.Second))
		if _, err := conn.Write(wire); err != nil {
			b.Fatal(err)
		}
		if _, err := conn.Read(buf); err != nil {
			b.Fatal(err)
		}
	}
	roundTrip() // warm the cache
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		roundTrip()
	}
}

// BenchmarkUDPParallel keeps many queries in flight from parallel clients,
// as dnsperf does, so that the server's per-packet cost (not the round-trip
// latency) bounds the rate.
func BenchmarkUDPParallel(b *testing.B) {
	auth := dnstest.StartAuthority(b, []string{"www.example. 300 IN A 127.0.0.1"}, nil)
	s := startServer(b, auth, nil)
	addr := s.UDPAddrs()[0].String()
	q := new(dns.Msg)
	q.SetQuestion("www.example.", dns.TypeA)
	q.SetEdns0(1232, false)
	wire, _ := q.Pack()
	b.ReportAllocs()
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		conn, err := net.Dial("udp", addr)
		if err != nil {
			b.Error(err)
			return
		}
		defer conn.Close()
		buf := make([]byte, 1232)
		for pb.Next() {
			conn.SetDeadline(time.Now().Add(2 * time.Second))
			if _, err := conn.Write(wire); err != nil {
				b.Error(err)
				return
			}
			if _, err := conn.Read(buf); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkUDPLimitedFlood floods one UDP socket from one address that the
// userspace limiter refuses (qps 1), from a sender on its own core, for
// b.N packets, and reports how many packets a second the reader took off
// the socket and refused, and how many the kernel dropped because the
// reader fell behind: the rate the reader's drop path sustains bounds what a
// flood without XDP leaves for legitimate clients on the same socket.
func BenchmarkUDPLimitedFlood(b *testing.B) {
	reg := prometheus.NewRegistry()
	lim, err := ratelimit.New(ratelimit.Config{Limits: ratelimit.Limits{QPS: 1, Burst: 1}, Metrics: reg})
	if err != nil {
		b.Fatal(err)
	}
	s := startServer(b, dnstest.StartAuthority(b, nil, nil), func(c *Config) {
		c.UDPSockets, c.Limiter, c.LimitUDP, c.Registry = 1, lim, true, reg
	})
	conn, err := net.Dial("udp", s.UDPAddrs()[0].String())
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	q := new(dns.Msg).SetQuestion("flood.example.", dns.TypeA)
	wire, _ := q.Pack()
	refused := func() float64 {
		return metricstest.Value(b, reg, "dnsward_ratelimit_decisions_total", "transport", "udp", "decision", "limited")
	}
	drops := func() float64 { return metricstest.Value(b, reg, "dnsward_udp_receive_drops_total", "socket", "0") }
	refused0, drops0 := refused(), drops()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		conn.Write(wire)
	}
	for last := -1.0; last != refused(); { // until the reader has emptied the socket
		last = refused()
		time.Sleep(50 * time.Millisecond)
	}
	took := time.Since(start).Seconds()
	b.StopTimer()
	b.ReportMetric((refused()-refused0)/took, "refused/s")
	b.ReportMetric((drops()-drops0)/took, "kernel-dropped/s")
}
