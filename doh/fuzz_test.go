package doh

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/dnsward/dnsward/resolver"
	"github.com/miekg/dns"
)

// echoServer is a Server without listeners whose handler answers NOERROR at once.
func echoServer(t testing.TB) *Server {
	t.Helper()
	srv, err := New(Config{
		Handler: resolver.HandlerFunc(func(_ context.Context, req *resolver.Request) (*dns.Msg, error) {
			return resolver.NewReply(req.Msg, dns.RcodeSuccess), nil
		}),
		Profiles: testProfiles(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

// FuzzDecodeRequest feeds arbitrary dns= parameters and POST bodies to the
// handler: it must answer 200 with a parsable message echoing the ID, or a
// 4xx naming the problem, and never panic.
func FuzzDecodeRequest(f *testing.F) {
	good := query(f, "a.test.", dns.TypeA, 0, 0)
	f.Add(base64.RawURLEncoding.EncodeToString(good), good, "application/dns-message")
	f.Add(base64.URLEncoding.EncodeToString(good)+"%3D", []byte{}, "application/dns-message; charset=x")
	f.Add("!!", []byte("\x00\x01\x80\x00"), "text/plain")
	f.Add("", query(f, "a.test.", dns.TypeA, 1, 300), "")
	h := echoServer(f).Handler()
	f.Fuzz(func(t *testing.T, param string, body []byte, contentType string) {
		for _, req := range []*http.Request{
			httptest.NewRequest(http.MethodGet, "/dns-query?dns="+url.QueryEscape(param), nil),
			httptest.NewRequest(http.MethodPost, "/ads", bytes.NewReader(body)),
		} {
			req.Header.Set("Content-Type", contentType)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			switch rec.Code {
			case http.StatusOK:
				m := new(dns.Msg)
				if err := m.Unpack(rec.Body.Bytes()); err != nil {
					t.Fatalf("200 with unparsable answer: %v", err)
				}
				var q dns.Msg
				wire := body
				if req.Method == http.MethodGet {
					wire, _ = base64.RawURLEncoding.DecodeString(trimPad(param))
				}
				if err := q.Unpack(wire); err != nil || q.Id != m.Id {
					t.Fatalf("answer ID %d for query %v (%v)", m.Id, q.Id, err)
				}
			case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType:
				if rec.Body.Len() == 0 {
					t.Fatalf("status %d without a reason", rec.Code)
				}
			default:
				t.Fatalf("unexpected status %d: %s", rec.Code, rec.Body)
			}
		}
	})
}

func trimPad(s string) string {
	for len(s) > 0 && s[len(s)-1] == '=' {
		s = s[:len(s)-1]
	}
	return s
}
