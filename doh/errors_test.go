package doh

import (
	"bytes"
	"encoding/base64"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

func TestErrorStatuses(t *testing.T) { forEachEngine(t, testErrorStatuses) }

func testErrorStatuses(t *testing.T, engine string) {
	env := startServer(t, onEngine(engine))
	addr := env.srv.TLSAddrs()[0]
	host := hostPort("dns.test", addr)
	good := query(t, "a.test.", dns.TypeA, 0, 0)
	response := func() []byte {
		m := new(dns.Msg)
		m.SetQuestion("a.test.", dns.TypeA)
		m.Response = true
		b, _ := m.Pack()
		return b
	}()
	oversized := make([]byte, MaxMessageSize+1)
	copy(oversized, good)
	dnsMsg := map[string]string{"Content-Type": "application/dns-message"}
	tests := []struct {
		name   string
		method string
		target string // path and query
		body   func() io.Reader
		hdr    map[string]string
		status int
		allow  string
	}{
		{"get without dns", "GET", "/dns-query", nil, nil, 400, ""},
		{"get empty dns", "GET", "/dns-query?dns=", nil, nil, 400, ""},
		{"get bad base64", "GET", "/dns-query?dns=!!not*base64", nil, nil, 400, ""},
		{"get standard base64 alphabet", "GET", "/dns-query?dns=" + base64.StdEncoding.EncodeToString([]byte{0xfb, 0xff, 0xfe, 0xfd}), nil, nil, 400, ""},
		{"get unparsable message", "GET", "/dns-query?dns=" + base64.RawURLEncoding.EncodeToString([]byte("not a dns message")), nil, nil, 400, ""},
		{"get a response", "GET", "/dns-query?dns=" + base64.RawURLEncoding.EncodeToString(response), nil, nil, 400, ""},
		{"get too large", "GET", "/dns-query?dns=" + base64.RawURLEncoding.EncodeToString(oversized), nil, nil, 413, ""},
		{"post too large", "POST", "/dns-query", func() io.Reader { return bytes.NewReader(oversized) }, dnsMsg, 413, ""},
		{"post too large without length", "POST", "/dns-query", func() io.Reader { return io.MultiReader(bytes.NewReader(oversized)) }, dnsMsg, 413, ""},
		{"post empty", "POST", "/dns-query", func() io.Reader { return http.NoBody }, dnsMsg, 400, ""},
		{"post garbage", "POST", "/ads", func() io.Reader { return strings.NewReader("garbage!") }, dnsMsg, 400, ""},
		{"post wrong content type", "POST", "/dns-query", func() io.Reader { return bytes.NewReader(good) }, map[string]string{"Content-Type": "application/octet-stream"}, 415, ""},
		{"post no content type", "POST", "/dns-query", func() io.Reader { return bytes.NewReader(good) }, nil, 415, ""},
		{"put", "PUT", "/dns-query", func() io.Reader { return bytes.NewReader(good) }, dnsMsg, 405, "GET, POST"},
		{"delete on profile path", "DELETE", "/ads", nil, nil, 405, "GET, POST"},
		{"accept rules out dns-message", "GET", "/dns-query?dns=" + base64.RawURLEncoding.EncodeToString(good), nil, map[string]string{"Accept": "text/html"}, 406, ""},
		{"accept refuses dns-message explicitly", "POST", "/dns-query", func() io.Reader { return bytes.NewReader(good) },
			map[string]string{"Content-Type": "application/dns-message", "Accept": "application/dns-message;q=0, */*"}, 406, ""},
		{"unknown path", "GET", "/nope?dns=" + base64.RawURLEncoding.EncodeToString(good), nil, nil, 404, ""},
		{"unknown profile dns-query", "GET", "/nope/dns-query?dns=" + base64.RawURLEncoding.EncodeToString(good), nil, nil, 404, ""},
		{"json without name", "GET", "/resolve?type=A", nil, nil, 400, ""},
		{"json bad name", "GET", "/resolve?name=" + strings.Repeat("a", 64) + ".test", nil, nil, 400, ""},
		{"json bad type", "GET", "/ads/resolve?name=a.test&type=NOTATYPE", nil, nil, 400, ""},
		{"json post", "POST", "/resolve?name=a.test", func() io.Reader { return strings.NewReader("x") }, nil, 405, "GET"},
		{"json accept html", "GET", "/resolve?name=a.test", nil, map[string]string{"Accept": "text/html"}, 406, ""},
	}
	for _, v := range []httpVersion{h1, h2, h3} {
		c := env.client(t, v, addr)
		for _, tt := range tests {
			t.Run(string(v)+"/"+tt.name, func(t *testing.T) {
				var body io.Reader
				if tt.body != nil {
					body = tt.body()
				}
				resp, b := exchange(t, c, tt.method, "https://"+host+tt.target, body, tt.hdr)
				if resp.StatusCode != tt.status {
					t.Fatalf("status %d, want %d (%s)", resp.StatusCode, tt.status, b)
				}
				checkHeader(t, resp, "Content-Type", "text/plain; charset=utf-8")
				checkHeader(t, resp, "Cache-Control", "no-store")
				checkHeader(t, resp, "Allow", tt.allow)
				if len(bytes.TrimSpace(b)) == 0 || len(b) > 200 {
					t.Fatalf("want a short reason, got %q", b)
				}
			})
		}
	}
}

func TestGETTolerance(t *testing.T) {
	env := startServer(t, nil)
	addr := env.srv.PlainAddrs()[0]
	c := &http.Client{}
	wire := query(t, "a.test.", dns.TypeA, 77, 0)
	padded := base64.URLEncoding.EncodeToString(wire)
	if !strings.HasSuffix(padded, "=") {
		wire = query(t, "a.test.", dns.TypeA, 77, 1) // make the length need padding
		padded = base64.URLEncoding.EncodeToString(wire)
	}
	for _, tc := range []struct{ name, param string }{
		{"unpadded", base64.RawURLEncoding.EncodeToString(wire)},
		{"padded", padded},
		{"percent-encoded padding", strings.ReplaceAll(padded, "=", "%3D")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := exchange(t, c, "GET", "http://"+addr.String()+"/dns-query?ct=x&dns="+tc.param, nil, nil)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, b)
			}
			if m := unpack(t, b); m.Id != 77 || firstA(m) != "127.0.0.1" {
				t.Fatalf("answer %v", m)
			}
			checkHeader(t, resp, "Alt-Svc", "") // not advertised on cleartext
		})
	}
}
