package resolver

import (
	"encoding/binary"

	"github.com/dnsward/dnsward/internal/transport"

	"github.com/miekg/dns"
)

// Wire-level parsing for replay: just enough of a packed query to key it, and
// of a packed answer to decide whether it may be replayed. Anything unusual
// (compression in a query, several questions, records in the query's answer
// or authority sections, an EDNS version other than 0, trailing bytes) is
// left to the full chain, which knows how to answer it.

// EDNS facts of a query that change the bytes of its answer.
const (
	ednsPresent   = 1 << iota // the answer carries an OPT record
	ednsDO                    // DNSSEC OK
	ednsPadding               // the answer is padded (RFC 8467)
	ednsKeepalive             // stream transports advertise edns-tcp-keepalive
)

// keyHead is the length of a replay key before the lower-cased query name:
// profile ID (8), transport (1), header flags (2), EDNS facts (1), type (2), class (2).
const keyHead = 16

// maxKey bounds a replay key: the head and a name of at most 255 bytes.
const maxKey = keyHead + 255

// wireQuery is what replay needs of a packed query.
type wireQuery struct {
	key     [maxKey]byte
	keyLen  int
	nameEnd int // offset just past the question name
	udpSize int // EDNS(0) payload size; 0 without EDNS
}

// parseQuery parses q into w, keyed for profile id and transport t; false
// means q must take the full chain.
func parseQuery(q []byte, id uint64, t transport.Kind, w *wireQuery) bool {
	if len(q) < 12+1+4 || q[2]&0x80 != 0 { // a response: the chain drops it
		return false
	}
	qd, an, ns, ar := be16(q[4:]), be16(q[6:]), be16(q[8:]), be16(q[10:])
	if qd != 1 || an != 0 || ns != 0 || ar > 1 {
		return false
	}
	k := w.key[:]
	binary.BigEndian.PutUint64(k, id)
	k[8] = byte(t)
	k[9], k[10] = q[2], q[3]
	k[11] = 0
	off, n := 12, keyHead
	for {
		if off >= len(q) {
			return false
		}
		l := int(q[off])
		if l == 0 {
			k[n] = 0
			n++
			off++
			break
		}
		if l > 63 || off+1+l > len(q) || n+1+l+1 > maxKey {
			return false // a compression pointer, or too long
		}
		k[n] = byte(l)
		for i := 1; i <= l; i++ {
			c := q[off+i]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			k[n+i] = c
		}
		n += 1 + l
		off += 1 + l
	}
	if off+4 > len(q) {
		return false
	}
	w.nameEnd = off
	copy(k[12:16], q[off:off+4]) // type and class
	off += 4
	w.udpSize = 0
	if ar == 1 {
		var ok bool
		if off, ok = parseOPT(q, off, w); !ok {
			return false
		}
	}
	if off != len(q) {
		return false
	}
	// The key holds the head and name; the type and class sit in the head.
	w.keyLen = n
	return true
}

// parseOPT reads the query's one additional record, which must be an EDNS(0) OPT.
func parseOPT(q []byte, off int, w *wireQuery) (int, bool) {
	if off+11 > len(q) || q[off] != 0 || be16(q[off+1:]) != dns.TypeOPT {
		return 0, false
	}
	size := int(be16(q[off+3:]))
	extRcode, version, flags := q[off+5], q[off+6], be16(q[off+7:])
	rdlen := int(be16(q[off+9:]))
	off += 11
	if extRcode != 0 || version != 0 || off+rdlen > len(q) {
		return 0, false
	}
	facts := byte(ednsPresent)
	if flags&0x8000 != 0 {
		facts |= ednsDO
	}
	for end := off + rdlen; off < end; {
		if off+4 > end {
			return 0, false
		}
		code, l := be16(q[off:]), int(be16(q[off+2:]))
		off += 4 + l
		if off > end {
			return 0, false
		}
		switch code {
		case dns.EDNS0PADDING:
			facts |= ednsPadding
		case dns.EDNS0TCPKEEPALIVE:
			facts |= ednsKeepalive
		}
	}
	w.key[11] = facts
	w.udpSize = max(size, 512)
	return off, true
}

