package certs

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/libdns/libdns"

	"github.com/dnsward/dnsward/internal/dnstest"
)

// TestRFC2136UpdatesKnot adds and removes challenge TXT records in a zone
// that knot serves, through signed dynamic updates, and checks what knot
// then answers; updates signed with a wrong secret or key, of a type the
// provider does not handle, or of a name the key may not change, change
// nothing.
func TestRFC2136UpdatesKnot(t *testing.T) {
	k := dnstest.StartUpdatableKnot(t, "dns.test")
	good := DNSConfig{Provider: ProviderRFC2136, Server: k.Addr, TSIGKey: k.Key, TSIGSecret: Secret(k.Secret)}
	good, err := good.validate()
	if err != nil {
		t.Fatal(err)
	}
	p := newRFC2136(good)
	const name = "_acme-challenge.dns.test."
	long := strings.Repeat("x", 300) // two character-strings on the wire
	recs := []libdns.Record{
		libdns.TXT{Name: "_acme-challenge", TTL: time.Minute, Text: "token-one"},
		libdns.TXT{Name: "_acme-challenge", TTL: time.Minute, Text: long},
	}
	added, err := p.AppendRecords(t.Context(), "dns.test.", recs)
	if err != nil {
		t.Fatal(err)
	}
	if len(added) != 2 || added[0].RR().Data != "token-one" || added[0].RR().Type != "TXT" {
		t.Errorf("AppendRecords returned %v", added)
	}
	got, want := k.TXT(t, name), []string{"token-one", long[:255], long[255:]}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("knot serves %q after the append, want %q", got, want)
	}

	wrongSecret, wrongKey := good, good
	wrongSecret.TSIGSecret = "d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldA=="
	wrongKey.TSIGKey = "other-key."
	tests := []struct {
		name string
		cfg  DNSConfig
		recs []libdns.Record
		want string
	}{
		{"wrong secret", wrongSecret, recs[:1], "refused: NOTAUTH (TSIG BADSIG)"},
		{"unknown key", wrongKey, recs[:1], "refused: NOTAUTH (TSIG BADKEY)"},
		{"not TXT", good, []libdns.Record{libdns.Address{Name: "www"}}, "only TXT is supported"},
		{"outside the key's rights", good, []libdns.Record{libdns.TXT{Name: "www", Text: "x"}}, "refused: NOTAUTH"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := newRFC2136(tc.cfg).DeleteRecords(t.Context(), "dns.test.", tc.recs)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("DeleteRecords: %v, want an error containing %q", err, tc.want)
			}
			t.Log(err)
			if got := k.TXT(t, name); len(got) != 3 {
				t.Errorf("knot serves %q after a refused update", got)
			}
		})
	}

	if _, err := p.DeleteRecords(t.Context(), "dns.test", recs[:1]); err != nil {
		t.Fatal(err)
	}
	if got := k.TXT(t, name); !slices.Equal(got, []string{long[:255], long[255:]}) {
		t.Fatalf("knot serves %q after deleting token-one, want only the long record", got)
	}
	if _, err := p.DeleteRecords(t.Context(), "dns.test", recs); err != nil { // token-one is gone already
		t.Fatal(err)
	}
	if got := k.TXT(t, name); len(got) != 0 {
		t.Fatalf("knot serves %q after deleting every record", got)
	}
}
