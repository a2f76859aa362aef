package xdp

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"os"
	"testing"

	"github.com/miekg/dns"

	"github.com/dnsward/dnsward/ratelimit"
)

// XDP return codes.
const (
	xdpDrop = 1
	xdpPass = 2
	xdpTX   = 3
)

func needRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("loading XDP programs needs root (CAP_BPF, CAP_NET_ADMIN); CI runs as root")
	}
}

// testFilter loads the program with l, unattached.
func testFilter(t testing.TB, l ratelimit.Limits) *Filter {
	t.Helper()
	needRoot(t)
	cfg, _, err := Config{Interfaces: []string{"lo"}, Limits: l}.normalize()
	if err != nil {
		t.Fatal(err)
	}
	f, err := open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// run runs the program once on frame and returns its verdict and output.
func run(t testing.TB, f *Filter, frame []byte) (uint32, []byte) {
	t.Helper()
	ret, out, err := f.objs.DnswardXdp.Test(frame)
	if err != nil {
		t.Fatal(err)
	}
	return ret, out
}

func pfx(ss ...string) []netip.Prefix {
	var ps []netip.Prefix
	for _, s := range ss {
		ps = append(ps, netip.MustParsePrefix(s))
	}
	return ps
}

func repeat(p packet, n int) []packet {
	ps := make([]packet, n)
	for i := range ps {
		ps[i] = p
	}
	return ps
}

func withPayload(p packet, b []byte) packet { p.payload = b; return p }

// header returns a 12-byte DNS header with the given flags and QDCOUNT.
func header(flags, qd uint16) []byte {
	b := make([]byte, 12)
	binary.BigEndian.PutUint16(b[0:], 0x4242)
	binary.BigEndian.PutUint16(b[2:], flags)
	binary.BigEndian.PutUint16(b[4:], qd)
	return b
}

func TestProgramVerdicts(t *testing.T) {
	v4, v4b, v6, v6b := udpTo("192.0.2.1", "192.0.2.53"), udpTo("192.0.2.2", "192.0.2.53"),
		udpTo("2001:db8::1", "2001:db8::53"), udpTo("2001:db8::2", "2001:db8::53")
	v6other := udpTo("2001:db8:0:1::1", "2001:db8::53")
	base := ratelimit.Limits{QPS: 1, Burst: 3}
	cat := func(ps ...[]packet) []packet {
		var out []packet
		for _, p := range ps {
			out = append(out, p...)
		}
		return out
	}
	tests := []struct {
		name    string
		limits  ratelimit.Limits
		packets []packet
		want    []uint32 // one verdict per packet
		stats   map[Counter]uint64
	}{
		{
			name: "ipv4 burst then drop", limits: base,
			packets: repeat(v4, 5),
			want:    []uint32{xdpPass, xdpPass, xdpPass, xdpDrop, xdpDrop},
			stats:   map[Counter]uint64{PassedWithinLimit: 3, DroppedRateLimit: 2},
		},
		{
			name: "ipv6 burst then drop, /64 shared", limits: base,
			packets: cat(repeat(v6, 2), []packet{v6b, v6b, v6other}),
			want:    []uint32{xdpPass, xdpPass, xdpPass, xdpDrop, xdpPass},
			stats:   map[Counter]uint64{PassedWithinLimit: 4, DroppedRateLimit: 1},
		},
		{
			name: "ipv4 /32 default keeps neighbours apart", limits: base,
			packets: cat(repeat(v4, 4), []packet{v4b}),
			want:    []uint32{xdpPass, xdpPass, xdpPass, xdpDrop, xdpPass},
			stats:   map[Counter]uint64{PassedWithinLimit: 4, DroppedRateLimit: 1},
		},
		{
			name: "ipv4 /24 shares a bucket", limits: ratelimit.Limits{QPS: 1, Burst: 3, IPv4Prefix: 24},
			packets: cat(repeat(v4, 3), []packet{v4b}),
			want:    []uint32{xdpPass, xdpPass, xdpPass, xdpDrop},
			stats:   map[Counter]uint64{PassedWithinLimit: 3, DroppedRateLimit: 1},
		},
		{
			name: "slip every second excess", limits: ratelimit.Limits{QPS: 1, Burst: 1, Slip: 2},
			packets: repeat(v4, 5),
			want:    []uint32{xdpPass, xdpDrop, xdpTX, xdpDrop, xdpTX},
			stats:   map[Counter]uint64{PassedWithinLimit: 1, DroppedRateLimit: 2, AnsweredTC: 2},
		},
		{
			name: "allow list is never limited", limits: ratelimit.Limits{QPS: 1, Burst: 1, Allow: pfx("192.0.2.0/24")},
			packets: repeat(v4, 4),
			want:    []uint32{xdpPass, xdpPass, xdpPass, xdpPass},
			stats:   map[Counter]uint64{PassedAllowList: 4},
		},
		{
			name: "deny list always drops", limits: ratelimit.Limits{QPS: 100, Burst: 100, Deny: pfx("2001:db8::/32")},
			packets: []packet{v6, v4},
			want:    []uint32{xdpDrop, xdpPass},
			stats:   map[Counter]uint64{DroppedDenyList: 1, PassedWithinLimit: 1},
		},
		{
			name:    "longer allow beats shorter deny",
			limits:  ratelimit.Limits{QPS: 100, Burst: 100, Allow: pfx("192.0.2.1/32"), Deny: pfx("192.0.2.0/24")},
			packets: []packet{v4, v4b},
			want:    []uint32{xdpPass, xdpDrop},
			stats:   map[Counter]uint64{PassedAllowList: 1, DroppedDenyList: 1},
		},
		{
			name:    "deny wins a tie",
			limits:  ratelimit.Limits{QPS: 100, Burst: 100, Allow: pfx("192.0.2.0/24"), Deny: pfx("192.0.2.0/24")},
			packets: []packet{v4},
			want:    []uint32{xdpDrop},
			stats:   map[Counter]uint64{DroppedDenyList: 1},
		},
		{
			name: "malformed queries drop", limits: base,
			packets: []packet{
				withPayload(v4, header(0, 1)[:11]),                                   // shorter than a header
				withPayload(v4, header(0x8000, 1)),                                   // QR set
				withPayload(v4, header(0, 0)),                                        // QDCOUNT 0
				withPayload(v6, header(0, 2)),                                        // QDCOUNT 2
				{src: v4.src, dst: v4.dst, sport: 1, dport: 53, truncateTo: 14 + 10}, // IPv4 header cut
				{src: v6.src, dst: v6.dst, sport: 1, dport: 53, truncateTo: 14 + 44}, // UDP header cut
			},
			want:  []uint32{xdpDrop, xdpDrop, xdpDrop, xdpDrop, xdpDrop, xdpDrop},
			stats: map[Counter]uint64{DroppedMalformed: 6},
		},
		{
			name: "fragments to the port drop", limits: base,
			packets: []packet{
				{src: v4.src, dst: v4.dst, sport: 1, dport: 53, fragOff: 0x2000},              // first, MF
				{src: v6.src, dst: v6.dst, sport: 1, dport: 53, frag6: true, fragOff: 0x0001}, // first, M
				{src: v4.src, dst: v4.dst, sport: 1, dport: 53, fragOff: 0x0010},              // later: port unknown
			},
			want:  []uint32{xdpDrop, xdpDrop, xdpPass},
			stats: map[Counter]uint64{DroppedFragment: 2, PassedNotDNS: 1},
		},
		{
			name: "other traffic passes", limits: ratelimit.Limits{QPS: 1, Burst: 1},
			packets: []packet{
				{src: v4.src, dst: v4.dst, sport: 53, dport: 5353},
				{src: v6.src, dst: v6.dst, sport: 1, dport: 53, proto: 6},
				{src: v4.src, dst: v4.dst, sport: 1, dport: 53, proto: 1},
				{src: v4.src, dst: v4.dst, sport: 1, dport: 53, fragOff: 0x2000, proto: 6},
			},
			want:  []uint32{xdpPass, xdpPass, xdpPass, xdpPass},
			stats: map[Counter]uint64{PassedNotDNS: 4},
		},
		{
			name: "vlan tagged queries are limited", limits: ratelimit.Limits{QPS: 1, Burst: 1},
			packets: repeat(packet{src: v4.src, dst: v4.dst, sport: 1, dport: 53, vlan: true}, 2),
			want:    []uint32{xdpPass, xdpDrop},
			stats:   map[Counter]uint64{PassedWithinLimit: 1, DroppedRateLimit: 1},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := testFilter(t, tc.limits)
			for i, p := range tc.packets {
				in := p.build()
				ret, out := run(t, f, in)
				if ret != tc.want[i] {
					t.Errorf("packet %d: verdict %d, want %d", i, ret, tc.want[i])
				}
				if ret == xdpPass && !bytes.Equal(in, out) {
					t.Errorf("packet %d: passed packet was modified", i)
				}
			}
			s, err := f.Stats()
			if err != nil {
				t.Fatal(err)
			}
			for c := range numCounters {
				if s[c] != tc.stats[c] {
					t.Errorf("counter %s/%s = %d, want %d", c.Action(), c.Reason(), s[c], tc.stats[c])
				}
			}
		})
	}
}

