package plain

import (
	"net/netip"
	"testing"

	"github.com/dnsward/dnsward/internal/transport"

	"github.com/miekg/dns"

	"github.com/dnsward/dnsward/internal/dnstest"
)

// FuzzResolveWire feeds arbitrary bytes through the listener's parse and
// answer path (the real chain, a real upstream on loopback): it must never
// panic, and whatever it answers must pack and carry the query's ID.
func FuzzResolveWire(f *testing.F) {
	q := new(dns.Msg)
	q.SetQuestion("www.example.", dns.TypeA)
	q.SetEdns0(1232, true)
	seed, _ := q.Pack()
	f.Add(seed)
	f.Add([]byte{0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{0xab, 0xcd, 0x01, 0, 0, 2, 0, 0, 0, 0, 0, 1, 0xc0, 0x0c})
	auth := dnstest.StartAuthority(f, []string{"www.example. 300 IN A 127.0.0.1"}, nil)
	s := startServer(f, auth, nil)
	client := netip.MustParseAddrPort("127.0.0.1:5353")
	f.Fuzz(func(t *testing.T, wire []byte) {
		req := s.request(client, netip.MustParseAddr("127.0.0.1"), transport.UDP)
		_, resp := s.resolve(s.ctx, wire, &req)
		if resp == nil {
			return
		}
		resp.Truncate(udpLimit(nil))
		if _, err := resp.Pack(); err != nil {
			t.Fatalf("answer does not pack: %v", err)
		}
		if len(wire) >= 2 && resp.Id != uint16(wire[0])<<8|uint16(wire[1]) {
			t.Fatalf("answer ID %d, query ID bytes %x", resp.Id, wire[:2])
		}
	})
}
