package xdp

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/miekg/dns"
)

// packet describes a test frame; build turns it into bytes.
type packet struct {
	src, dst   netip.Addr
	sport      uint16
	dport      uint16
	proto      uint8  // IP protocol; 0 means UDP
	payload    []byte // UDP payload; nil means a query for example.org. A
	fragOff    uint16 // IPv4 flags+offset field / IPv6 fragment header when set
	frag6      bool   // add an IPv6 fragment header with fragOff
	truncateTo int    // cut the frame to this length when > 0
	vlan       bool
}

var (
	macA = [6]byte{0x02, 0, 0, 0, 0, 0xa}
	macB = [6]byte{0x02, 0, 0, 0, 0, 0xb}
)

func query(name string, id uint16) []byte {
	m := new(dns.Msg)
	m.SetQuestion(name, dns.TypeA)
	m.Id = id
	m.SetEdns0(1232, false)
	b, err := m.Pack()
	if err != nil {
		panic(err)
	}
	return b
}

func checksum(b []byte, sum uint32) uint16 {
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// pseudoSum is the sum of the IP pseudo-header for a UDP segment.
func pseudoSum(src, dst netip.Addr, length int) uint32 {
	var sum uint32
	for _, a := range []netip.Addr{src, dst} {
		b := a.AsSlice()
		for i := 0; i < len(b); i += 2 {
			sum += uint32(binary.BigEndian.Uint16(b[i:]))
		}
	}
	return sum + 17 + uint32(length)
}

func (p packet) build() []byte {
	payload := p.payload
	if payload == nil {
		payload = query("example.org.", 0x1234)
	}
	proto := p.proto
	if proto == 0 {
		proto = 17
	}
	l4 := make([]byte, 8+len(payload))
	binary.BigEndian.PutUint16(l4[0:], p.sport)
	binary.BigEndian.PutUint16(l4[2:], p.dport)
	binary.BigEndian.PutUint16(l4[4:], uint16(len(l4)))
	copy(l4[8:], payload)
	binary.BigEndian.PutUint16(l4[6:], checksum(l4, pseudoSum(p.src, p.dst, len(l4))))

	frame := append(append([]byte{}, macB[:]...), macA[:]...)
	if p.vlan {
		frame = append(frame, 0x81, 0x00, 0x00, 0x07)
	}
	if p.src.Is4() {
		frame = append(frame, 0x08, 0x00)
		ip := make([]byte, 20)
		ip[0] = 0x45
		binary.BigEndian.PutUint16(ip[2:], uint16(20+len(l4)))
		binary.BigEndian.PutUint16(ip[6:], p.fragOff)
		ip[8], ip[9] = 64, proto
		copy(ip[12:], p.src.AsSlice())
		copy(ip[16:], p.dst.AsSlice())
		binary.BigEndian.PutUint16(ip[10:], checksum(ip, 0))
		frame = append(append(frame, ip...), l4...)
	} else {
		frame = append(frame, 0x86, 0xdd)
		ip := make([]byte, 40)
		ip[0] = 0x60
		ip[6], ip[7] = proto, 64
		var ext []byte
		if p.frag6 {
			ip[6] = 44
			ext = make([]byte, 8)
			ext[0] = proto
			binary.BigEndian.PutUint16(ext[2:], p.fragOff)
		}
		binary.BigEndian.PutUint16(ip[4:], uint16(len(ext)+len(l4)))
		copy(ip[8:], p.src.AsSlice())
		copy(ip[24:], p.dst.AsSlice())
		frame = append(append(append(frame, ip...), ext...), l4...)
	}
	if p.truncateTo > 0 && p.truncateTo < len(frame) {
		frame = frame[:p.truncateTo]
	}
	return frame
}

// udpTo returns a DNS query frame from src to dst port 53.
func udpTo(src, dst string) packet {
	return packet{src: netip.MustParseAddr(src), dst: netip.MustParseAddr(dst), sport: 40000, dport: 53}
}

func TestPacketBuilderChecksums(t *testing.T) {
	for _, p := range []packet{udpTo("192.0.2.1", "192.0.2.53"), udpTo("2001:db8::1", "2001:db8::53")} {
		f := p.build()
		off := 14 + 20
		if p.src.Is6() {
			off = 14 + 40
		} else if checksum(f[14:34], 0) != 0 {
			t.Errorf("%s: bad IPv4 header checksum", p.src)
		}
		if got := checksum(f[off:], pseudoSum(p.src, p.dst, len(f)-off)); got != 0 {
			t.Errorf("%s: bad UDP checksum (residue %#x)", p.src, got)
		}
	}
}
