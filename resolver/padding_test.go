package resolver

import (
	"net/netip"
	"testing"

	"github.com/miekg/dns"
)

func TestPadResponse(t *testing.T) {
	tests := []struct {
		name      string
		padded    bool
		answers   int
		wantBlock bool
	}{
		{"unpadded query gets no padding", false, 1, false},
		{"small answer padded to one block", true, 1, true},
		{"large answer padded to several blocks", true, 40, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := new(dns.Msg)
			q.SetQuestion("example.org.", dns.TypeA)
			q.SetEdns0(1232, false)
			if tt.padded {
				q.IsEdns0().Option = append(q.IsEdns0().Option, &dns.EDNS0_PADDING{Padding: make([]byte, 10)})
			}
			resp := NewReply(q, dns.RcodeSuccess)
			for i := 0; i < tt.answers; i++ {
				ip := netip.AddrFrom4([4]byte{127, 0, 0, byte(i + 1)})
				resp.Answer = append(resp.Answer, &dns.A{Hdr: dns.RR_Header{Name: "example.org.", Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: ip.AsSlice()})
			}
			PadResponse(q, resp)
			wire, err := resp.Pack()
			if err != nil {
				t.Fatal(err)
			}
			gotPadded := hasPadding(resp.IsEdns0())
			if gotPadded != tt.wantBlock {
				t.Fatalf("padding present = %v, want %v", gotPadded, tt.wantBlock)
			}
			if tt.wantBlock && len(wire)%ResponsePaddingBlock != 0 {
				t.Fatalf("packed length %d is not a multiple of %d", len(wire), ResponsePaddingBlock)
			}
		})
	}
}
