package ratelimit

import (
	"net/netip"
	"strings"
	"testing"
)

func TestNormalize(t *testing.T) {
	ok := Limits{QPS: 10, Burst: 20}
	tests := []struct {
		name    string
		mutate  func(*Limits)
		wantErr string // substring; "" means valid
	}{
		{"defaults", func(l *Limits) {}, ""},
		{"zero qps", func(l *Limits) { l.QPS = 0 }, "rate_limit.qps: must be > 0"},
		{"zero burst", func(l *Limits) { l.Burst = 0 }, "rate_limit.burst: must be > 0"},
		{"ipv4 prefix too long", func(l *Limits) { l.IPv4Prefix = 33 }, "rate_limit.ipv4_prefix: 33 is not in 1..32"},
		{"ipv6 prefix negative", func(l *Limits) { l.IPv6Prefix = -1 }, "rate_limit.ipv6_prefix"},
		{"slip negative", func(l *Limits) { l.Slip = -2 }, "rate_limit.slip"},
		{"max conns negative", func(l *Limits) { l.MaxConns = -1 }, "rate_limit.max_conns_per_prefix"},
		{"zero prefix", func(l *Limits) { l.Allow = []netip.Prefix{{}} }, "rate_limit.allow[0]: not a valid prefix"},
		{"mapped prefix", func(l *Limits) { l.Deny = []netip.Prefix{netip.MustParsePrefix("::ffff:10.0.0.0/104")} }, "rate_limit.deny[0]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := ok
			tc.mutate(&l)
			got, err := l.Normalize()
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if got.IPv4Prefix != 32 || got.IPv6Prefix != 64 {
					t.Errorf("defaults not filled: %+v", got)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %v, want it to contain %q", err, tc.wantErr)
			}
		})
	}
}

func TestNormalizeMasksPrefixes(t *testing.T) {
	l, err := Limits{QPS: 1, Burst: 1, Allow: []netip.Prefix{netip.MustParsePrefix("10.1.2.3/8")}}.Normalize()
	if err != nil {
		t.Fatal(err)
	}
	if l.Allow[0] != netip.MustParsePrefix("10.0.0.0/8") {
		t.Errorf("got %s", l.Allow[0])
	}
}
