package h3

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/quic-go/qpack"
	"golang.org/x/net/http/httpguts"

	"github.com/dnsward/dnsward/doh/internal/httpmsg"
)

// decoder decodes field sections; it keeps no state (no dynamic table).
var decoder = qpack.NewDecoder()

// refusal is a request answered with an HTTP error instead of the handler.
type refusal struct {
	status int
	msg    string
}

func (r *refusal) Error() string { return r.msg }

// fieldOverhead is what each field adds to a field section's size (RFC 9114 §4.2.2).
const fieldOverhead = 32

// tooLarge refuses a field section past MaxHeaderBytes.
var tooLarge = &refusal{http.StatusRequestHeaderFieldsTooLarge, "request header fields too large"}

// build fills r's request from a HEADERS payload (RFC 9114 §4.3.1): a
// malformed request is a stream error H3_MESSAGE_ERROR, a dynamic-table
// reference QPACK_DECOMPRESSION_FAILED, too large a section 431, refused
// as soon as the fields decoded so far pass maxSize (§4.2.2), so that the
// work and memory a section can cost are bounded by maxSize, not by how
// many fields its encoded bytes can name.
func (r *request) build(fields []byte, maxSize int) error {
	var method, scheme, path, authority string
	size, regular, hasAuthority := 0, false, false
	next := decoder.Decode(fields)
	for {
		hf, err := next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return connError(codeQPACKDecompression, "qpack")
		}
		if size += len(hf.Name) + len(hf.Value) + fieldOverhead; size > maxSize {
			return tooLarge
		}
		if !validName(hf.Name) {
			return streamError(codeMessage, "bad_field_name")
		}
		if !httpguts.ValidHeaderFieldValue(hf.Value) {
			return streamError(codeMessage, "bad_field_value")
		}
		if hf.IsPseudo() {
			if regular {
				return streamError(codeMessage, "pseudo_after_regular")
			}
			var p *string
			switch hf.Name {
			case ":method":
				p = &method
			case ":scheme":
				p = &scheme
			case ":path":
				p = &path
			case ":authority":
				p, hasAuthority = &authority, true
			default:
				return streamError(codeMessage, "unknown_pseudo_header")
			}
			if *p != "" || hf.Value == "" {
				return streamError(codeMessage, "repeated_or_empty_pseudo_header")
			}
			*p = hf.Value
			continue
		}
		regular = true
		if err := r.addField(hf.Name, hf.Value); err != nil {
			return err
		}
	}
	switch {
	case method == "":
		return streamError(codeMessage, "missing_method")
	case method == http.MethodConnect:
		return &refusal{http.StatusMethodNotAllowed, "CONNECT is not supported"}
	case scheme == "" || path == "":
		return streamError(codeMessage, "missing_pseudo_header")
	case path[0] != '/' && (path != "*" || method != http.MethodOptions):
		return streamError(codeMessage, "bad_path")
	}
	// Host stands in for :authority; both must agree, one must be there (§4.3.1)
	switch hosts := r.hdr["Host"]; {
	case len(hosts) > 1:
		return streamError(codeMessage, "several_hosts")
	case len(hosts) == 1 && hasAuthority && hosts[0] != authority:
		return streamError(codeMessage, "authority_host_mismatch")
	case len(hosts) == 1:
		authority = hosts[0]
	case !hasAuthority:
		return streamError(codeMessage, "missing_authority")
	}
	if strings.IndexByte(path, '%') >= 0 {
		u, err := url.ParseRequestURI(path)
		if err != nil {
			return streamError(codeMessage, "bad_path")
		}
		r.url = *u
	} else {
		p, q, _ := strings.Cut(path, "?")
		r.url = url.URL{Path: p, RawQuery: q}
	}
	q := r.req
	q.Method, q.URL, q.Host, q.RequestURI = method, &r.url, authority, path
	q.Proto, q.ProtoMajor, q.ProtoMinor = "HTTP/3.0", 3, 0
	q.Header, q.RemoteAddr, q.TLS = r.hdr, r.c.remote, r.c.tls
	q.ContentLength = r.declLen
	return nil
}

// addField adds a regular field, refusing HTTP/1's connection-specific ones
// (§4.2) and a content-length that is not one number.
func (r *request) addField(name, value string) error {
	switch name {
	case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade":
		return streamError(codeMessage, "connection_header")
	case "te":
		if value != "trailers" {
			return streamError(codeMessage, "bad_te")
		}
	case "content-length":
		n, err := strconv.ParseUint(value, 10, 63)
		if err != nil || r.declLen >= 0 && int64(n) != r.declLen {
			return streamError(codeMessage, "bad_content_length")
		}
		r.declLen = int64(n)
	}
	key := httpmsg.CanonicalKey(name)
	if old, ok := r.hdr[key]; ok {
		r.hdr[key] = append(old, value)
		return nil
	}
	r.vals = append(r.vals, value)
	n := len(r.vals)
	r.hdr[key] = r.vals[n-1 : n : n]
	return nil
}

// validName reports whether a field name is a lowercase token (§4.2), a
// pseudo-header's after its colon.
func validName(name string) bool {
	if strings.HasPrefix(name, ":") {
		name = name[1:]
	}
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c >= 'A' && c <= 'Z' || c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}
