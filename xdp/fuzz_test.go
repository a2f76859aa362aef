package xdp

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/miekg/dns"

	"github.com/dnsward/dnsward/ratelimit"
)

// FuzzProgram runs the parser in the kernel on arbitrary frames: a passed
// frame is never modified, and an XDP_TX frame is a well-formed TC=1 answer.
func FuzzProgram(f *testing.F) {
	for _, p := range []packet{
		udpTo("192.0.2.1", "192.0.2.53"), udpTo("2001:db8::1", "2001:db8::53"),
		{src: netip.MustParseAddr("198.51.100.1"), dst: netip.MustParseAddr("192.0.2.53"), dport: 53, fragOff: 0x2000},
		withPayload(udpTo("192.0.2.1", "192.0.2.53"), header(0, 1)),
	} {
		f.Add(p.build())
	}
	filter := testFilter(f, ratelimit.Limits{QPS: 1, Burst: 1, Slip: 1, Deny: pfx("198.51.100.0/24")})
	f.Fuzz(func(t *testing.T, frame []byte) {
		if len(frame) < 14 {
			return // BPF_PROG_TEST_RUN needs an Ethernet header
		}
		ret, out := run(t, filter, frame)
		switch ret {
		case xdpDrop:
		case xdpPass:
			if !bytes.Equal(frame, out) {
				t.Fatal("passed frame was modified")
			}
		case xdpTX:
			l4 := 14 + 20
			if out[12] == 0x86 {
				l4 = 14 + 40
			}
			var m dns.Msg
			if len(out) < l4+8 || m.Unpack(out[l4+8:]) != nil || !m.Response || !m.Truncated || len(m.Question) != 1 {
				t.Fatalf("XDP_TX frame is not a TC=1 answer: % x", out)
			}
		default:
			t.Fatalf("verdict %d", ret)
		}
	})
}
