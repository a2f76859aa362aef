// Package httpmsg holds what the builtin HTTP/2 and HTTP/3 engines share:
// a handler's response collected whole, a request body held in memory, the
// checks and building of a request from its fields, and header-field
// helpers that avoid allocating for the fields DoH uses.
package httpmsg

import (
	"net/http"
	"strconv"
)

// Response collects a handler's answer; the engine encodes it once the
// handler has returned.
type Response struct {
	Hdr    http.Header // the handler's header map
	Status int         // 0 until set
	Body   []byte      // the body written
	Head   bool        // a HEAD request: no body goes out

	// A DNS answer's headers, set by WriteAnswer instead of hdr entries.
	Answer      bool
	ContentType string
	MaxAge      int64 // Cache-Control max-age, or no-store when negative
}

// Header returns the response header map.
func (w *Response) Header() http.Header { return w.Hdr }

// WriteHeader sets the status; informational (1xx) statuses are not sent.
func (w *Response) WriteHeader(code int) {
	if code < 100 || code > 999 {
		panic("doh: invalid WriteHeader code " + strconv.Itoa(code))
	}
	if w.Status == 0 && code >= 200 {
		w.Status = code
	}
}

// Write adds to the body.
func (w *Response) Write(p []byte) (int, error) {
	if w.Status == 0 {
		w.Status = http.StatusOK
	}
	if w.Status == http.StatusNoContent || w.Status == http.StatusNotModified {
		return 0, http.ErrBodyNotAllowed
	}
	w.Body = append(w.Body, p...)
	return len(p), nil
}

// WriteAnswer takes a 200 answer with its Content-Type and Cache-Control
// max-age (no-store when negative), encoded without header-map entries.
func (w *Response) WriteAnswer(contentType string, maxAge int64, body []byte) {
	w.Status, w.Answer, w.ContentType, w.MaxAge = http.StatusOK, true, contentType, maxAge
	w.Body = append(w.Body, body...)
}

// Refuse answers status with a short plain-text reason.
func (w *Response) Refuse(status int, msg string) {
	w.Hdr["Content-Type"] = []string{"text/plain; charset=utf-8"}
	w.Hdr["X-Content-Type-Options"] = []string{"nosniff"}
	w.Hdr["Cache-Control"] = []string{"no-store"}
	w.Status = status
	w.Body = append(append(w.Body, msg...), '\n')
}

// Reset empties w for the next request, keeping a small body buffer.
func (w *Response) Reset() {
	clear(w.Hdr)
	w.Status, w.Body, w.Head, w.Answer = 0, TrimBuf(w.Body), false, false
}

// Field is a response header field.
type Field struct{ Name, Value string }

// AppendFields appends the handler's header-map fields to dst under their
// HTTP/2 and HTTP/3 lower-case names, leaving out connection-specific ones,
// and reports whether a content-length and a date are among them.
func (w *Response) AppendFields(dst []Field) (fields []Field, hasLength, hasDate bool) {
	for k, vv := range w.Hdr {
		name := LowerKey(k)
		switch {
		case ConnectionSpecific(name):
			continue
		case name == "content-length":
			hasLength = true
		case name == "date":
			hasDate = true
		}
		for _, v := range vv {
			dst = append(dst, Field{name, v})
		}
	}
	return dst, hasLength, hasDate
}
