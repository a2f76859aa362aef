package h2

import (
	"errors"
	"hash/maphash"

	"golang.org/x/net/http2/hpack"
)

// hpackDecoder decodes HPACK (RFC 7541) header blocks with x/net's
// hpack.Decoder API and acceptance rules, but keeps a small cache of
// decoded strings keyed by their encoded bytes: clients never index :path,
// so without it every request Huffman-decodes and allocates its :path.
type hpackDecoder struct {
	emit        func(hpack.HeaderField)
	emitEnabled bool
	maxStrLen   int    // 0: unlimited
	first       bool   // no field of the current block parsed yet
	save        []byte // the partial field a Write ended in
	huff        []byte // scratch for decoding a Huffman string
	dyn         hpackTable
	cache       [hpackCacheSize]hpackCacheEntry
}

const (
	hpackCacheSize   = 64  // decoded strings cached, direct-mapped
	hpackCacheMaxLen = 256 // longest encoded string cached
	hpackSaveKeep    = 512 // capacity kept of the partial-field and Huffman buffers
)

// hpackCacheEntry is one cached string: for a Huffman string, raw is its
// encoded form; a plain string is its own key.
type hpackCacheEntry struct {
	huff bool
	raw  []byte
	val  string
}

// hpackSeed seeds the cache's hash.
var hpackSeed = maphash.MakeSeed()

var (
	errHPACKNeedMore  = errors.New("hpack: need more data") // internal: field continues in the next fragment
	errHPACKVarint    = hpack.DecodingError{Err: errors.New("varint integer overflow")}
	errHPACKSizePlace = hpack.DecodingError{Err: errors.New("dynamic table size update not at the start of a block")}
	errHPACKSizeLarge = hpack.DecodingError{Err: errors.New("dynamic table size update too large")}
	errHPACKTruncated = hpack.DecodingError{Err: errors.New("truncated headers")}
)

// newHPACKDecoder returns a decoder whose dynamic table may grow to
// maxTableSize, the size advertised in SETTINGS_HEADER_TABLE_SIZE, calling
// emit for each field decoded.
func newHPACKDecoder(maxTableSize uint32, emit func(hpack.HeaderField)) *hpackDecoder {
	d := &hpackDecoder{emit: emit, emitEnabled: true, first: true}
	d.dyn.max, d.dyn.allowed = maxTableSize, maxTableSize
	return d
}

// SetEmitEnabled turns the calls to emit on or off. While off, strings
// that would neither be emitted nor stored in the table are not decoded.
func (d *hpackDecoder) SetEmitEnabled(v bool) { d.emitEnabled = v }

// SetMaxStringLength bounds the length of a name or value (0: unlimited);
// a longer one is an error (hpack.ErrStringLength).
func (d *hpackDecoder) SetMaxStringLength(n int) { d.maxStrLen = n }

// Write decodes the fields of p, one fragment of a header block. A field
// continuing past p is kept until the next Write.
func (d *hpackDecoder) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	buf := p
	if len(d.save) > 0 {
		d.save = append(d.save, p...)
		buf = d.save
	}
	for len(buf) > 0 {
		rest, err := d.field(buf)
		if err == errHPACKNeedMore {
			// x/net's bound on what a partial field may hold.
			if d.maxStrLen != 0 && int64(len(buf)) > 2*(int64(d.maxStrLen)+8) {
				d.dropSave()
				return 0, hpack.ErrStringLength
			}
			d.save = append(d.save[:0], buf...)
			return len(p), nil
		}
		d.first = false
		if err != nil {
			d.dropSave()
			return len(p), err
		}
		buf = rest
	}
	d.dropSave()
	return len(p), nil
}

// Close ends the header block: an error if it ended inside a field.
func (d *hpackDecoder) Close() error {
	if len(d.save) > 0 {
		d.dropSave()
		return errHPACKTruncated
	}
	d.first = true
	return nil
}

// dropSave empties the partial-field buffer, freeing it if it grew large.
func (d *hpackDecoder) dropSave() {
	d.save = d.save[:0]
	if cap(d.save) > hpackSaveKeep {
		d.save = nil
	}
}

