package doh

import (
	"context"
	"crypto/tls"
	"net/netip"
	"strings"
	"testing"

	"github.com/dnsward/dnsward/resolver"
	"github.com/miekg/dns"
)

func TestConfigValidation(t *testing.T) {
	h := resolver.HandlerFunc(func(_ context.Context, r *resolver.Request) (*dns.Msg, error) {
		return resolver.NewReply(r.Msg, dns.RcodeSuccess), nil
	})
	ps := testProfiles(t)
	tests := []struct {
		name string
		cfg  Config
		want string // error substring; "" → valid
	}{
		{"minimal", Config{Handler: h, Profiles: ps}, ""},
		{"no handler", Config{Profiles: ps}, "Handler"},
		{"no profiles", Config{Handler: h}, "Profiles"},
		{"tls addr without tls", Config{Handler: h, Profiles: ps, Addrs: []string{"127.0.0.1:0"}}, "TLS"},
		{"bad address", Config{Handler: h, Profiles: ps, PlainAddrs: []string{"127.0.0.1"}}, "listen address"},
		{"body too large", Config{Handler: h, Profiles: ps, MaxBody: 70000}, "MaxBody"},
		{"negative timeout", Config{Handler: h, Profiles: ps, ReadTimeout: -1}, "negative"},
		{"stdlib HTTP/2", Config{Handler: h, Profiles: ps, HTTP2: HTTP2Stdlib}, ""},
		{"unknown HTTP/2 engine", Config{Handler: h, Profiles: ps, HTTP2: "nghttp2"}, `HTTP2 "nghttp2"`},
		{"stdlib HTTP/3", Config{Handler: h, Profiles: ps, HTTP3: HTTP3Stdlib}, ""},
		{"unknown HTTP/3 engine", Config{Handler: h, Profiles: ps, HTTP3: "nghttp3"}, `HTTP3 "nghttp3"`},
		{"invalid prefix", Config{Handler: h, Profiles: ps, TrustedProxies: []netip.Prefix{{}}}, "TrustedProxies"},
		{"tls and plain", Config{Handler: h, Profiles: ps, TLS: &tls.Config{}, Addrs: []string{"[::1]:0"}, PlainAddrs: []string{":0"}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("valid config refused: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "doh: ")):
				t.Fatalf("error %v, want one naming %q", err, tt.want)
			}
		})
	}
}

func TestStartErrors(t *testing.T) {
	env := startServer(t, nil)
	taken := env.srv.TLSAddrs()[0].String()
	srv, err := New(Config{Handler: env.fwd, Profiles: testProfiles(t), TLS: &tls.Config{Certificates: []tls.Certificate{env.pki.Leaf}},
		Addrs: []string{"127.0.0.1:0", taken}})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err == nil || !strings.Contains(err.Error(), "doh: listening") {
		t.Fatalf("binding a taken port: %v", err)
	}
	if err := srv.Start(context.Background()); err == nil {
		t.Fatal("second Start accepted")
	}
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}
