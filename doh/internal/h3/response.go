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
	sec     sectionWriter
	enc     *qpack.Encoder
	scratch []byte
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
	e.field(":status", strconv.Itoa(w.Status))
	if w.Answer {
		e.field("content-type", w.ContentType)
		e.field("cache-control", string(httpmsg.AppendCacheControl(e.scratch[:0], w.MaxAge)))
	}
	hasLength, hasDate := false, false
	for k, vv := range w.Hdr {
		name := httpmsg.LowerKey(k)
		switch name {
		case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade":
			continue
		case "content-length":
			hasLength = true
		case "date":
			hasDate = true
		}
		for _, v := range vv {
			e.field(name, v)
		}
	}
	if !hasLength {
		e.field("content-length", strconv.Itoa(len(w.Body)))
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
