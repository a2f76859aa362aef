package doq

import (
	"testing"

	"github.com/miekg/dns"
)

func TestReplaySafe(t *testing.T) {
	q := func(edit func(*dns.Msg)) *dns.Msg {
		m := new(dns.Msg)
		m.SetQuestion("example.org.", dns.TypeA)
		m.SetEdns0(1232, true)
		if edit != nil {
			edit(m)
		}
		return m
	}
	for _, tc := range []struct {
		name string
		msg  *dns.Msg
		safe bool
	}{
		{"A query", q(nil), true},
		{"HTTPS query", q(func(m *dns.Msg) { m.Question[0].Qtype = dns.TypeHTTPS }), true},
		{"no EDNS", q(func(m *dns.Msg) { m.Extra = nil }), true},
		{"NOTIFY", q(func(m *dns.Msg) { m.Opcode = dns.OpcodeNotify }), false},
		{"UPDATE", q(func(m *dns.Msg) { m.Opcode = dns.OpcodeUpdate }), false},
		{"AXFR", q(func(m *dns.Msg) { m.Question[0].Qtype = dns.TypeAXFR }), false},
		{"IXFR", q(func(m *dns.Msg) { m.Question[0].Qtype = dns.TypeIXFR }), false},
		{"CHAOS class", q(func(m *dns.Msg) { m.Question[0].Qclass = dns.ClassCHAOS }), false},
		{"two questions", q(func(m *dns.Msg) { m.Question = append(m.Question, m.Question[0]) }), false},
		{"no question", q(func(m *dns.Msg) { m.Question = nil }), false},
		{"records in answer", q(func(m *dns.Msg) {
			m.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: "x.", Rrtype: dns.TypeA, Class: dns.ClassINET}}}
		}), false},
		{"TSIG-like extra", q(func(m *dns.Msg) {
			m.Extra = append(m.Extra, &dns.TXT{Hdr: dns.RR_Header{Name: "x.", Rrtype: dns.TypeTXT, Class: dns.ClassINET}})
		}), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := replaySafe(tc.msg); got != tc.safe {
				t.Fatalf("replaySafe = %v, want %v", got, tc.safe)
			}
		})
	}
}