// TestProgramSlipAnswer checks the TC=1 answer built in XDP field by field.
func TestProgramSlipAnswer(t *testing.T) {
	for _, p := range []packet{udpTo("192.0.2.1", "192.0.2.53"), udpTo("2001:db8::1", "2001:db8::53")} {
		t.Run(p.src.String(), func(t *testing.T) {
			f := testFilter(t, ratelimit.Limits{QPS: 1, Burst: 1, Slip: 1})
			p.sport = 40001
			p.payload = query("a-rather-long-label.example.org.", 0x5151) // with an OPT record to trim
			run(t, f, p.build())
			ret, out := run(t, f, p.build())
			if ret != xdpTX {
				t.Fatalf("verdict %d, want XDP_TX", ret)
			}
			if !bytes.Equal(out[0:6], macA[:]) || !bytes.Equal(out[6:12], macB[:]) {
				t.Errorf("MACs not swapped: % x", out[:12])
			}
			l4 := 14 + 20
			var src, dst netip.Addr
			if p.src.Is4() {
				ip := out[14:34]
				src, dst = netip.AddrFrom4([4]byte(ip[12:16])), netip.AddrFrom4([4]byte(ip[16:20]))
				if checksum(ip, 0) != 0 {
					t.Error("bad IPv4 header checksum")
				}
				if int(binary.BigEndian.Uint16(ip[2:])) != len(out)-14 {
					t.Errorf("IPv4 total length %d, frame holds %d", binary.BigEndian.Uint16(ip[2:]), len(out)-14)
				}
			} else {
				l4 = 14 + 40
				ip := out[14:54]
				src, dst = netip.AddrFrom16([16]byte(ip[8:24])), netip.AddrFrom16([16]byte(ip[24:40]))
				if int(binary.BigEndian.Uint16(ip[4:])) != len(out)-l4 {
					t.Errorf("IPv6 payload length %d, frame holds %d", binary.BigEndian.Uint16(ip[4:]), len(out)-l4)
				}
			}
			if src != p.dst || dst != p.src {
				t.Errorf("addresses %s -> %s, want %s -> %s", src, dst, p.dst, p.src)
			}
			udp := out[l4:]
			if sp, dp := binary.BigEndian.Uint16(udp[0:]), binary.BigEndian.Uint16(udp[2:]); sp != 53 || dp != 40001 {
				t.Errorf("ports %d -> %d, want 53 -> 40001", sp, dp)
			}
			if int(binary.BigEndian.Uint16(udp[4:])) != len(udp) {
				t.Errorf("UDP length %d, segment %d", binary.BigEndian.Uint16(udp[4:]), len(udp))
			}
			if checksum(udp, pseudoSum(src, dst, len(udp))) != 0 {
				t.Error("bad UDP checksum")
			}
			var m dns.Msg
			if err := m.Unpack(udp[8:]); err != nil {
				t.Fatalf("answer does not parse: %v", err)
			}
			if !m.Response || !m.Truncated || m.Id != 0x5151 || !m.RecursionDesired || m.Rcode != dns.RcodeSuccess {
				t.Errorf("header: %+v", m.MsgHdr)
			}
			if len(m.Question) != 1 || m.Question[0].Name != "a-rather-long-label.example.org." || len(m.Extra)+len(m.Answer)+len(m.Ns) != 0 {
				t.Errorf("want just the question, got %v", &m)
			}
		})
	}
}