// field decodes the field representation at the start of p (RFC 7541 §6)
// and returns what follows it, or errHPACKNeedMore if p ends inside it.
func (d *hpackDecoder) field(p []byte) ([]byte, error) {
	switch b := p[0]; {
	case b&0x80 != 0:
		return d.indexed(p)
	case b&0xc0 == 0x40:
		return d.literal(p, 6, true, false)
	case b&0xf0 == 0x00:
		return d.literal(p, 4, false, false)
	case b&0xf0 == 0x10:
		return d.literal(p, 4, false, true)
	default: // 001xxxxx
		return d.sizeUpdate(p)
	}
}

// indexed decodes an indexed field (§6.1).
func (d *hpackDecoder) indexed(p []byte) ([]byte, error) {
	i, p, err := hpackVarint(7, p)
	if err != nil {
		return nil, err
	}
	hf := d.at(i)
	if hf == nil {
		return nil, hpack.DecodingError{Err: hpack.InvalidIndexError(i)}
	}
	return p, d.callEmit(hpack.HeaderField{Name: hf.Name, Value: hf.Value})
}

// literal decodes a literal field (§6.2) whose name index has an n-bit
// prefix, adding it to the table if index, marking it Sensitive if never.
func (d *hpackDecoder) literal(p []byte, n byte, index, never bool) ([]byte, error) {
	i, p, err := hpackVarint(n, p)
	if err != nil {
		return nil, err
	}
	var hf hpack.HeaderField
	var name, value hpackString
	if i > 0 {
		ihf := d.at(i)
		if ihf == nil {
			return nil, hpack.DecodingError{Err: hpack.InvalidIndexError(i)}
		}
		hf.Name = ihf.Name
	} else if name, p, err = d.readString(p); err != nil {
		return nil, err
	}
	if value, p, err = d.readString(p); err != nil {
		return nil, err
	}
	if index || d.emitEnabled {
		if i == 0 {
			if hf.Name, err = d.decode(name); err != nil {
				return nil, err
			}
		}
		if hf.Value, err = d.decode(value); err != nil {
			return nil, err
		}
	}
	if index {
		d.dyn.add(hf)
	}
	hf.Sensitive = never
	return p, d.callEmit(hf)
}

// sizeUpdate decodes a dynamic table size update (§6.3). Like x/net, it is
// accepted at the start of a block, or anywhere while the table is empty.
func (d *hpackDecoder) sizeUpdate(p []byte) ([]byte, error) {
	if !d.first && d.dyn.size > 0 {
		return nil, errHPACKSizePlace
	}
	size, p, err := hpackVarint(5, p)
	if err != nil {
		return nil, err
	}
	if size > uint64(d.dyn.allowed) {
		return nil, errHPACKSizeLarge
	}
	d.dyn.setMax(uint32(size))
	return p, nil
}

// callEmit checks hf's lengths and emits it if enabled.
func (d *hpackDecoder) callEmit(hf hpack.HeaderField) error {
	if d.maxStrLen != 0 && (len(hf.Name) > d.maxStrLen || len(hf.Value) > d.maxStrLen) {
		return hpack.ErrStringLength
	}
	if d.emitEnabled {
		d.emit(hf)
	}
	return nil
}

// at returns the field at index i of the static and dynamic tables
// (§2.3.3), or nil.
func (d *hpackDecoder) at(i uint64) *hpack.HeaderField {
	switch {
	case i == 0:
		return nil
	case i <= uint64(len(hpackStatic)):
		return &hpackStatic[i-1]
	}
	return d.dyn.at(i - uint64(len(hpackStatic)))
}

// hpackString is a string literal (§5.2) not yet decoded.
type hpackString struct {
	b    []byte
	huff bool
}

