package xdp

import (
	"testing"
	"time"

	"github.com/dnsward/dnsward/ratelimit"
)

// BenchmarkProgram is the program's cost per packet (BPF_PROG_TEST_RUN) on
// its main paths.
func BenchmarkProgram(b *testing.B) {
	q4, q6 := udpTo("192.0.2.1", "192.0.2.53"), udpTo("2001:db8::1", "2001:db8::53")
	tests := []struct {
		name   string
		limits ratelimit.Limits
		frame  []byte
		want   uint32
	}{
		{"pass-ipv4", ratelimit.Limits{QPS: 1 << 31, Burst: 1 << 31}, q4.build(), xdpPass},
		{"pass-ipv6", ratelimit.Limits{QPS: 1 << 31, Burst: 1 << 31}, q6.build(), xdpPass},
		{"drop-ipv4", ratelimit.Limits{QPS: 1, Burst: 1}, q4.build(), xdpDrop},
		{"drop-ipv6-deny", ratelimit.Limits{QPS: 1, Burst: 1, Deny: pfx("2001:db8::/32")}, q6.build(), xdpDrop},
		{"not-dns", ratelimit.Limits{QPS: 1, Burst: 1}, packet{src: q4.src, dst: q4.dst, sport: 1, dport: 443}.build(), xdpPass},
	}
	for _, tc := range tests {
		b.Run(tc.name, func(b *testing.B) {
			f := testFilter(b, tc.limits)
			run(b, f, tc.frame) // create the bucket
			run(b, f, tc.frame)
			ret, d, err := f.objs.DnswardXdp.Benchmark(tc.frame, b.N, nil)
			if err != nil {
				b.Fatal(err)
			}
			if ret != tc.want {
				b.Fatalf("verdict %d, want %d", ret, tc.want)
			}
			b.ReportMetric(float64(d.Nanoseconds()), "ns/packet")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// BenchmarkFlood floods a UDP DNS server across a veth pair as fast as one
// sender goes (b.N packets, at most 3 s) while another client sends
// legitimate queries, with XDP and with the userspace limiter, and reports
// the flood packets per second the server side absorbed and the legitimate
// queries answered on the first try.
func BenchmarkFlood(b *testing.B) {
	for _, mode := range []Mode{ModeNative, ""} {
		name := "xdp-native"
		if mode == "" {
			name = "userspace"
		}
		b.Run(name, func(b *testing.B) {
			s := scenario{mode: mode, limits: ratelimit.Limits{QPS: 1000, Burst: 2000},
				floodFor: 3 * time.Second, floodMax: max(b.N, 1), legit: 100, legitTries: 1}
			o := s.run(b)
			b.ReportMetric(float64(o.floodSent)/o.floodTime.Seconds(), "flood-pps")
			b.ReportMetric(float64(o.legitAnswered)/float64(s.legit)*100, "legit-answered-%")
			b.ReportMetric(float64(o.serverReceived)/o.floodTime.Seconds(), "socket-reads/s")
			b.ReportMetric(0, "ns/op")
		})
	}
}
