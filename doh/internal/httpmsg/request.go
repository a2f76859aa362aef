package httpmsg

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// Fields is a request's regular header fields as HTTP/2 and HTTP/3 carry
// them, checked (RFC 9113 §8.2.2, RFC 9114 §4.2) and gathered into a header
// map whose single values share one backing array; a connection reuses it.
type Fields struct {
	Hdr     http.Header
	DeclLen int64    // content-length, or -1
	vals    []string // backing array of Hdr's single values
}

// NewFields returns empty Fields.
func NewFields() Fields { return Fields{Hdr: http.Header{}, DeclLen: -1} }

// keepFields is how many fields Reset keeps room for: clear does not
// shrink a map, so a larger one is dropped, as is the values' array, lest a
// connection's idle requests hold what its largest field sections needed.
const keepFields = 32

// Reset empties f for the next request, dropping storage that grew past keepFields.
func (f *Fields) Reset() {
	if len(f.Hdr) > keepFields || cap(f.vals) > keepFields {
		f.Hdr, f.vals = http.Header{}, nil
	} else {
		clear(f.Hdr)
		clear(f.vals)
		f.vals = f.vals[:0]
	}
	f.DeclLen = -1
}

// Add adds a regular field whose name and value are valid (ValidField),
// or returns why the request is malformed: an HTTP/1 connection-specific
// field, a te other than trailers, a content-length that is not one number.
func (f *Fields) Add(name, value string) (malformed string) {
	switch {
	case ConnectionSpecific(name):
		return "connection_header"
	case name == "te" && value != "trailers":
		return "bad_te"
	case name == "content-length":
		n, err := strconv.ParseUint(value, 10, 63)
		if err != nil || f.DeclLen >= 0 && int64(n) != f.DeclLen {
			return "bad_content_length"
		}
		f.DeclLen = int64(n)
	}
	key := CanonicalKey(name)
	if old, ok := f.Hdr[key]; ok {
		f.Hdr[key] = append(old, value)
		return ""
	}
	f.vals = append(f.vals, value)
	n := len(f.vals)
	f.Hdr[key] = f.vals[n-1 : n : n]
	return ""
}

// CheckPseudo checks a request's pseudo-headers (RFC 9113 §8.3.1, RFC
// 9114 §4.3.1, CONNECT: §8.5, §4.4), an empty string for one not sent,
// and returns why the request is malformed, or "".
func CheckPseudo(method, scheme, path, authority string) (malformed string) {
	switch {
	case method == "":
		return "missing_method"
	case method == http.MethodConnect:
		if path != "" || scheme != "" || authority == "" {
			return "bad_connect"
		}
	case scheme == "" || path == "":
		return "missing_pseudo_header"
	case path[0] != '/' && (path != "*" || method != http.MethodOptions):
		return "bad_path"
	}
	return ""
}

// Fill fills q, with u as its URL, from pseudo-headers CheckPseudo
// accepted and f's fields, Host standing in for a missing :authority; it
// returns why the request is malformed (a bad %-escape in path), or "".
// The engine sets the protocol, peer and TLS fields.
func (f *Fields) Fill(q *http.Request, u *url.URL, method, path, authority string) (malformed string) {
	if authority == "" {
		authority = f.Hdr.Get("Host")
	}
	if strings.IndexByte(path, '%') >= 0 {
		pu, err := url.ParseRequestURI(path)
		if err != nil {
			return "bad_path"
		}
		*u = *pu
	} else {
		p, rq, _ := strings.Cut(path, "?")
		*u = url.URL{Path: p, RawQuery: rq}
	}
	q.Method, q.URL, q.Host, q.RequestURI = method, u, authority, path
	q.Header, q.ContentLength = f.Hdr, f.DeclLen
	return ""
}

// ConnectionSpecific reports whether name is one of HTTP/1's
// connection-specific fields, which HTTP/2 and HTTP/3 messages must not
// carry (RFC 9113 §8.2.2, RFC 9114 §4.2).
func ConnectionSpecific(name string) bool {
	switch name {
	case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade":
		return true
	}
	return false
}

// ValidField reports whether a regular field has a lower-case token name
// and a value without CR, LF or NUL (RFC 9113 §8.2.1, RFC 9114 §4.2).
func ValidField(name, value string) bool {
	return validFieldName(name) && httpguts.ValidHeaderFieldValue(value)
}

// validFieldName reports whether name is a lower-case HTTP token.
func validFieldName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !httpguts.IsTokenRune(rune(c)) || 'A' <= c && c <= 'Z' {
			return false
		}
	}
	return true
}
