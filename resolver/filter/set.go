package filter

import (
	"bytes"
	"encoding/binary"
	"hash/maphash"
	"math/bits"
)

// blockLen is the number of entries of a partition between two heads of its
// search index. Larger blocks save index memory and cost a longer scan.
const blockLen = 16

// Set is an immutable set of domain names, each matching itself and its
// whole subtree, only the names below it, or only itself (see Scope). The
// zero value and nil are empty sets. A Set is safe for concurrent use.
type Set struct {
	slots  []byte // partition index (see index.go)
	nslots int
	seed   maphash.Seed
	long   [][2]uint32 // first and last block of each partition longer than blockLen
	top    bool        // some entry has a single label: probe the query's first label too
	pages  [][]byte
	blocks []block // heads of the blocks of partitions longer than blockLen
	heads  []byte  // the blocks' first keys, contiguous
	n      int
}

// block is one head of a long partition's search index.
type block struct {
	key uint64 // 8 bytes of the block's first key after its partition, big-endian
	ref uint32 // page<<16 | offset of the block's first entry
	off uint32 // start of the block's first key in Set.heads
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
	b := cap(s.slots) + 8*cap(s.long) + 16*cap(s.blocks) + cap(s.heads)
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
	if s == nil || s.nslots == 0 {
		return 0, false
	}
	var kb [maxEntryBytes]byte
	k, valid := appendKey(kb[:0], name, ScopeExact)
	if !valid {
		return 0, false
	}
	return s.match(k)
}

// match reports whether an entry matches the name with exact key k: it
// looks in k's partition and, if the set has single-label entries, in the
// partition of k's first label.
func (s *Set) match(k []byte) (depth int, ok bool) {
	p := partition(k)
	if top := k[:bytes.IndexByte(k, '.')+1]; s.top && len(top) < len(p) {
		if depth, ok = s.matchIn(k, top); ok {
			return depth, ok
		}
	}
	return s.matchIn(k, p)
}

// matchIn tries every slot whose fingerprint is partition p's.
func (s *Set) matchIn(k, p []byte) (depth int, ok bool) {
	i, want := s.slotOf(maphash.Bytes(s.seed, p))
	for {
		fp, at := s.slot(i)
		if fp == 0 {
			return 0, false
		}
		if fp == want {
			if depth, ok = s.search(k, p, at); ok {
				return depth, ok
			}
		}
		if i++; i == s.nslots {
			i = 0
		}
	}
}

// search finds the greatest entry ≤ k in the partition a slot places at
// (see index.go), if that is partition p, and checks whether it matches k.
// Entries form a prefix-free set (covered entries were removed), so if any
// entry matches k it is this one: one search decides for the name and all
// parents.
func (s *Set) search(k, p []byte, at uint32) (depth int, ok bool) {
	if at&longBit == 0 {
		return s.scan(k, p, at)
	}
	blocks := s.long[at&^longBit]
	kp := prefix64(k[len(p):])
	lo, hi := int(blocks[0])+1, int(blocks[1])+1
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if s.headLE(m, k, kp) {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return s.scan(k, p, s.blocks[lo-1].ref)
}

// scan walks from the entry at ref, the start of a partition or of one of
// its blocks, to the greatest entry ≤ k and checks whether it matches k.
// The entry at ref has its whole key (shared 0); if it is not in partition
// p, the slot was another partition's with the same fingerprint.
func (s *Set) scan(k, p []byte, ref uint32) (depth int, ok bool) {
	pi, off := int(ref>>16), int(ref&0xffff)
	page := s.pages[pi]
	if first := page[off+2 : off+2+int(page[off+1])]; len(first) < len(p) || commonPrefix(first, p) < len(p) {
		return 0, false
	}
	// Walk without decoding: lcp is the common prefix of k and the
	// predecessor found so far. An entry sharing fewer bytes than lcp with
	// it is past k, one sharing more is before k; an entry sharing none
	// holds its whole key (every block, partition and page starts so) and
	// is compared in full. Partitions after k's are past k: the walk stops
	// within k's partition.
	lcp, pLen, pLast := 0, 0, byte(0)
	for {
		if off == len(page) {
			if pi++; pi == len(s.pages) {
				break
			}
			page, off = s.pages[pi], 0
		}
		shared := int(page[off])
		suffix := page[off+2 : off+2+int(page[off+1])]
		if shared == 0 || shared == lcp {
			m := commonPrefix(suffix, k[shared:])
			if m < len(suffix) && (shared+m == len(k) || suffix[m] > k[shared+m]) {
				break
			}
			lcp = shared + m
		} else if shared < lcp {
			break
		}
		pLen, pLast = shared+len(suffix), suffix[len(suffix)-1]
		off += 2 + len(suffix)
	}
	if pLen == 0 {
		return 0, false // k is before the partition's entries
	}
	if pLast == belowMark {
		pLen-- // the stem; k ≥ stem+belowMark, so k is below it if it starts with it
	}
	if lcp != pLen {
		return 0, false
	}
	return bytes.Count(k[:pLen], []byte{'.'}), true
}

// commonPrefix returns the length of the common prefix of a and b,
// comparing eight bytes at a time.
func commonPrefix(a, b []byte) int {
	n, i := min(len(a), len(b)), 0
	for ; i+8 <= n; i += 8 {
		if x := binary.LittleEndian.Uint64(a[i:]) ^ binary.LittleEndian.Uint64(b[i:]); x != 0 {
			return i + bits.TrailingZeros64(x)/8
		}
	}
	for ; i < n; i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

// headLE reports whether the first key of block m, in k's partition, is ≤ k;
// kp is prefix64 of k after the partition.
func (s *Set) headLE(m int, k []byte, kp uint64) bool {
	if hk := s.blocks[m].key; hk != kp {
		return hk < kp
	}
	end := len(s.heads)
	if m+1 < len(s.blocks) {
		end = int(s.blocks[m+1].off)
	}
	return bytes.Compare(s.heads[s.blocks[m].off:end], k) <= 0
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
