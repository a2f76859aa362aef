package h2

import (
	"strings"

	"golang.org/x/net/http/httpguts"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/dnsward/dnsward/doh/internal/httpmsg"
)

// headerBlock decodes a request's header block (a HEADERS frame and its
// CONTINUATION frames) into fields the connection reuses. x/net's Framer
// can do this (ReadMetaHeaders), but it builds a new frame, emit closure and
// field slice for every request: over two thirds of the bytes the engine
// allocated per request, and the garbage collection that goes with them.
// The HPACK decoder is our own (hpackDecoder), which caches the strings a
// client repeats, such as every request's :path literal.
// The rules are x/net's: RFC 9113 §8.2 field validity, §8.3 pseudo-header
// placement and uniqueness, and the header list size bound (a request
// beyond it is Truncated and answered 431). Unlike x/net, a block beyond
// that bound, with many fields or one field larger than the bound, is
// still decoded to its end (keeping the HPACK table in step) so that only
// its stream is refused; what bounds the work a client can cause with
// oversized blocks (CVE-2023-45288) is the block's encoded size, at most
// hpackBlockFactor times the bound, beyond which the connection ends.
type headerBlock struct {
	dec        *hpackDecoder
	max        uint32 // header list size accepted (MaxHeaderBytes)
	remain     uint32 // of max, for this block
	encoded    int64  // encoded bytes of this block so far
	oneField   bool   // Truncated by a single field larger than max
	sawRegular bool
	invalid    bool
	hf         http2.HeadersFrame // the HEADERS frame's header, kept past the Framer's next read
	meta       http2.MetaHeadersFrame
}

// hpackBlockFactor times the header list bound is the most encoded bytes
// a header block may carry.
const hpackBlockFactor = 4

func newHeaderBlock(max uint32) *headerBlock {
	b := &headerBlock{max: max}
	b.dec = newHPACKDecoder(4096, b.emit)
	b.dec.SetMaxStringLength(hpackBlockFactor * int(max))
	b.meta.HeadersFrame = &b.hf
	return b
}

// start begins the block of a HEADERS frame with header fh and priority.
func (b *headerBlock) start(fh http2.FrameHeader, priority http2.PriorityParam) {
	b.hf.FrameHeader, b.hf.Priority = fh, priority
	b.meta.Fields, b.meta.Truncated = b.meta.Fields[:0], false
	b.remain, b.encoded, b.oneField, b.sawRegular, b.invalid = b.max, 0, false, false, false
	b.dec.SetEmitEnabled(true)
}

// add decodes one fragment of the block. A block whose encoded size passes
// hpackBlockFactor times the size bound, or any fragment after an invalid
// field (whose size is no longer tracked), ends the connection rather than
// being decoded for nothing.
func (b *headerBlock) add(frag []byte) error {
	if b.encoded += int64(len(frag)); b.encoded > hpackBlockFactor*int64(b.max) {
		return connError(http2.ErrCodeProtocol, "header_block_too_large")
	}
	if b.invalid {
		return connError(http2.ErrCodeProtocol, "invalid_header_continued")
	}
	if _, err := b.dec.Write(frag); err != nil {
		return connError(http2.ErrCodeCompression, "hpack")
	}
	return nil
}

// end closes the block and returns the request's headers, or a stream
// error for an invalid field or pseudo-header.
func (b *headerBlock) end() (*http2.MetaHeadersFrame, error) {
	if err := b.dec.Close(); err != nil {
		return nil, connError(http2.ErrCodeCompression, "hpack")
	}
	if b.invalid {
		return nil, streamError(b.hf.StreamID, http2.ErrCodeProtocol, "invalid_header")
	}
	pf := b.meta.PseudoFields()
	for i, hf := range pf {
		for _, prev := range pf[:i] {
			if hf.Name == prev.Name {
				return nil, streamError(b.hf.StreamID, http2.ErrCodeProtocol, "duplicate_pseudo_header")
			}
		}
	}
	return &b.meta, nil
}

// emit takes one decoded field.
func (b *headerBlock) emit(hf hpack.HeaderField) {
	var valid bool
	if strings.HasPrefix(hf.Name, ":") {
		valid = !b.sawRegular && httpguts.ValidHeaderFieldValue(hf.Value)
	} else {
		b.sawRegular = true
		valid = httpmsg.ValidField(hf.Name, hf.Value)
	}
	if !valid {
		b.invalid = true
		b.dec.SetEmitEnabled(false)
		return
	}
	if size := hf.Size(); size <= b.remain {
		b.remain -= size
		b.meta.Fields = append(b.meta.Fields, hf)
		return
	}
	b.meta.Truncated, b.remain = true, 0
	b.oneField = hf.Size() > b.max
	b.dec.SetEmitEnabled(false)
}

// truncation is why a Truncated block was cut: one field larger than the
// bound, or the list of fields.
func (b *headerBlock) truncation() string {
	if b.oneField {
		return "field_too_large"
	}
	return "header_list_too_large"
}
