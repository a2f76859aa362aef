package resolver

import (
	"encoding/binary"
	"hash/maphash"
	"strings"
)

// cacheKey identifies answers that are interchangeable between clients. The
// profile is not part of it: policy runs above the cache, so what is stored is
// always the unfiltered upstream answer, shared by every profile. The route
// is: a profile's forward zone may send a name to other servers than the
// default group (an internal view of a public zone), and their answers must
// never reach profiles that resolve it elsewhere. Profiles that share a
// route (the global forward zones) share its answers.
type cacheKey struct {
	name   string // lower-case, fully qualified
	qtype  uint16
	qclass uint16
	do, cd bool
	route  uint64 // Route.id; 0: the default group
}

func keyOf(req *Request) cacheKey {
	m := req.Msg
	q := m.Question[0]
	k := cacheKey{name: lowerName(q.Name), qtype: q.Qtype, qclass: q.Qclass, cd: m.CheckingDisabled}
	if opt := m.IsEdns0(); opt != nil {
		k.do = opt.Do()
	}
	if r := req.route(); r != nil {
		k.route = r.id
	}
	return k
}

var keySeed = maphash.MakeSeed()

func (k cacheKey) hash() uint64 {
	var h maphash.Hash
	h.SetSeed(keySeed)
	h.WriteString(k.name)
	var b [14]byte
	b[0], b[1] = byte(k.qtype>>8), byte(k.qtype)
	b[2], b[3] = byte(k.qclass>>8), byte(k.qclass)
	if k.do {
		b[4] = 1
	}
	if k.cd {
		b[5] = 1
	}
	binary.BigEndian.PutUint64(b[6:], k.route)
	h.Write(b[:])
	return h.Sum64()
}

// lowerName lower-cases an ASCII name without allocating when it already is.
func lowerName(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}
