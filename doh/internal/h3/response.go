package h3

import (
	"net/http"
	"strconv"
	"time"

	"github.com/quic-go/qpack"

	"github.com/dnsward/dnsward/doh/internal/httpmsg"
)

// sectionWriter collects an encoded field section.
type sectionWriter struct{ b []byte }

// Write appends p.
func (s *sectionWriter) Write(p []byte) (int, error) {
	s.b = append(s.b, p...)
	return len(p), nil
}

// encoder encodes a response's field section with QPACK's static table
// only, and frames the response.
type encoder struct {
	sec         sectionWriter
	enc         *qpack.Encoder
	age, length memo // the last cache-control and content-length values
	fields      []httpmsg.Field
}

// memo keeps the last number formatted as a field value: a connection's
// answers mostly repeat their lifetime and length.
type memo struct {
	n   int64
	val string
	set bool
}

// value returns n formatted by format, reusing the last string when n is the same.
func (m *memo) value(n int64, format func([]byte, int64) []byte) string {
	if !m.set || m.n != n {
		m.n, m.val, m.set = n, string(format(nil, n)), true
	}
	return m.val
}

// appendInt formats a content-length.
func appendInt(b []byte, n int64) []byte { return strconv.AppendInt(b, n, 10) }

// statusValue is a :status value, without allocating for 200.
func statusValue(code int) string {
	if code == http.StatusOK {
		return "200"
	}
	return strconv.Itoa(code)
}

func newEncoder() *encoder {
	e := &encoder{}
	e.enc = qpack.NewEncoder(&e.sec)
	return e
}

// field encodes one field; qpack uses the static table where it can.
func (e *encoder) field(name, value string) {
	_ = e.enc.WriteField(qpack.HeaderField{Name: name, Value: value})
}

// appendResponse appends w as HEADERS and, unless empty or for HEAD, DATA,
// dated now (RFC 9114 §4.1). A DNS answer's fields come from values, not
// header-map entries.
func (e *encoder) appendResponse(b []byte, w *httpmsg.Response, now time.Time) []byte {
	if w.Status == 0 {
		w.Status = http.StatusOK
	}
	e.sec.b = e.sec.b[:0]
	e.field(":status", statusValue(w.Status))
	if w.Answer {
		e.field("content-type", w.ContentType)
		e.field("cache-control", e.age.value(w.MaxAge, httpmsg.AppendCacheControl))
	}
	fields, hasLength, hasDate := w.AppendFields(e.fields[:0])
	for _, f := range fields {
		e.field(f.Name, f.Value)
	}
	clear(fields)
	e.fields = fields[:0]
	if !hasLength {
		e.field("content-length", e.length.value(int64(len(w.Body)), appendInt))
	}
	if !hasDate {
		e.field("date", httpmsg.HTTPDate(now))
	}
	_ = e.enc.Close()
	b = appendFrame(b, frameHeaders, len(e.sec.b))
	b = append(b, e.sec.b...)
	if len(w.Body) > 0 && !w.Head {
		b = appendFrame(b, frameData, len(w.Body))
		b = append(b, w.Body...)
	}
	return b
}
