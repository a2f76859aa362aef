package querylog

import (
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsward/dnsward/internal/transport"
	"github.com/dnsward/dnsward/pseudonym"
	"github.com/dnsward/dnsward/resolver"
)

// benchRecords returns a resolved and a replayed log record of a cache hit.
func benchRecords(b *testing.B) (resolved, replayed resolver.LogRecord) {
	q := new(dns.Msg)
	q.SetQuestion("n1.bench.example.", dns.TypeA)
	q.SetEdns0(1232, false)
	a := new(dns.Msg)
	a.SetReply(q)
	a.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: q.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 300}, A: []byte{127, 0, 0, 1}}}
	qw, _ := q.Pack()
	aw, _ := a.Pack()
	base := resolver.LogRecord{Received: time.Now(), Latency: time.Microsecond, Client: netip.MustParseAddr("192.0.2.1"),
		Transport: transport.UDP, Profile: "default", Outcome: resolver.OutcomeCache}
	resolved, replayed = base, base
	resolved.Query, resolved.Response = q, a
	replayed.QueryWire, replayed.ResponseWire = qw, aw
	return
}

// BenchmarkLog measures the query path's share: masking the client,
// packing and queueing (the queue is drained by a discarding writer).
func BenchmarkLog(b *testing.B) {
	resolved, replayed := benchRecords(b)
	for _, tt := range []struct {
		name string
		rec  resolver.LogRecord
	}{{"resolved", resolved}, {"replayed", replayed}} {
		b.Run(tt.name, func(b *testing.B) {
			r := &runner{queue: make(chan record, 1024)}
			st := &state{cfg: Config{Masker: NewMasker(Pseudonym, pseudonym.New(8, nil)), Sample: 1}, sinks: []*runner{r}}
			l := &Log{}
			l.cur.Store(st)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				l.Log(tt.rec)
				if len(r.queue) == cap(r.queue) {
					for len(r.queue) > 0 {
						<-r.queue
					}
				}
			}
		})
	}
}

// BenchmarkEncode measures the writer's share per record.
func BenchmarkEncode(b *testing.B) {
	_, replayed := benchRecords(b)
	var r record
	pack(&r, &replayed)
	r.client = netip.MustParseAddr("100::1")
	for _, tt := range []struct {
		name   string
		encode func([]byte, *record) []byte
	}{{"json", appendJSON}, {"dnstap", appendDnstap}} {
		b.Run(tt.name, func(b *testing.B) {
			b.ReportAllocs()
			var buf []byte
			for b.Loop() {
				buf = tt.encode(buf[:0], &r)
			}
		})
	}
}
