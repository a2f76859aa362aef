package httpmsg

import (
	"cmp"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"testing"
)

// TestFieldsAdd: the regular-field rules both engines apply.
func TestFieldsAdd(t *testing.T) {
	for _, tt := range []struct {
		fields []string // name, value alternating
		want   string
	}{
		{[]string{"accept", "a", "accept", "b", "content-length", "3", "te", "trailers"}, ""},
		{[]string{"connection", "close"}, "connection_header"},
		{[]string{"upgrade", "h2c"}, "connection_header"},
		{[]string{"te", "gzip"}, "bad_te"},
		{[]string{"content-length", "x"}, "bad_content_length"},
		{[]string{"content-length", "3", "content-length", "4"}, "bad_content_length"},
	} {
		f := NewFields()
		got := ""
		for i := 0; i < len(tt.fields) && got == ""; i += 2 {
			got = f.Add(tt.fields[i], tt.fields[i+1])
		}
		if got != tt.want {
			t.Errorf("%q: %q, want %q", tt.fields, got, tt.want)
		}
	}
	f := NewFields()
	f.Add("accept", "a")
	f.Add("accept", "b")
	f.Add("content-length", "3")
	if !slices.Equal(f.Hdr["Accept"], []string{"a", "b"}) || f.DeclLen != 3 {
		t.Errorf("fields %v, content-length %d", f.Hdr, f.DeclLen)
	}
}

// TestFieldsReset: Reset empties the fields, replacing a header map that
// grew past keepFields names (clear would keep its buckets).
func TestFieldsReset(t *testing.T) {
	for _, n := range []int{keepFields, keepFields + 1} {
		f := NewFields()
		for i := range n {
			f.Add(fmt.Sprintf("x-%d", i), "v")
		}
		f.Add("content-length", "1")
		before := reflect.ValueOf(f.Hdr).UnsafePointer()
		f.Reset()
		replaced := reflect.ValueOf(f.Hdr).UnsafePointer() != before
		if len(f.Hdr) != 0 || f.DeclLen != -1 || replaced != (n+1 > keepFields) {
			t.Errorf("%d fields: after Reset %d left, content-length %d, map replaced %v", n+1, len(f.Hdr), f.DeclLen, replaced)
		}
	}
}

// TestPseudoAndFill: pseudo-header checks and the request they fill.
func TestPseudoAndFill(t *testing.T) {
	for _, tt := range []struct {
		method, scheme, path, authority, want string
	}{
		{"GET", "https", "/dns-query", "dns.test", ""},
		{"", "https", "/", "dns.test", "missing_method"},
		{"GET", "", "/", "dns.test", "missing_pseudo_header"},
		{"GET", "https", "", "dns.test", "missing_pseudo_header"},
		{"GET", "https", "x", "dns.test", "bad_path"},
		{"OPTIONS", "https", "*", "dns.test", ""},
		{"CONNECT", "", "", "dns.test:443", ""},
		{"CONNECT", "https", "/", "dns.test", "bad_connect"},
	} {
		if got := CheckPseudo(tt.method, tt.scheme, tt.path, tt.authority); got != tt.want {
			t.Errorf("%+v: %q", tt, got)
		}
	}
	f := NewFields()
	f.Add("host", "h.test")
	var q http.Request
	var u url.URL
	if why := f.Fill(&q, &u, "GET", "/a%20b?dns=x", ""); why != "" || q.Host != "h.test" || u.Path != "/a b" || u.RawQuery != "dns=x" || q.URL != &u {
		t.Errorf("Fill: %q, host %q, url %v", why, q.Host, q.URL)
	}
	if why := f.Fill(&q, &u, "GET", "/%zz", "dns.test"); why != "bad_path" {
		t.Errorf("bad escape: %q", why)
	}
}

// TestValidField: lower-case token names, values without CR, LF or NUL.
func TestValidField(t *testing.T) {
	for _, tt := range []struct {
		name, value string
		want        bool
	}{
		{"accept", "application/dns-message", true},
		{"Accept", "x", false},
		{"", "x", false},
		{"a b", "x", false},
		{"x-a", "a\r\nb", false},
		{"x-a", "a\x00b", false},
		{"x-a", "a\tb", true},
	} {
		if got := ValidField(tt.name, tt.value); got != tt.want {
			t.Errorf("ValidField(%q, %q) = %v", tt.name, tt.value, got)
		}
	}
}

// TestAppendFields: a handler's fields under lower-case names, without
// connection-specific ones, and whether content-length and date are set.
func TestAppendFields(t *testing.T) {
	w := Response{Hdr: http.Header{"Content-Length": {"3"}, "Connection": {"close"}, "X-A": {"1", "2"}}}
	fields, hasLength, hasDate := w.AppendFields(nil)
	slices.SortFunc(fields, func(a, b Field) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Value, b.Value))
	})
	want := []Field{{"content-length", "3"}, {"x-a", "1"}, {"x-a", "2"}}
	if !slices.Equal(fields, want) || !hasLength || hasDate {
		t.Errorf("%v length %v date %v, want %v true false", fields, hasLength, hasDate, want)
	}
}