// readString reads a string literal off p.
func (d *hpackDecoder) readString(p []byte) (hpackString, []byte, error) {
	if len(p) == 0 {
		return hpackString{}, nil, errHPACKNeedMore
	}
	huff := p[0]&0x80 != 0
	n, p, err := hpackVarint(7, p)
	if err != nil {
		return hpackString{}, nil, err
	}
	if d.maxStrLen != 0 && n > uint64(d.maxStrLen) {
		return hpackString{}, nil, hpack.ErrStringLength
	}
	if uint64(len(p)) < n {
		return hpackString{}, nil, errHPACKNeedMore
	}
	return hpackString{b: p[:n], huff: huff}, p[n:], nil
}

// decode returns the string s encodes, from the cache if it is there.
func (d *hpackDecoder) decode(s hpackString) (string, error) {
	if len(s.b) > hpackCacheMaxLen {
		return d.decodeNew(s)
	}
	e := &d.cache[maphash.Bytes(hpackSeed, s.b)%hpackCacheSize]
	if e.huff == s.huff {
		if !s.huff && e.val == string(s.b) || s.huff && string(e.raw) == string(s.b) {
			return e.val, nil
		}
	}
	v, err := d.decodeNew(s)
	if err != nil {
		return "", err
	}
	e.huff, e.val = s.huff, v
	if s.huff {
		e.raw = append(e.raw[:0], s.b...)
	}
	return v, nil
}

// decodeNew decodes s into a new string.
func (d *hpackDecoder) decodeNew(s hpackString) (string, error) {
	if !s.huff {
		return string(s.b), nil
	}
	b, err := huffmanDecode(d.huff[:0], s.b, d.maxStrLen)
	if cap(b) <= hpackSaveKeep {
		d.huff = b
	}
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// hpackVarint reads an integer with an n-bit prefix (§5.1) off p, bounded
// as x/net bounds it.
func hpackVarint(n byte, p []byte) (uint64, []byte, error) {
	if len(p) == 0 {
		return 0, nil, errHPACKNeedMore
	}
	i := uint64(p[0]) & (1<<n - 1)
	if i < 1<<n-1 {
		return i, p[1:], nil
	}
	var m uint
	for k, b := range p[1:] {
		i += uint64(b&0x7f) << m
		if b&0x80 == 0 {
			return i, p[k+2:], nil
		}
		if m += 7; m >= 63 {
			return 0, nil, errHPACKVarint
		}
	}
	return 0, nil, errHPACKNeedMore
}

// hpackTable is the dynamic table (§2.3.2): a ring of entries, oldest at
// head, evicted per §4.4.
type hpackTable struct {
	ents    []hpack.HeaderField // length a power of two
	head, n int
	size    uint32 // sum of the entries' sizes
	max     uint32 // current maximum size
	allowed uint32 // bound on max: the size advertised
}

// at returns the entry at dynamic index i (1: newest), or nil.
func (t *hpackTable) at(i uint64) *hpack.HeaderField {
	if i > uint64(t.n) {
		return nil
	}
	return &t.ents[(t.head+t.n-int(i))&(len(t.ents)-1)]
}

// add inserts hf, evicting the oldest entries to make room; an entry
// larger than the maximum size empties the table.
func (t *hpackTable) add(hf hpack.HeaderField) {
	size := hf.Size()
	t.evict(t.max - min(size, t.max))
	if size > t.max {
		return
	}
	if t.n == len(t.ents) {
		t.grow()
	}
	t.ents[(t.head+t.n)&(len(t.ents)-1)] = hf
	t.n++
	t.size += size
}

// setMax sets the maximum size, evicting what no longer fits.
func (t *hpackTable) setMax(v uint32) {
	t.max = v
	t.evict(v)
}

// evict drops the oldest entries until the size is at most limit.
func (t *hpackTable) evict(limit uint32) {
	for t.size > limit {
		e := &t.ents[t.head]
		t.size -= e.Size()
		*e = hpack.HeaderField{}
		t.head = (t.head + 1) & (len(t.ents) - 1)
		t.n--
	}
}

// grow doubles the ring.
func (t *hpackTable) grow() {
	ents := make([]hpack.HeaderField, max(8, 2*len(t.ents)))
	for i := range t.n {
		ents[i] = t.ents[(t.head+i)&(len(t.ents)-1)]
	}
	t.ents, t.head = ents, 0
}
