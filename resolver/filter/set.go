package filter

import (
	"bytes"
	"encoding/binary"
)

// blockLen is the number of entries between two entries of the search index.
// Larger blocks save index memory and cost a longer scan per lookup.
const blockLen = 16

// Set is an immutable set of domain names, each matching itself and its whole
// subtree, only the names below it, or only itself (see Scope). The zero value and nil
// are empty sets. A Set is safe for concurrent use.
type Set struct {
	pages   [][]byte
	headKey []uint64 // first 8 key bytes of each block's first entry, big-endian
	headRef []uint32 // page<<16 | offset of each block's first entry
	heads   []byte   // every block's first key, contiguous: a binary search stays in this small area
	headOff []uint32 // start of each head in heads (one extra at the end)
	n       int
}

// Len returns the number of entries kept (after removing covered ones).
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	return s.n
}

// Bytes returns the memory the set holds.
func (s *Set) Bytes() int {
	if s == nil {
		return 0
	}
	b := 16*cap(s.headKey) + cap(s.heads)
	for _, p := range s.pages {
		b += cap(p)
	}
	return b
}

// Contains reports whether name, or one of its parents, is in the set.
// Case is ignored and a trailing dot is optional.
func (s *Set) Contains(name string) bool {
	_, ok := s.Match(name)
	return ok
}

// Match is Contains that also returns the matching entry's depth: the number
// of labels of the entry's name (a wildcard "*.example.com" counts 2). Deeper
// matches are more specific.
func (s *Set) Match(name string) (depth int, ok bool) {
	if s == nil || len(s.headKey) == 0 {
		return 0, false
	}
	var kb [maxEntryBytes]byte
	k, valid := appendKey(kb[:0], name, ScopeExact)
	if !valid {
		return 0, false
	}
	return s.match(k)
}

// match finds the greatest entry ≤ k and checks whether it covers k. Entries
// form a prefix-free set (covered entries were removed), so if any entry
// covers k it is this one: one search decides for the name and all parents.
func (s *Set) match(k []byte) (depth int, ok bool) {
	kp := prefix64(k)
	lo, hi := 0, len(s.headKey)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if s.headLE(m, k, kp) {
			lo = m + 1
		} else {
			hi = m
		}
	}
	b := lo - 1
	if b < 0 {
		return 0, false
	}
	ref := s.headRef[b]
	page := s.pages[ref>>16]
	off, end := int(ref&0xffff), len(page)
	if b+1 < len(s.headRef) && s.headRef[b+1]>>16 == ref>>16 {
		end = int(s.headRef[b+1] & 0xffff)
	}
	// Walk the block without decoding it: lcp is the common prefix of k and
	// the predecessor p found so far; an entry sharing fewer bytes than lcp
	// with p is past k, one sharing more is before k.
	suffix := page[off+2 : off+2+int(page[off+1])]
	lcp := commonPrefix(suffix, k)
	pLen, pLast := len(suffix), suffix[len(suffix)-1]
	off += 2 + len(suffix)
	for off < end {
		shared := int(page[off])
		suffix = page[off+2 : off+2+int(page[off+1])]
		if shared < lcp {
			break
		}
		if shared == lcp {
			m := commonPrefix(suffix, k[lcp:])
			if m < len(suffix) && (lcp+m == len(k) || suffix[m] > k[lcp+m]) {
				break
			}
			lcp += m
		}
		pLen, pLast = shared+len(suffix), suffix[len(suffix)-1]
		off += 2 + len(suffix)
	}
	if pLast == belowMark {
		pLen-- // the stem; k ≥ stem+belowMark, so k is below it if it starts with it
	}
	if lcp != pLen {
		return 0, false
	}
	return bytes.Count(k[:pLen], []byte{'.'}), true
}

func commonPrefix(a, b []byte) int {
	n := min(len(a), len(b))
	for i := range n {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

// headLE reports whether the first entry of block m is ≤ k.
func (s *Set) headLE(m int, k []byte, kp uint64) bool {
	if hk := s.headKey[m]; hk != kp {
		return hk < kp
	}
	return bytes.Compare(s.heads[s.headOff[m]:s.headOff[m+1]], k) <= 0
}

// prefix64 packs the first 8 bytes of k, zero padded, big-endian, so that
// comparing two packed prefixes orders keys like comparing their first bytes.
func prefix64(k []byte) uint64 {
	if len(k) >= 8 {
		return binary.BigEndian.Uint64(k)
	}
	var b [8]byte
	copy(b[:], k)
	return binary.BigEndian.Uint64(b[:])
}