// TestProgramUpdate changes limits on a loaded program without reloading.
func TestProgramUpdate(t *testing.T) {
	f := testFilter(t, ratelimit.Limits{QPS: 1, Burst: 1})
	p := udpTo("192.0.2.1", "192.0.2.53")
	steps := []struct {
		limits ratelimit.Limits
		want   uint32
	}{
		{ratelimit.Limits{QPS: 1, Burst: 1, Deny: pfx("192.0.2.0/24")}, xdpDrop},
		{ratelimit.Limits{QPS: 1, Burst: 1, Allow: pfx("192.0.2.1/32")}, xdpPass},
		{ratelimit.Limits{QPS: 1, Burst: 1}, xdpPass}, // the first query fills a fresh bucket
		{ratelimit.Limits{QPS: 1, Burst: 1}, xdpDrop},
	}
	for i, s := range steps {
		if err := f.Update(s.limits); err != nil {
			t.Fatal(err)
		}
		if ret, _ := run(t, f, p.build()); ret != s.want {
			t.Errorf("step %d: verdict %d, want %d", i, ret, s.want)
		}
	}
	top, err := f.TopLimited(5)
	if err != nil {
		t.Fatal(err)
	}
	if len(top) != 1 || top[0].Prefix != netip.MustParsePrefix("192.0.2.1/32") || top[0].Excess != 1 {
		t.Errorf("TopLimited = %v", top)
	}
}
