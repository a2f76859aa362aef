package h2

import (
	"strconv"

	"golang.org/x/net/http2/hpack"
)

// HPACK (RFC 7541) encoder for our response header blocks.
//
// It replaces x/net's hpack.Encoder on the response path: that encoder
// hashes every field to search its table, while a DoH answer has half a dozen
// fields and the table a few dozen entries, so a linear scan comparing
// strings directly is cheaper and allocates nothing.
//
// Literals are sent without Huffman coding: the per-response values
// (content-length, max-age) are a few digits, where Huffman saves a byte or
// two, and the values that repeat (content-type, alt-svc, date) are sent
// once and then referenced by a one- or two-byte index.
//
// One hpackEncoder serves one connection, under the connection's lock:
//
//	dst = e.begin(dst)
//	dst = e.status(dst, code)
//	dst = e.field(dst, name, value, index) // ...
//
// begin must start every header block: it carries the Dynamic Table Size
// Updates owed after the peer lowered SETTINGS_HEADER_TABLE_SIZE, and a
// peer may treat a block without them as a COMPRESSION_ERROR.

// hpackEncMaxTable caps our dynamic table whatever the peer allows; it is
// also the HTTP/2 default of SETTINGS_HEADER_TABLE_SIZE.
const hpackEncMaxTable = 4096

// hpackEncDynBase is the HPACK index of the newest dynamic-table entry
// (§2.3.3: the static table holds 1..61).
const hpackEncDynBase = 62

type hpackEncoder struct {
	// tab mirrors the peer decoder's dynamic table (the decoder's own
	// type); tab.max is the size in force there (§4.2). Entries keep the
	// caller's strings, which must not be mutated afterwards (ordinary Go
	// strings never are).
	tab hpackTable

	want   uint32 // min(peer's SETTINGS_HEADER_TABLE_SIZE, hpackEncMaxTable)
	lowest uint32 // the smallest want since the last begin (§4.2)
}

func newHPACKEncoder() *hpackEncoder {
	e := &hpackEncoder{want: hpackEncMaxTable, lowest: hpackEncMaxTable}
	e.tab.max, e.tab.allowed = hpackEncMaxTable, hpackEncMaxTable
	return e
}

// setPeerTableSize records the client's SETTINGS_HEADER_TABLE_SIZE. The
// next begin signals the change to the peer's decoder.
func (e *hpackEncoder) setPeerTableSize(n uint32) {
	e.want = min(n, hpackEncMaxTable)
	e.lowest = min(e.lowest, e.want)
}

// begin starts a header block, appending the Dynamic Table Size Updates
// (§6.3) owed since the previous block: the smallest size the peer allowed
// in the interval when that is below the size in force, then the current
// one when it differs (§4.2).
//
// When the table still holds entries after the first update, the second
// (growing) one waits for the next block: x/net's decoder, which Go clients
// use, rejects a size update that is not the first representation of a
// block while its table is not empty (hpack.go parseDynamicTableSizeUpdate).
// Using a smaller table than allowed is always valid (§4.2), and that block's
// update is then its first representation.
func (e *hpackEncoder) begin(dst []byte) []byte {
	if e.lowest < e.tab.max {
		dst = e.sizeUpdate(dst, e.lowest)
		if e.tab.n > 0 {
			e.lowest = e.want
			return dst
		}
	}
	if e.want != e.tab.max {
		dst = e.sizeUpdate(dst, e.want)
	}
	e.lowest = e.want
	return dst
}

func (e *hpackEncoder) sizeUpdate(dst []byte, n uint32) []byte {
	e.tab.setMax(n)
	return hpackEncAppendInt(dst, 5, 0x20, uint64(n))
}

// status appends :status. The codes of the static table (§A) cost one
// byte; others are a literal without indexing with the static name 8.
func (e *hpackEncoder) status(dst []byte, code int) []byte {
	switch code {
	case 200:
		return append(dst, 0x80|8)
	case 204:
		return append(dst, 0x80|9)
	case 206:
		return append(dst, 0x80|10)
	case 304:
		return append(dst, 0x80|11)
	case 400:
		return append(dst, 0x80|12)
	case 404:
		return append(dst, 0x80|13)
	case 500:
		return append(dst, 0x80|14)
	}
	dst = append(dst, 0x08, 0) // literal without indexing, name 8; length below
	at := len(dst) - 1
	dst = strconv.AppendInt(dst, int64(code), 10)
	dst[at] = byte(len(dst) - at - 1) // at most 20 digits: one-byte length
	return dst
}

