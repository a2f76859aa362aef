package plain

import (
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsward/dnsward/internal/dnstest"
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
