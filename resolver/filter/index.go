package filter

import (
	"bytes"
	"encoding/binary"
	"hash/maphash"
	"slices"
)

// The partition index maps the first two labels of a key, its partition
// ("com.example." for "com.example.ads.\x00"), to where the partition's
// entries are. Every entry that can match a query lies in the query's
// partition, except single-label entries ("com.", "com.\x01"), which lie in
// the partition of the query's first label. So a lookup is one hash probe
// (two when the set has single-label entries) and a short walk over the
// partition's entries, whose first one is stored whole.
//
// A slot is 6 bytes: a 16-bit fingerprint of the partition's hash (never
// 0, so 0 is an empty slot) and 32 bits that say where the partition is:
// for one of at most blockLen entries (most of them), the page reference
// of its first entry; for a longer one, longBit and its index in Set.long,
// its first and last block, whose heads are searched. (So pages number
// fewer than 1<<15: 2 GiB of keys.) Fingerprints may collide: every slot
// with the query's fingerprint is tried, and a match is only reported by
// comparing keys, so a collision costs time, never correctness.
const (
	slotBytes = 6
	longBit   = 1 << 31
)

// loadNum/loadDen is the slot table's fill ratio: linear probing stays short.
const loadNum, loadDen = 3, 4

// partition returns the first two labels of key k (the first one if k has
// a single label).
func partition(k []byte) []byte {
	i := bytes.IndexByte(k, '.') + 1
	if j := bytes.IndexByte(k[i:], '.'); j >= 0 {
		return k[:i+j+1]
	}
	return k[:i]
}

// slotOf returns the first slot to probe for hash h and the fingerprint.
func (s *Set) slotOf(h uint64) (int, uint16) {
	return int(uint64(uint32(h)) * uint64(s.nslots) >> 32), uint16(h>>48) | 1
}

// slot returns slot i's fingerprint and place.
func (s *Set) slot(i int) (fp uint16, at uint32) {
	v := binary.LittleEndian.Uint64(s.slots[i*slotBytes:]) // the table has 2 bytes of padding
	return uint16(v), uint32(v >> 16)
}

// partitioner feeds sorted keys to a pageWriter, starting the front coding
// afresh at each partition's first entry and every blockLen entries into a
// partition, and records the blocks of partitions longer than blockLen.
type partitioner struct {
	w      pageWriter
	part   [maxEntryBytes]byte // the current partition
	pn     int
	first  [maxEntryBytes]byte // its first key, a block head once a second block starts
	fn     int
	ref    uint32 // where the first key is
	n      int    // entries so far in the partition
	counts int    // partitions
}

func (pt *partitioner) add(s *Set, k []byte) {
	p := partition(k)
	if pt.n == 0 || !bytes.Equal(p, pt.part[:pt.pn]) {
		pt.pn, pt.n = copy(pt.part[:], p), 0
		pt.counts++
		s.top = s.top || len(p) == bytes.IndexByte(p, '.')+1
	}
	head := pt.n%blockLen == 0
	ref := pt.w.add(k, head)
	switch {
	case pt.n == 0:
		pt.fn, pt.ref = copy(pt.first[:], k), ref
	case head:
		if pt.n == blockLen {
			s.addBlock(pt.first[:pt.fn], len(p), pt.ref)
		}
		s.addBlock(k, len(p), ref)
	}
	pt.n++
	s.n++
}

func (s *Set) addBlock(k []byte, partLen int, ref uint32) {
	s.blocks = append(s.blocks, block{key: prefix64(k[partLen:]), ref: ref, off: uint32(len(s.heads))})
	s.heads = append(s.heads, k...)
}

// buildIndex fills the slot table for n partitions from the pages and
// blocks.
func (s *Set) buildIndex(n int) {
	if n == 0 {
		return
	}
	s.seed = maphash.MakeSeed()
	s.nslots = n*loadDen/loadNum + 1
	s.slots = make([]byte, s.nslots*slotBytes+2)
	s.eachPartition(func(p []byte, ref uint32, first, blocks int) {
		i, fp := s.slotOf(maphash.Bytes(s.seed, p))
		for s.slots[i*slotBytes] != 0 || s.slots[i*slotBytes+1] != 0 {
			if i++; i == s.nslots {
				i = 0
			}
		}
		at := ref
		if blocks > 0 {
			at = longBit | uint32(len(s.long))
			s.long = append(s.long, [2]uint32{uint32(first), uint32(first + blocks - 1)})
		}
		binary.LittleEndian.PutUint16(s.slots[i*slotBytes:], fp)
		binary.LittleEndian.PutUint32(s.slots[i*slotBytes+2:], at)
	})
	s.long = slices.Clip(s.long)
}

// eachPartition calls f with every partition, the reference of its first
// entry and its blocks (first index and count, 0 for a short partition).
func (s *Set) eachPartition(f func(p []byte, ref uint32, first, blocks int)) {
	var cur, part [maxEntryBytes]byte
	pn, ref, first, nb := 0, uint32(0), 0, 0
	for pi, page := range s.pages {
		for off := 0; off < len(page); {
			at := uint32(pi)<<16 | uint32(off)
			var n int
			n, off = decode(page, off, &cur)
			if k := partition(cur[:n]); pn == 0 || !bytes.Equal(k, part[:pn]) {
				if pn > 0 {
					f(part[:pn], ref, first, nb-first)
				}
				pn, ref, first = copy(part[:], k), at, nb
			}
			if nb < len(s.blocks) && s.blocks[nb].ref == at {
				nb++
			}
		}
	}
	if pn > 0 {
		f(part[:pn], ref, first, nb-first)
	}
}
