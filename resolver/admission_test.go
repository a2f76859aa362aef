package resolver

import (
	"context"
	"errors"
	"net/netip"
	"testing"

	"github.com/miekg/dns"

	"github.com/dnsward/dnsward/internal/transport"
)

// budget admits its first n queries.
type budget struct{ n, asked int }

func (b *budget) Admit(transport.Kind, netip.Addr) bool { b.asked++; return b.asked <= b.n }

// TestAdmissionChargesEveryQuery: the admission step charges well-formed
// and malformed queries alike, once each, and answers a refused one in its
// transport's terms: REFUSED with EDE 18 on DoT, ErrLimited on DoH.
func TestAdmissionChargesEveryQuery(t *testing.T) {
	notify := new(dns.Msg).SetQuestion("a.example.", dns.TypeSOA)
	notify.Opcode = dns.OpcodeNotify
	chaos := new(dns.Msg).SetQuestion("version.bind.", dns.TypeTXT)
	chaos.Question[0].Qclass = dns.ClassCHAOS
	for _, tt := range []struct {
		name string
		q    *dns.Msg
		ok   int // the RCODE while admitted
	}{
		{"standard", new(dns.Msg).SetQuestion("localhost.", dns.TypeA), dns.RcodeSuccess},
		{"NOTIFY", notify, dns.RcodeNotImplemented},
		{"CHAOS", chaos, dns.RcodeRefused},
		{"AXFR", new(dns.Msg).SetQuestion("example.", dns.TypeAXFR), dns.RcodeRefused},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := &budget{n: 1}
			answer := aAnswer(300)
			up := upstreamFunc(func(_ context.Context, req *Request) (*dns.Msg, error) { return answer(req.Msg) })
			h, err := New(Config{Upstream: up, Admission: b})
			if err != nil {
				t.Fatal(err)
			}
			ask := func(tr transport.Kind) (*dns.Msg, error) {
				q := tt.q.Copy()
				q.SetEdns0(1232, false)
				return h.ServeDNS(context.Background(), &Request{Msg: q, Transport: tr, Profile: &Profile{Name: "p"}})
			}
			if resp, err := ask(transport.DoT); err != nil || resp.Rcode != tt.ok {
				t.Fatalf("admitted: %v %v, want rcode %d", resp, err, tt.ok)
			}
			resp, err := ask(transport.DoT)
			if err != nil || resp.Rcode != dns.RcodeRefused || !hasEDE(resp, EDEProhibited) {
				t.Fatalf("over the limit on DoT: %v %v, want REFUSED with EDE 18", resp, err)
			}
			if _, err := ask(transport.DoH2); !errors.Is(err, ErrLimited) {
				t.Errorf("over the limit on DoH: %v, want ErrLimited", err)
			}
			if b.asked != 3 {
				t.Errorf("admission asked %d times for 3 queries", b.asked)
			}
		})
	}
}

// hasEDE reports whether m carries the Extended DNS Error code.
func hasEDE(m *dns.Msg, code uint16) bool {
	if opt := m.IsEdns0(); opt != nil {
		for _, o := range opt.Option {
			if e, ok := o.(*dns.EDNS0_EDE); ok && e.InfoCode == code {
				return true
			}
		}
	}
	return false
}
