package upstream

import (
	"context"
	"testing"

	"github.com/miekg/dns"
)

// BenchmarkExchange measures one round trip against the in-test servers, and
// miekg/dns's client against the same servers as the baseline (a fresh UDP
// socket per query; one reused TCP connection).
func BenchmarkExchange(b *testing.B) {
	pc, ln := listenPair(b)
	udp := startUDP(b, pc, answerA)
	startStream(b, ln, answerA)
	dot := startStream(b, tlsListen(b), answerA)
	doq := startDoQ(b, answerA)
	q := query("bench.test.", 1)
	for _, bc := range []struct{ name, url string }{
		{"udp", "udp://" + udp.addr},
		{"tcp", "tcp://" + udp.addr},
		{"tls", "tls://" + dot.addr + "#" + testServerName},
		{"quic", "quic://" + doq.addr + "#" + testServerName},
	} {
		b.Run(bc.name, func(b *testing.B) {
			u := newUpstream(b, bc.url, testOptions())
			b.ReportAllocs()
			for b.Loop() {
				if _, err := u.Exchange(context.Background(), q); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("baseline-miekg-udp", func(b *testing.B) {
		c := &dns.Client{Net: "udp"}
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := c.Exchange(q, udp.addr); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("baseline-miekg-tcp", func(b *testing.B) {
		c := &dns.Client{Net: "tcp"}
		conn, err := c.Dial(udp.addr)
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close()
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := c.ExchangeWithConn(q, conn); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkExchangeParallel measures concurrent queries pipelined on one TCP
// connection.
func BenchmarkExchangeParallel(b *testing.B) {
	s := startStream(b, listenTCP(b), answerA)
	u := newUpstream(b, "tcp://"+s.addr, testOptions())
	q := query("bench.test.", 1)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := u.Exchange(context.Background(), q); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
