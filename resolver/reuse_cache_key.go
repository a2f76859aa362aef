package resolver

import (
	"hash/maphash"
	"strings"

	"github.com/miekg/dns"
)

// cacheKey identifies answers that are interchangeable between clients. The
// profile is not part of it: policy runs above the cache, so what is stored is
// always the unfiltered upstream answer, shared by every profile.
type cacheKey struct {
	name   string // lower-case, fully qualified
	qtype  uint16
	qclass uint16
	do, cd bool
}

func keyOf(m *dns.Msg) cacheKey {
	q := m.Question[0]
	k := cacheKey{name: lowerName(q.Name), qtype: q.Qtype, qclass: q.Qclass, cd: m.CheckingDisabled}
	if opt := m.IsEdns0(); opt != nil {
		k.do = opt.Do()
	}
	return k
}

var keySeed = maphash.MakeSeed()

func (k cacheKey) hash() uint64 {
	var h maphash.Hash
	h.SetSeed(keySeed)
	h.WriteString(k.name)
	var b [6]byte
	b[0], b[1] = byte(k.qtype>>8), byte(k.qtype)
	b[2], b[3] = byte(k.qclass>>8), byte(k.qclass)
	if k.do {
		b[4] = 1
	}
	if k.cd {
		b[5] = 1
	}
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
