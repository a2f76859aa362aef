package doh

import (
	"encoding/base64"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/miekg/dns"
)

// Media types DoH speaks.
const (
	mediaDNSMessage = "application/dns-message"
	mediaDNSJSON    = "application/dns-json"
	mediaJSON       = "application/json"
)

// maxEncodedLen is the longest dns= value that can decode to a legal message.
var maxEncodedLen = base64.RawURLEncoding.EncodedLen(MaxMessageSize)

// httpError is a request refused at the HTTP level.
type httpError struct {
	status int
	msg    string // short plain-text reason for the client
	allow  string // the Allow header of a 405
}

func (e *httpError) Error() string { return e.msg }

// errMethod refuses a method other than GET and POST on a wire-format path.
var errMethod = &httpError{http.StatusMethodNotAllowed, "method not allowed: use GET or POST", "GET, POST"}

func errorf(status int, msg string) *httpError { return &httpError{status: status, msg: msg} }

// wireQuery returns the packed DNS query of an RFC 8484 GET or POST request,
// at most maxBody bytes, in buf's storage when it has room.
func wireQuery(r *http.Request, maxBody int, buf []byte) ([]byte, *httpError) {
	buf = buf[:0]
	switch r.Method {
	case http.MethodGet:
		v, ok := queryParam(r.URL.RawQuery, "dns")
		if !ok || v == "" {
			return nil, errorf(http.StatusBadRequest, "missing dns query parameter")
		}
		return decodeParam(v, maxBody, buf)
	case http.MethodPost:
		return readBody(r, maxBody, buf)
	}
	return nil, errMethod
}

// decodeParam decodes a dns= value (base64url, padding tolerated) into the
// empty buf.
func decodeParam(v string, maxBody int, buf []byte) ([]byte, *httpError) {
	v = strings.TrimRight(v, "=")
	if len(v) > maxEncodedLen || base64.RawURLEncoding.DecodedLen(len(v)) > maxBody {
		return nil, errorf(http.StatusRequestEntityTooLarge, "dns parameter decodes to more than the maximum message size")
	}
	b, err := base64.RawURLEncoding.AppendDecode(buf, []byte(v))
	if err != nil {
		return nil, errorf(http.StatusBadRequest, "dns parameter is not base64url")
	}
	return b, nil
}

// readBody reads a POST body of type application/dns-message into the empty buf.
func readBody(r *http.Request, maxBody int, buf []byte) ([]byte, *httpError) {
	if ct := r.Header.Get("Content-Type"); ct != mediaDNSMessage {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != mediaDNSMessage {
			return nil, errorf(http.StatusUnsupportedMediaType, "Content-Type must be application/dns-message")
		}
	}
	if r.ContentLength > int64(maxBody) {
		return nil, errorf(http.StatusRequestEntityTooLarge, "body exceeds the maximum message size")
	}
	size := maxBody
	if r.ContentLength >= 0 {
		size = int(r.ContentLength)
	}
	// One byte more than allowed tells an oversized chunked body apart.
	b, err := readAtMost(r.Body, slices.Grow(buf, min(size, maxBody)+1), maxBody+1)
	if err != nil {
		return nil, errorf(http.StatusBadRequest, "reading the body failed")
	}
	if len(b) > maxBody {
		return nil, errorf(http.StatusRequestEntityTooLarge, "body exceeds the maximum message size")
	}
	if len(b) == 0 {
		return nil, errorf(http.StatusBadRequest, "empty body")
	}
	return b, nil
}

// readAtMost appends up to limit bytes from r to b.
func readAtMost(r io.Reader, b []byte, limit int) ([]byte, error) {
	for len(b) < limit {
		if len(b) == cap(b) {
			b = slices.Grow(b, 512)
		}
		n, err := r.Read(b[len(b):min(cap(b), limit)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
	return b, nil
}

// parseQuery unpacks a DNS query; responses are refused.
func parseQuery(b []byte) (*dns.Msg, *httpError) {
	q := new(dns.Msg)
	if err := q.Unpack(b); err != nil {
		return nil, errorf(http.StatusBadRequest, "malformed DNS message")
	}
	if q.Response {
		return nil, errorf(http.StatusBadRequest, "DNS message is a response, not a query")
	}
	return q, nil
}

// queryParam returns the first value of key in a raw URL query, unescaped,
// without building the whole url.Values map.
func queryParam(raw, key string) (string, bool) {
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		k, v, _ := strings.Cut(pair, "=")
		if k != key {
			continue
		}
		if strings.IndexByte(v, '%') < 0 && strings.IndexByte(v, '+') < 0 {
			return v, true
		}
		u, err := url.QueryUnescape(v)
		return u, err == nil
	}
	return "", false
}
