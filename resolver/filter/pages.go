package filter

// Entries are front-coded: [shared prefix length][suffix length][suffix],
// where the shared prefix is taken from the previous entry. The first entry
// of a page always has shared = 0, so a page can be decoded, and dropped,
// on its own.
const pageSize = 64 << 10

// maxEntryBytes bounds one encoded entry (two length bytes and a key).
const maxEntryBytes = 2 + maxNameLen + 2

// pageWriter appends front-coded keys to fixed-size pages. Fixed pages keep
// growth free of the copy-and-double peaks of one big slice.
type pageWriter struct {
	pages   [][]byte
	pool    *pagePool // nil: new pages are allocated
	prev    [maxEntryBytes]byte
	prevLen int
}

// pagePool hands pages a merge has read on to the pageWriter of its output,
// so that a build's input and output pages are the same memory.
type pagePool struct{ free [][]byte }

func (p *pagePool) get() []byte {
	if p == nil || len(p.free) == 0 {
		return make([]byte, 0, pageSize)
	}
	n := len(p.free) - 1
	pg := p.free[n]
	p.free[n] = nil
	p.free = p.free[:n]
	return pg[:0]
}

// put keeps full-size pages; trimmed last pages are left to the GC.
func (p *pagePool) put(pg []byte) {
	if p != nil && cap(pg) == pageSize {
		p.free = append(p.free, pg)
	}
}

// add appends key, whole (shared = 0) if whole is set or it starts a page,
// and returns where: page index and offset packed as page<<16 | offset.
func (w *pageWriter) add(key []byte, whole bool) (ref uint32) {
	n := len(w.pages)
	if n == 0 || len(w.pages[n-1])+maxEntryBytes > pageSize {
		w.pages = append(w.pages, w.pool.get())
		n++
		whole = true
	}
	shared := 0
	if !whole {
		prev := w.prev[:w.prevLen]
		for shared < len(prev) && shared < len(key) && shared < 255 && prev[shared] == key[shared] {
			shared++
		}
	}
	p := w.pages[n-1]
	ref = uint32(n-1)<<16 | uint32(len(p))
	p = append(p, byte(shared), byte(len(key)-shared))
	w.pages[n-1] = append(p, key[shared:]...)
	w.prevLen = copy(w.prev[:], key)
	return ref
}

// finish trims the last page to its length and returns the pages.
func (w *pageWriter) finish() [][]byte {
	if n := len(w.pages); n > 0 {
		w.pages[n-1] = append([]byte(nil), w.pages[n-1]...)
	}
	return w.pages
}

// pageReader decodes pages written by a pageWriter in order, releasing each
// page to pool once it is read so that a merge frees its input as it goes.
type pageReader struct {
	pages [][]byte
	pool  *pagePool
	page  int
	off   int
	cur   [maxEntryBytes]byte
	n     int
}

// next returns the next key (valid until the following call) or false at the end.
func (r *pageReader) next() ([]byte, bool) {
	for r.page < len(r.pages) && r.off >= len(r.pages[r.page]) {
		r.pool.put(r.pages[r.page])
		r.pages[r.page] = nil
		r.page++
		r.off = 0
	}
	if r.page >= len(r.pages) {
		return nil, false
	}
	r.n, r.off = decode(r.pages[r.page], r.off, &r.cur)
	return r.cur[:r.n], true
}

// decode reads the entry at off of page p into cur, which holds the
// previous entry, and returns the key's length and the next entry's offset.
func decode(p []byte, off int, cur *[maxEntryBytes]byte) (n, next int) {
	shared, l := int(p[off]), int(p[off+1])
	return shared + copy(cur[shared:], p[off+2:off+2+l]), off + 2 + l
}

// dedup drops keys covered by the last key it kept; fed sorted keys it keeps
// exactly the entries no other entry covers.
type dedup struct {
	last [maxEntryBytes]byte
	n    int
	has  bool
}

func (d *dedup) keep(x []byte) bool {
	if d.has && covers(d.last[:d.n], x) {
		return false
	}
	d.n = copy(d.last[:], x)
	d.has = true
	return true
}
