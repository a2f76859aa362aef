package httpmsg

import (
	"io"
	"net/http"
)

// Body is a request body, received whole (at most MaxBody+1 bytes)
// before the handler runs.
type Body struct {
	B   []byte // the bytes received
	off int
	Err error // after the bytes: a timeout, else io.EOF
}

// Prepare sets r.Body for the stream's request.
func (b *Body) Prepare(r *http.Request) {
	if len(b.B) == 0 && b.Err == nil {
		r.Body = http.NoBody
		return
	}
	r.Body = b
}

// Read reads the body.
func (b *Body) Read(p []byte) (int, error) {
	if b.off >= len(b.B) {
		if b.Err != nil {
			return 0, b.Err
		}
		return 0, io.EOF
	}
	n := copy(p, b.B[b.off:])
	b.off += n
	return n, nil
}

// Close does nothing: the body is in memory.
func (b *Body) Close() error { return nil }

// Rewind lets the body be read again from its start.
func (b *Body) Rewind() { b.off = 0 }

// Reset empties b for the next request.
func (b *Body) Reset() {
	b.B, b.off, b.Err = TrimBuf(b.B), 0, nil
}

// TrimBuf empties b, dropping it when it grew beyond a small answer's size.
func TrimBuf(b []byte) []byte {
	if cap(b) > 4<<10 {
		return nil
	}
	return b[:0]
}
