package h3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"testing"

	"github.com/quic-go/qpack"
)

// testRequest is a request of a connection that serves nothing.
func testRequest() *request {
	c := &conn{srv: &Server{cfg: Config{StateKey: stateKey{},
		NewState: func(context.Context, string) State { return nopState{} }}}, ctx: context.Background()}
	return newRequest(c)
}

// section encodes fields, name and value alternating, with the static table.
func section(fields ...string) []byte {
	var b sectionWriter
	enc := qpack.NewEncoder(&b)
	for i := 0; i < len(fields); i += 2 {
		_ = enc.WriteField(qpack.HeaderField{Name: fields[i], Value: fields[i+1]})
	}
	return b.b
}

var getPseudo = []string{":method", "GET", ":scheme", "https", ":authority", "dns.test", ":path", "/dns-query"}

// TestFieldSectionBounded: a field section is refused with 431 as soon as
// its decoded size passes the bound, so a 16 KiB HEADERS payload of
// one-byte static references (64-byte fields) or of short literal names
// costs work for the bound's worth of fields only; and a request whose
// fields filled the header map leaves no such map or value array behind
// once recycled.
func TestFieldSectionBounded(t *testing.T) {
	const maxSize = 8192
	// indexed field lines for static entry 31, accept-encoding: gzip, deflate, br
	refs := append([]byte{0, 0}, bytes.Repeat([]byte{0xc0 | 31}, 16<<10)...)
	var names []string
	for i := range 2000 {
		names = append(names, fmt.Sprintf("n%04x", i), "")
	}
	for _, tt := range []struct {
		name    string
		section []byte
	}{
		{"static references", refs},
		{"literal names", section(names...)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := testRequest()
			var rf *refusal
			if err := r.build(tt.section, maxSize); !errors.As(err, &rf) || rf.status != http.StatusRequestHeaderFieldsTooLarge {
				t.Fatalf("%d-byte section: %v, want 431", len(tt.section), err)
			}
			n := 0
			for _, vv := range r.fields.Hdr {
				n += len(vv)
			}
			if n > maxSize/fieldOverhead {
				t.Errorf("%d fields decoded before the 431, want at most %d", n, maxSize/fieldOverhead)
			}
			allocs := testing.AllocsPerRun(10, func() {
				r.fields.Reset()
				_ = r.build(tt.section, maxSize)
			})
			if allocs > 4*maxSize/fieldOverhead {
				t.Errorf("%v allocations to refuse the section, want at most %d", allocs, 4*maxSize/fieldOverhead)
			}
		})
	}

	var many []string
	for i := range 300 { // 300 fields of 39 bytes: within a 16 KiB bound
		many = append(many, fmt.Sprintf("x-f%03d", i), "")
	}
	r := testRequest()
	if err := r.build(section(append(getPseudo, many...)...), 16<<10); err != nil {
		t.Fatal(err)
	}
	if len(r.fields.Hdr) != 300 {
		t.Fatalf("%d header names, want 300", len(r.fields.Hdr))
	}
	before := reflect.ValueOf(r.fields.Hdr).UnsafePointer()
	r.reset()
	if kept := reflect.ValueOf(r.fields.Hdr).UnsafePointer() == before; kept || len(r.fields.Hdr) != 0 {
		t.Errorf("after reset: the 300-name header map kept (%v), %d names", kept, len(r.fields.Hdr))
	}
	if err := r.build(section(getPseudo...), 16<<10); err != nil || r.req.Host != "dns.test" {
		t.Fatalf("the recycled request: %v, host %q", err, r.req.Host)
	}
}