// field appends one header field; name is lower-case. With index, a dynamic
// entry holding exactly name and value is referenced, else the field is sent
// as a literal with incremental indexing and inserted. Without index (or
// when the entry cannot fit the table), it is a literal without indexing.
// The name is referenced by index when the static table, or for index also
// the dynamic table, holds it.
func (e *hpackEncoder) field(dst []byte, name, value string, index bool) []byte {
	nameIdx := hpackEncStaticName(name)
	if index {
		for i := range e.tab.n { // newest first
			ent := e.tab.at(uint64(i + 1))
			if ent.Name != name {
				continue
			}
			if ent.Value == value {
				return hpackEncAppendInt(dst, 7, 0x80, uint64(hpackEncDynBase+i))
			}
			if nameIdx == 0 {
				nameIdx = hpackEncDynBase + i
			}
		}
		if hf := (hpack.HeaderField{Name: name, Value: value}); hf.Size() <= e.tab.max {
			dst = hpackEncAppendInt(dst, 6, 0x40, uint64(nameIdx))
			if nameIdx == 0 {
				dst = hpackEncAppendString(dst, name)
			}
			dst = hpackEncAppendString(dst, value)
			e.tab.add(hf)
			return dst
		}
		// Larger than the table: §4.4 would empty the table to store
		// nothing; a literal without indexing keeps what it holds.
	}
	return hpackEncAppendLiteral(dst, nameIdx, name, value)
}

// literal appends a field as a literal without indexing whose value the
// caller formatted into bytes: a per-response value (content-length,
// max-age) needs no string of its own.
func (e *hpackEncoder) literal(dst []byte, name string, value []byte) []byte {
	return hpackEncAppendLiteral(dst, hpackEncStaticName(name), name, value)
}

// hpackEncAppendLiteral appends a literal without indexing (§6.2.2), its
// name by static index when nameIdx is not 0.
func hpackEncAppendLiteral[V string | []byte](dst []byte, nameIdx int, name string, value V) []byte {
	dst = hpackEncAppendInt(dst, 4, 0x00, uint64(nameIdx))
	if nameIdx == 0 {
		dst = hpackEncAppendString(dst, name)
	}
	dst = hpackEncAppendInt(dst, 7, 0, uint64(len(value)))
	return append(dst, value...)
}

// hpackEncAppendInt appends v as an HPACK integer with an n-bit prefix
// (§5.1); flags holds the representation's bits above the prefix.
func hpackEncAppendInt(dst []byte, n uint, flags byte, v uint64) []byte {
	lim := uint64(1)<<n - 1
	if v < lim {
		return append(dst, flags|byte(v))
	}
	dst = append(dst, flags|byte(lim))
	v -= lim
	for v >= 0x80 {
		dst = append(dst, byte(v)|0x80)
		v >>= 7
	}
	return append(dst, byte(v))
}

// hpackEncAppendString appends s as a string literal without Huffman
// coding (§5.2).
func hpackEncAppendString(dst []byte, s string) []byte {
	dst = hpackEncAppendInt(dst, 7, 0, uint64(len(s)))
	return append(dst, s...)
}

// hpackEncStaticName returns the static-table index (§A) of a response
// header name, or 0. Names the static table holds only with a value
// (:method, :path, :scheme, :status) are not looked up here.
func hpackEncStaticName(name string) int {
	switch name {
	case "access-control-allow-origin":
		return 20
	case "accept-ranges":
		return 18
	case "age":
		return 21
	case "allow":
		return 22
	case "cache-control":
		return 24
	case "content-disposition":
		return 25
	case "content-encoding":
		return 26
	case "content-language":
		return 27
	case "content-length":
		return 28
	case "content-location":
		return 29
	case "content-range":
		return 30
	case "content-type":
		return 31
	case "date":
		return 33
	case "etag":
		return 34
	case "expires":
		return 36
	case "last-modified":
		return 44
	case "link":
		return 45
	case "location":
		return 46
	case "proxy-authenticate":
		return 48
	case "refresh":
		return 52
	case "retry-after":
		return 53
	case "server":
		return 54
	case "set-cookie":
		return 55
	case "strict-transport-security":
		return 56
	case "vary":
		return 59
	case "via":
		return 60
	case "www-authenticate":
		return 61
	}
	return 0
}
