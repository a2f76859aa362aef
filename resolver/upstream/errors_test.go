package upstream

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/miekg/dns"
)

// wrongQuestion answers a different name than asked.
func wrongQuestion(q *dns.Msg) *dns.Msg {
	r := answerA(q)
	r.Question[0].Name = "elsewhere.test."
	return r
}

// TestProtocolErrors: answers that break the protocol fail with KindProtocol
// (ErrNetwork), never with a crash or a wrong answer.
func TestProtocolErrors(t *testing.T) {
	dohWith := func(t *testing.T, status int, ctype string, body []byte) string {
		hs := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", ctype)
			w.WriteHeader(status)
			_, _ = w.Write(body)
		}))
		hs.EnableHTTP2 = true
		hs.TLS = serverTLS()
		hs.StartTLS()
		t.Cleanup(hs.Close)
		return hs.URL + "/dns-query"
	}
	good, err := answerA(query("x.test.", 0)).Pack()
	if err != nil {
		t.Fatal(err)
	}
	truncated := func(q *dns.Msg) *dns.Msg {
		r := answerA(q)
		r.Truncated = true
		return r
	}
	tests := []struct {
		name  string
		start func(t *testing.T) string
	}{
		{"tcp wrong question", func(t *testing.T) string { return "tcp://" + startStream(t, listenTCP(t), wrongQuestion).addr }},
		{"tcp truncated", func(t *testing.T) string { return "tcp://" + startStream(t, listenTCP(t), truncated).addr }},
		{"quic wrong question", func(t *testing.T) string { return "quic://" + startDoQ(t, wrongQuestion).addr }},
		{"https wrong question", func(t *testing.T) string { return startDoH(t, wrongQuestion).url }},
		{"https 500", func(t *testing.T) string { return dohWith(t, 500, dohMediaType, good) }},
		{"https wrong media type", func(t *testing.T) string { return dohWith(t, 200, "text/html", good) }},
		{"https garbage", func(t *testing.T) string { return dohWith(t, 200, dohMediaType, []byte("garbage!garbage!")) }},
		{"https oversized", func(t *testing.T) string { return dohWith(t, 200, dohMediaType, make([]byte, maxMsg+10)) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := newUpstream(t, tt.start(t), testOptions())
			r, err := u.Exchange(context.Background(), query("x.test.", 3))
			var ue *Error
			if !errors.As(err, &ue) || ue.Kind != KindProtocol || !errors.Is(err, ErrNetwork) {
				t.Fatalf("got %v, %v; want a protocol *Error", r, err)
			}
		})
	}
}

// TestBadQuery: queries that must not be forwarded are refused up front.
func TestBadQuery(t *testing.T) {
	s := startUDP(t, listenUDP(t), answerA)
	u := newUpstream(t, s.addr, testOptions())
	resp := answerA(query("x.test.", 1))
	for name, q := range map[string]*dns.Msg{"nil": nil, "no question": new(dns.Msg), "response": resp} {
		t.Run(name, func(t *testing.T) {
			if _, err := u.Exchange(context.Background(), q); !errors.Is(err, errBadQuery) {
				t.Fatalf("got %v, want errBadQuery", err)
			}
		})
	}
	if n := s.hits.Load(); n != 0 {
		t.Errorf("server saw %d bad queries", n)
	}
}
