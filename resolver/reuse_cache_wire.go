package resolver

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"

	"github.com/miekg/dns"
)

// The cache keeps each answer packed: one compressed byte slice holds what
// a parsed *dns.Msg spreads over a dozen allocations (the message, its
// section slices, every record and every name), which halves the heap a
// cached answer costs all told (BenchmarkCacheMemory). A hit unpacks the
// records afresh, which replaces the copy a parsed entry needed anyway (its
// records are shared and must not be handed out).

// packAnswer packs resp for the cache: compressed, without its OPT record
// (the entry step adds the one the client's query calls for), TTLs as
// received. resp is not modified.
func packAnswer(resp *dns.Msg) ([]byte, error) {
	m := *resp
	m.Extra = nil
	for _, rr := range resp.Extra {
		if rr.Header().Rrtype != dns.TypeOPT {
			m.Extra = append(m.Extra, rr)
		}
	}
	m.Compress = true
	wire, err := m.Pack()
	if err != nil {
		return nil, err
	}
	return bytes.Clone(wire), nil // Pack's buffer has room for the uncompressed message
}

// cachedReply unpacks the answer wire for query q: the header as stored,
// with q's ID, RD bit and question (the client's spelling), and every TTL
// clamped to [lo, hi] seconds, then reduced by elapsed seconds (to no less
// than 0), or StaleTTL when stale.
func cachedReply(wire []byte, q *dns.Msg, elapsed, lo, hi uint32, stale bool) (*dns.Msg, error) {
	off, ok := skipName(wire, 12)
	if !ok || len(wire) < off+4 {
		return nil, errors.New("cache: bad question in a stored answer")
	}
	off += 4
	m := &dns.Msg{MsgHdr: wireHeader(wire), Compress: true}
	m.Id = q.Id
	m.RecursionDesired = q.RecursionDesired
	m.Question = q.Question
	for i, section := range []*[]dns.RR{&m.Answer, &m.Ns, &m.Extra} {
		n := int(be16(wire[6+2*i:]))
		if n == 0 {
			continue
		}
		rrs := make([]dns.RR, n)
		for j := range rrs {
			var err error
			if rrs[j], off, err = unpackRecord(wire, off, q.Question[0].Name); err != nil {
				return nil, fmt.Errorf("cache: stored answer: %w", err)
			}
			h := rrs[j].Header()
			switch ttl := min(max(h.Ttl, lo), hi); {
			case stale:
				h.Ttl = StaleTTL
			case ttl > elapsed:
				h.Ttl = ttl - elapsed
			default:
				h.Ttl = 0
			}
		}
		*section = rrs
	}
	return m, nil
}

// unpackRecord unpacks the record at off in wire and returns it with the
// offset past it. An owner name that points at the question (offset 12) is
// qname, the client's spelling of it, which spares unpacking the name; A
// and AAAA records, most answers, are built directly.
func unpackRecord(wire []byte, off int, qname string) (dns.RR, int, error) {
	var h dns.RR_Header
	if off+2 <= len(wire) && wire[off] == 0xC0 && wire[off+1] == 12 {
		h.Name, off = qname, off+2
	} else {
		var err error
		if h.Name, off, err = dns.UnpackDomainName(wire, off); err != nil {
			return nil, 0, err
		}
	}
	if off+10 > len(wire) {
		return nil, 0, errors.New("record header overflows the message")
	}
	h.Rrtype, h.Class, h.Ttl, h.Rdlength = be16(wire[off:]), be16(wire[off+2:]), binary.BigEndian.Uint32(wire[off+4:]), be16(wire[off+8:])
	rdata, end := off+10, off+10+int(h.Rdlength)
	if end > len(wire) {
		return nil, 0, errors.New("record data overflows the message")
	}
	switch {
	case h.Rrtype == dns.TypeA && h.Rdlength == net.IPv4len:
		r := &aRecord{rr: dns.A{Hdr: h}}
		r.rr.A = r.ip[:copy(r.ip[:], wire[rdata:end])]
		return &r.rr, end, nil
	case h.Rrtype == dns.TypeAAAA && h.Rdlength == net.IPv6len:
		r := &aaaaRecord{rr: dns.AAAA{Hdr: h}}
		r.rr.AAAA = r.ip[:copy(r.ip[:], wire[rdata:end])]
		return &r.rr, end, nil
	}
	// Cut at the record's end, as dns.UnpackRR does: the data of some types
	// is read to the end of the slice.
	return dns.UnpackRRWithHeader(h, wire[:end], rdata)
}

// aRecord and aaaaRecord hold an address record and its address in one
// allocation instead of two.
type (
	aRecord struct {
		rr dns.A
		ip [net.IPv4len]byte
	}
	aaaaRecord struct {
		rr dns.AAAA
		ip [net.IPv6len]byte
	}
)

// wireHeader is the header of the packed message wire, bar its ID and counts.
func wireHeader(wire []byte) dns.MsgHdr {
	f := be16(wire[2:])
	return dns.MsgHdr{
		Response:           f&(1<<15) != 0,
		Opcode:             int(f>>11) & 0xF,
		Authoritative:      f&(1<<10) != 0,
		Truncated:          f&(1<<9) != 0,
		RecursionDesired:   f&(1<<8) != 0,
		RecursionAvailable: f&(1<<7) != 0,
		Zero:               f&(1<<6) != 0,
		AuthenticatedData:  f&(1<<5) != 0,
		CheckingDisabled:   f&(1<<4) != 0,
		Rcode:              int(f & 0xF),
	}
}
