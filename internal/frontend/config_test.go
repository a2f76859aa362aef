package frontend

import (
	"context"
	"crypto/tls"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsward/dnsward/resolver"
)

func TestCommonCheck(t *testing.T) {
	ps, err := resolver.NewProfiles("open", []*resolver.Profile{{Name: "open"}})
	if err != nil {
		t.Fatal(err)
	}
	h := resolver.HandlerFunc(func(context.Context, *resolver.Request) (*dns.Msg, error) { return nil, nil })
	ok := Common{
		Addrs:    []string{"127.0.0.1:0"},
		TLS:      &tls.Config{Certificates: []tls.Certificate{{}}},
		Handler:  h,
		Profiles: ps,
	}
	if err := ok.Check("dot"); err != nil {
		t.Fatalf("valid: %v", err)
	}
	for _, tc := range []struct {
		name   string
		mutate func(*Common)
		want   string
	}{
		{"no addrs", func(c *Common) { c.Addrs = nil }, "dot: no listen addresses"},
		{"no tls", func(c *Common) { c.TLS = nil }, "dot: no TLS config"},
		{"no cert", func(c *Common) { c.TLS = &tls.Config{} }, "dot: TLS config has no certificate"},
		{"GetCertificate", func(c *Common) {
			c.TLS = &tls.Config{GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return nil, nil }}
		}, ""},
		{"no handler", func(c *Common) { c.Handler = nil }, "dot: no handler"},
		{"no profiles", func(c *Common) { c.Profiles = nil }, "dot: no profiles"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.mutate(&c)
			err := c.Check("dot")
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || err.Error() != tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestSetTimeouts(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      time.Duration
		want    time.Duration
		wantErr string
	}{
		{"zero takes the default", 0, 5 * time.Second, ""},
		{"set is kept", time.Second, time.Second, ""},
		{"negative", -1, -1, "doq: negative IdleTimeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := tc.in
			err := SetTimeouts("doq", Timeout{Name: "IdleTimeout", Value: &d, Default: 5 * time.Second})
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
			if d != tc.want {
				t.Fatalf("timeout = %v, want %v", d, tc.want)
			}
		})
	}
}
