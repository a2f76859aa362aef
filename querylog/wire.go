package querylog

import (
	"encoding/binary"

	"github.com/miekg/dns"
)

// answerFacts reads from a packed answer what a record reports, without
// unpacking it: the RCODE (extended by the OPT record, if any) and the
// first Extended DNS Error's info code (hasEDE false when there is none).
// rcode is -1 when a has no header.
func answerFacts(a []byte) (rcode int, ede uint16, hasEDE bool) {
	if len(a) < 12 {
		return -1, 0, false
	}
	rcode = int(a[3] & 0xF)
	ext, _ := options(a, func(code uint16, data []byte) {
		if code == dns.EDNS0EDE && len(data) >= 2 && !hasEDE {
			ede, hasEDE = binary.BigEndian.Uint16(data), true
		}
	})
	return rcode | ext<<4, ede, hasEDE
}

// options calls fn for each EDNS option in the OPT record of the packed
// message m and returns the OPT's extended RCODE bits; ok is false when m
// is cut short.
func options(m []byte, fn func(code uint16, data []byte)) (ext int, ok bool) {
	if len(m) < 12 {
		return 0, false
	}
	qd, rrs := binary.BigEndian.Uint16(m[4:]), int(binary.BigEndian.Uint16(m[6:]))+
		int(binary.BigEndian.Uint16(m[8:]))+int(binary.BigEndian.Uint16(m[10:]))
	off := 12
	for range qd {
		if off = skipName(m, off) + 4; off > len(m) {
			return 0, false
		}
	}
	for range rrs {
		off = skipName(m, off)
		if off+10 > len(m) {
			return 0, false
		}
		typ, ttl, rdlen := binary.BigEndian.Uint16(m[off:]), binary.BigEndian.Uint32(m[off+4:]), int(binary.BigEndian.Uint16(m[off+8:]))
		off += 10
		if off+rdlen > len(m) {
			return 0, false
		}
		if typ == dns.TypeOPT {
			ext = int(ttl >> 24)
			for o := off; o+4 <= off+rdlen; {
				code, l := binary.BigEndian.Uint16(m[o:]), int(binary.BigEndian.Uint16(m[o+2:]))
				if o+4+l > off+rdlen {
					return ext, false
				}
				fn(code, m[o+4:o+4+l])
				o += 4 + l
			}
		}
		off += rdlen
	}
	return ext, true
}

// skipName returns the offset just past the (possibly compressed) name at
// off, or len(m)+1 when it runs past the message.
func skipName(m []byte, off int) int {
	for off < len(m) {
		switch l := int(m[off]); {
		case l == 0:
			return off + 1
		case l&0xC0 == 0xC0:
			return off + 2
		default:
			off += 1 + l
		}
	}
	return len(m) + 1
}

// question reads the question of a packed query: its name (presentation
// format) and type; ok false when there is no single readable question.
func question(q []byte) (name string, qtype uint16, ok bool) {
	if len(q) < 12 || binary.BigEndian.Uint16(q[4:]) != 1 {
		return "", 0, false
	}
	name, off, err := dns.UnpackDomainName(q, 12)
	if err != nil || off+2 > len(q) {
		return "", 0, false
	}
	return name, binary.BigEndian.Uint16(q[off:]), true
}