// answerFacts is what replay needs of a packed answer.
type answerFacts struct {
	rcode  int
	minTTL uint32 // over every record but OPT; ^0 when there are none
	maxAge uint32 // the HTTP max-age: min TTL of answer and authority, and SOA MINIMUM
}

// parseAnswer checks that ans answers the query w describes with NOERROR or
// NXDOMAIN, untruncated, without an extended RCODE, and returns its TTL facts.
func parseAnswer(ans []byte, w *wireQuery) (answerFacts, bool) {
	var f answerFacts
	if len(ans) < w.nameEnd+4 || ans[2]&0x80 == 0 || ans[2]&0x02 != 0 || be16(ans[4:]) != 1 {
		return f, false
	}
	f.rcode = int(ans[3] & 0x0F)
	if f.rcode != dns.RcodeSuccess && f.rcode != dns.RcodeNameError {
		return f, false
	}
	// The question must be the query's, byte for byte bar case, so that
	// replay can copy the client's spelling over it.
	name := w.key[keyHead:w.keyLen]
	for i, c := range ans[12:w.nameEnd] {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != name[i] {
			return f, false
		}
	}
	if [4]byte(ans[w.nameEnd:w.nameEnd+4]) != [4]byte(w.key[12:16]) {
		return f, false
	}
	f.minTTL, f.maxAge = ^uint32(0), ^uint32(0)
	off := w.nameEnd + 4
	an, ns, ar := int(be16(ans[6:])), int(be16(ans[8:])), int(be16(ans[10:]))
	for i := 0; i < an+ns+ar; i++ {
		var ok bool
		if off, ok = skipName(ans, off); !ok || off+10 > len(ans) {
			return f, false
		}
		typ, ttl, rdlen := be16(ans[off:]), binary.BigEndian.Uint32(ans[off+4:]), int(be16(ans[off+8:]))
		rdata := off + 10
		off = rdata + rdlen
		if off > len(ans) {
			return f, false
		}
		if typ == dns.TypeOPT {
			if ans[rdata-6] != 0 || staleEDE(ans[rdata:off]) { // extended RCODE, or a stale answer
				return f, false
			}
			continue
		}
		f.minTTL = min(f.minTTL, ttl)
		if i < an+ns {
			f.maxAge = min(f.maxAge, ttl)
			if typ == dns.TypeSOA && rdlen >= 22 { // SOA: MINIMUM is the last field
				f.maxAge = min(f.maxAge, binary.BigEndian.Uint32(ans[off-4:]))
			}
		}
	}
	if off != len(ans) {
		return f, false
	}
	if f.maxAge == ^uint32(0) {
		f.maxAge = 0 // as cacheControl in doh: nothing bounds the lifetime
	}
	return f, true
}

// staleEDE reports whether OPT rdata carries EDE 3 (Stale Answer).
func staleEDE(rdata []byte) bool {
	for off := 0; off+4 <= len(rdata); {
		code, l := be16(rdata[off:]), int(be16(rdata[off+2:]))
		if code == dns.EDNS0EDE && l >= 2 && off+6 <= len(rdata) && be16(rdata[off+4:]) == EDEStaleAnswer {
			return true
		}
		off += 4 + l
	}
	return false
}

// skipName returns the offset past the (possibly compressed) name at off.
func skipName(m []byte, off int) (int, bool) {
	for off < len(m) {
		l := int(m[off])
		switch {
		case l == 0:
			return off + 1, true
		case l&0xC0 == 0xC0:
			return off + 2, off+2 <= len(m)
		case l > 63:
			return 0, false
		}
		off += 1 + l
	}
	return 0, false
}

func be16(b []byte) uint16 { return binary.BigEndian.Uint16(b) }
