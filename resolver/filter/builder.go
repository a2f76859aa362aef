package filter

import (
	"bytes"
	"slices"
)

// chunkBytes is how many key bytes a Builder collects before it sorts them
// into a compressed run. It bounds the builder's uncompressed working memory.
const chunkBytes = 4 << 20

// Builder collects names and compiles them into a Set. Names are sorted in
// chunks into front-coded runs, which Build merges while releasing each run
// page as it is consumed: the build never holds the names as Go strings, nor
// more than one chunk uncompressed.
type Builder struct {
	buf  []byte   // current chunk: [len][key] records
	offs []uint32 // record offsets into buf
	runs [][][]byte
}

// Add adds a normalized name (see NormalizeName) matching the names scope
// says. It reports false for a name no set can hold.
func (b *Builder) Add(name string, scope Scope) bool {
	if b.buf == nil {
		b.buf = make([]byte, 0, chunkBytes+maxEntryBytes)
	}
	start := len(b.buf)
	buf, ok := appendKey(append(b.buf, 0), name, scope)
	if !ok {
		b.buf = buf[:start]
		return false
	}
	buf[start] = byte(len(buf) - start - 1)
	b.buf = buf
	b.offs = append(b.offs, uint32(start))
	if len(b.buf) >= chunkBytes {
		b.flush()
	}
	return true
}

func (b *Builder) record(off uint32) []byte {
	return b.buf[off+1 : off+1+uint32(b.buf[off])]
}

// flush sorts the current chunk into a run.
func (b *Builder) flush() {
	if len(b.offs) == 0 {
		return
	}
	slices.SortFunc(b.offs, func(x, y uint32) int { return bytes.Compare(b.record(x), b.record(y)) })
	var w pageWriter
	var d dedup
	for _, off := range b.offs {
		if k := b.record(off); d.keep(k) {
			w.add(k, false)
		}
	}
	b.runs = append(b.runs, w.finish())
	b.buf, b.offs = b.buf[:0], b.offs[:0]
}

// Build merges everything added into a Set and resets the Builder.
func (b *Builder) Build() *Set {
	b.flush()
	b.buf, b.offs = nil, nil
	pool := &pagePool{}
	m := newMerger(b.runs, pool)
	b.runs = nil
	s := &Set{}
	pt := partitioner{w: pageWriter{pool: pool}}
	var d dedup
	for k, ok := m.next(); ok; k, ok = m.next() {
		if d.keep(k) {
			pt.add(s, k)
		}
	}
	s.pages = pt.w.finish()
	s.blocks = slices.Clip(s.blocks)
	s.heads = slices.Clip(s.heads)
	s.buildIndex(pt.counts)
	return s
}
