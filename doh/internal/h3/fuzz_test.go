package h3

import (
	"bufio"
	"bytes"
	"net/http"
	"testing"

	"github.com/quic-go/qpack"
	"golang.org/x/net/http/httpguts"

	"github.com/dnsward/dnsward/doh/internal/httpmsg"
)

// fuzzFrame is a frame of type typ with payload p.
func fuzzFrame(typ uint64, p []byte) []byte { return append(appendFrame(nil, typ, len(p)), p...) }

// fuzzSection QPACK-encodes fields, name and value alternating.
func fuzzSection(fields ...string) []byte {
	var w sectionWriter
	enc := qpack.NewEncoder(&w)
	for i := 0; i < len(fields); i += 2 {
		_ = enc.WriteField(qpack.HeaderField{Name: fields[i], Value: fields[i+1]})
	}
	return w.b
}

// FuzzH3Request feeds arbitrary request streams to the frame reader and
// the request builder: they must return an error or a request whose
// method, path and body respect the limits, and never panic.
func FuzzH3Request(f *testing.F) {
	get := fuzzSection(":method", "GET", ":scheme", "https", ":authority", "dns.test", ":path", "/dns-query?dns=AAABAAABAAAAAAAAAWEEdGVzdAAAAQAB")
	post := fuzzSection(":method", "POST", ":scheme", "https", ":path", "/dns-query", "host", "dns.test", "content-length", "3")
	f.Add(fuzzFrame(frameHeaders, get))
	f.Add(append(fuzzFrame(frameHeaders, post), fuzzFrame(frameData, []byte("abc"))...))
	f.Add(append(append(fuzzFrame(0x21, []byte("x")), fuzzFrame(frameHeaders, post)...), fuzzFrame(frameHeaders, nil)...))
	f.Add(fuzzFrame(frameHeaders, []byte{0x02, 0x00, 0xd1}))
	f.Add(fuzzFrame(frameData, []byte("x")))
	f.Add([]byte{0x01, 0x40})
	const maxFields, maxBody = 1024, 512
	f.Fuzz(func(t *testing.T, in []byte) {
		r := &request{c: &conn{}, fields: httpmsg.NewFields(), req: &http.Request{}}
		err := readMessage(frameReader{bufio.NewReader(bytes.NewReader(in))}, &r.msg, maxFields, maxBody)
		if len(r.msg.body) > maxBody+1 || len(r.msg.fields) > maxFields {
			t.Fatalf("kept %d body and %d field bytes", len(r.msg.body), len(r.msg.fields))
		}
		if err != nil {
			return
		}
		if err := r.build(r.msg.fields, maxFields); err != nil {
			return
		}
		q := r.req
		if q.Method == "" || q.URL == nil || q.ProtoMajor != 3 || q.URL.Path != "" && q.URL.Path[0] != '/' && q.URL.Path != "*" || q.Host == "" {
			t.Fatalf("accepted %q %v host %q", q.Method, q.URL, q.Host)
		}
		for k, vv := range q.Header {
			for _, v := range vv {
				if !httpguts.ValidHeaderFieldValue(v) {
					t.Fatalf("accepted %s: %q", k, v)
				}
			}
		}
	})
}
