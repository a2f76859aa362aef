package querylog

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dnsward/dnsward/internal/transport"
	"github.com/dnsward/dnsward/pseudonym"
	"github.com/dnsward/dnsward/resolver"
)

// benchRecords returns a resolved and a replayed log record of a cache hit
// (as the chain logs them: both with the bytes sent, the resolved one with
// the query unpacked too).
func benchRecords(b testing.TB) (resolved, replayed resolver.LogRecord) {
	q := new(dns.Msg)
	q.SetQuestion("n1.bench.example.", dns.TypeA)
	q.SetEdns0(1232, false)
	a := new(dns.Msg)
	a.SetReply(q)
	a.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: q.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 300}, A: []byte{127, 0, 0, 1}}}
	qw, _ := q.Pack()
	aw, _ := a.Pack()
	replayed = resolver.LogRecord{Received: time.Now(), Latency: time.Microsecond, Client: netip.MustParseAddr("192.0.2.1"),
		Transport: transport.UDP, Profile: "default", Outcome: resolver.OutcomeCache, QueryWire: qw, ResponseWire: aw}
	resolved = replayed
	resolved.Query = q
	return
}

// BenchmarkLog measures the query path's share: copying the messages and
// queueing (the queue is drained by a discarding writer).
func BenchmarkLog(b *testing.B) {
	resolved, replayed := benchRecords(b)
	for _, tt := range []struct {
		name string
		rec  resolver.LogRecord
	}{{"resolved", resolved}, {"replayed", replayed}} {
		b.Run(tt.name, func(b *testing.B) {
			r := newRunner(SinkConfig{Queue: 1024}, nil, prometheus.NewCounter(prometheus.CounterOpts{Name: "dropped"}), nil)
			st := &state{cfg: Config{Masker: NewMasker(Pseudonym, pseudonym.New(8, nil)), Sample: 1}, sinks: []*runner{r}}
			l := &Log{}
			l.cur.Store(st)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				l.Log(tt.rec)
				if _, n := r.queued(); n == len(r.ring) {
					r.release(n)
				}
			}
		})
	}
}

// queued is rec as a sink's writer gets it, its client masked as client.
func queued(rec resolver.LogRecord, client netip.Addr) record {
	var r record
	q, a, _ := wireOf(&rec)
	r.fill(&rec, q, a)
	r.client = client
	return r
}

// BenchmarkEncode measures the writer's share per record (dnstap-proto:
// the same frames built as dnstap.Dnstap messages and marshalled).
func BenchmarkEncode(b *testing.B) {
	_, replayed := benchRecords(b)
	r := queued(replayed, netip.MustParseAddr("100::1"))
	for _, tt := range []struct {
		name   string
		encode func([]byte, *record) []byte
	}{{"json", appendJSON}, {"dnstap", appendDnstap}, {"dnstap-proto", appendDnstapProto}} {
		b.Run(tt.name, func(b *testing.B) {
			b.ReportAllocs()
			var buf []byte
			for b.Loop() {
				buf = tt.encode(buf[:0], &r)
			}
		})
	}
}

// TestEncodeMatchesMessages checks the wire readers and the JSON writer
// against miekg/dns and encoding/json on real messages.
func TestEncodeMatchesMessages(t *testing.T) {
	q := new(dns.Msg)
	q.SetQuestion("Odd\\\"name.example.", dns.TypeAAAA)
	q.SetEdns0(1232, false)
	a := new(dns.Msg)
	a.SetRcode(q, dns.RcodeNameError)
	a.Ns = []dns.RR{&dns.SOA{Hdr: dns.RR_Header{Name: "example.", Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: 60}, Ns: "ns.example.", Mbox: "h.example."}}
	a.SetEdns0(1232, false)
	a.IsEdns0().Option = []dns.EDNS0{&dns.EDNS0_EDE{InfoCode: 15, ExtraText: "blocked: malware"}}
	for _, compress := range []bool{false, true} {
		a.Compress = compress

		aw, _ := a.Pack()
		rec := resolver.LogRecord{Received: time.Unix(1700000000, 5), Latency: 1500 * time.Microsecond,
			Client: netip.MustParseAddr("192.0.2.1"), Transport: transport.DoT, Profile: "kids", Outcome: resolver.OutcomeLocal,
			Category: "malware", Query: q, Response: a}
		r := queued(rec, netip.MustParseAddr("100::7"))
		line := appendJSON([]byte("{}\n"), &r)[3:] // after another line
		var got map[string]any
		if err := json.Unmarshal(line, &got); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		want := map[string]any{"time": "2023-11-14T22:13:20.000000005Z", "client": "100::7", "profile": "kids", "transport": "dot",
			"qname": "Odd\\\"name.example.", "qtype": "AAAA", "rcode": "NXDOMAIN", "outcome": "local", "blocked": "malware",
			"ede": 15.0, "latency_us": 1500.0, "size": float64(len(aw))}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("compress %v: %s\n got %v\nwant %v", compress, line, got, want)
		}
	}
}

// BenchmarkSinks measures a record's whole cost, on the query path and the
// sink's writer together, into a file sink of each kind: every 1024
// records the benchmark wakes the writer and waits for it, so nothing is
// dropped and the two rarely run at once.
func BenchmarkSinks(b *testing.B) {
	resolved, _ := benchRecords(b)
	for _, sc := range []SinkConfig{{JSON: "q.jsonl"}, {Dnstap: "file://tap.fstrm"}} {
		b.Run(sc.Name()[:strings.IndexByte(sc.Name(), ':')], func(b *testing.B) {
			dir := b.TempDir()
			sc.JSON, sc.Dnstap = strings.Replace(sc.JSON, "q", dir+"/q", 1), strings.Replace(sc.Dnstap, "tap", dir+"/tap", 1)
			l, err := New(Config{Masker: NewMasker(Pseudonym, pseudonym.New(8, nil)), Sinks: []SinkConfig{sc}}, nil, nil)
			if err != nil {
				b.Fatal(err)
			}
			r := l.cur.Load().sinks[0]
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				l.Log(resolved)
				if i%1024 == 1023 {
					r.kick <- struct{}{}
					for _, n := r.queued(); n > 0; _, n = r.queued() {
						time.Sleep(10 * time.Microsecond)
					}
				}
			}
			l.Close()
		})
	}
}
