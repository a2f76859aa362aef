package plain

import (
	"net/netip"
	"testing"

	"github.com/dnsward/dnsward/internal/transport"

	"github.com/miekg/dns"

	"github.com/dnsward/dnsward/clientaddr"
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

// FuzzProxiedDatagram feeds arbitrary datagrams from a trusted proxy and
// from another peer through the PROXY v2 step of the UDP read loop and on
// through the chain: no panic; a trusted proxy's datagram passes only with
// a header, whose client the request then carries; another peer's never
// passes with one.
func FuzzProxiedDatagram(f *testing.F) {
	q := new(dns.Msg)
	q.SetQuestion("www.example.", dns.TypeA)
	query, _ := q.Pack()
	h := clientaddr.Header{Command: clientaddr.Proxy, Source: netip.MustParseAddrPort("192.0.2.7:5300"), Destination: netip.MustParseAddrPort("198.51.100.5:53")}
	hdr, _ := h.AppendBinary(nil)
	local, _ := clientaddr.Header{Command: clientaddr.Local}.AppendBinary(nil)
	f.Add(append(hdr, query...))
	f.Add(append(local, query...))
	f.Add(query)
	f.Add(hdr[:20])
	auth := dnstest.StartAuthority(f, []string{"www.example. 300 IN A 127.0.0.1"}, nil)
	s := startServer(f, auth, func(c *Config) {
		c.ProxyProtocol, c.TrustedProxies = true, []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	})
	proxy, other := netip.MustParseAddrPort("127.0.0.1:5353"), netip.MustParseAddrPort("127.0.0.2:5353")
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, peer := range []netip.AddrPort{proxy, other} {
			req := s.request(peer, netip.MustParseAddr("127.0.0.1"), transport.UDP)
			wire, ok := s.unwrapUDP(&req, b)
			if !ok {
				continue
			}
			hdr, payload, err := clientaddr.ParseHeader(b)
			switch {
			case peer == other && (err == nil || clientaddr.HasSignature(b)):
				t.Fatalf("an untrusted peer's header passed: %x", b)
			case peer == proxy && err != nil:
				t.Fatalf("a trusted proxy's datagram passed without a header: %v", err)
			case peer == proxy && (len(payload) != len(wire) || hdr.Source.IsValid() && req.Client != hdr.Source):
				t.Fatalf("client %v, payload %d bytes; header %+v, %d bytes", req.Client, len(wire), hdr, len(payload))
			}
			s.resolve(s.ctx, wire, &req)
		}
	})
}
