package h3

import (
	"errors"
	"io"
	"net/http"

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
// many fields its encoded bytes can name; CONNECT is 405.
func (r *request) build(fields []byte, maxSize int) error {
	var method, scheme, path, authority string
	size, regular := 0, false
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
		if !hf.IsPseudo() {
			regular = true
			if !httpmsg.ValidField(hf.Name, hf.Value) {
				return streamError(codeMessage, "bad_field")
			}
			if why := r.fields.Add(hf.Name, hf.Value); why != "" {
				return streamError(codeMessage, why)
			}
			continue
		}
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
			p = &authority
		default:
			return streamError(codeMessage, "unknown_pseudo_header")
		}
		if *p != "" || hf.Value == "" || !httpguts.ValidHeaderFieldValue(hf.Value) {
			return streamError(codeMessage, "repeated_empty_or_bad_pseudo_header")
		}
		*p = hf.Value
	}
	if why := httpmsg.CheckPseudo(method, scheme, path, authority); why != "" {
		return streamError(codeMessage, why)
	}
	if method == http.MethodConnect {
		return &refusal{http.StatusMethodNotAllowed, "CONNECT is not supported"}
	}
	// Host stands in for :authority; both must agree, one must be there (§4.3.1)
	switch hosts := r.fields.Hdr["Host"]; {
	case len(hosts) > 1:
		return streamError(codeMessage, "several_hosts")
	case len(hosts) == 1 && authority != "" && hosts[0] != authority:
		return streamError(codeMessage, "authority_host_mismatch")
	}
	q := r.req
	if why := r.fields.Fill(q, &r.url, method, path, authority); why != "" {
		return streamError(codeMessage, why)
	}
	if q.Host == "" {
		return streamError(codeMessage, "missing_authority")
	}
	q.Proto, q.ProtoMajor, q.ProtoMinor = "HTTP/3.0", 3, 0
	q.RemoteAddr, q.TLS = r.c.remote, r.c.tls
	return nil
}
