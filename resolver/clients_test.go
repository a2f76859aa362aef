package resolver

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/dnsward/dnsward/internal/transport"
)

// clientProfiles is open (default), child (by path, host and address) and
// work, with annas-phone listed for child and the server name dns.example.
func clientProfiles(t testing.TB, refuse bool) *Profiles {
	t.Helper()
	r, err := NewProfiles("open", []*Profile{
		{Name: "open"},
		{Name: "child", Paths: []string{"/child"}, Hosts: []string{"child.dns.example"}, Addrs: []netip.Addr{netip.MustParseAddr("127.0.0.3")}},
		{Name: "work"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.SetClients(ClientsConfig{
		Profiles: map[string]string{"annas-phone": "child", "office-pc": "work"}, RefuseUnknown: refuse, Hosts: []string{"dns.example"},
	}); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestParseClientID(t *testing.T) {
	for _, tt := range []struct {
		in, want string
		ok       bool
	}{
		{"annas-phone", "annas-phone", true},
		{"Annas-Phone", "annas-phone", true},
		{"a", "a", true},
		{"0", "0", true},
		{strings.Repeat("a", 63), strings.Repeat("a", 63), true},
		{strings.Repeat("a", 64), "", false},
		{"", "", false},
		{"-anna", "", false},
		{"anna-", "", false},
		{"anna_phone", "", false},
		{"anna.phone", "", false},
		{"anna phone", "", false},
		{"<script>", "", false},
		{"anna\x00", "", false},
		{"ännä", "", false},
		{"dns-query", "", false},
		{"Resolve", "", false},
	} {
		got, err := ParseClientID(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseClientID(%q) = %q, %v; want %q, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrClientID) {
			t.Errorf("ParseClientID(%q): error %v is not ErrClientID", tt.in, err)
		}
	}
}

func TestIdentify(t *testing.T) {
	accept, refuse := clientProfiles(t, false), clientProfiles(t, true)
	child, _ := accept.ByName("child")
	open := accept.Default()
	tests := []struct {
		name    string
		in      Ingress
		refuse  bool
		profile string
		id      string
		listed  bool
		err     error
	}{
		{"no name", Ingress{}, false, "open", "", false, nil},
		{"profile host", Ingress{ServerName: "child.dns.example"}, false, "child", "", false, nil},
		{"server name", Ingress{ServerName: "dns.example"}, false, "open", "", false, nil},
		{"unlisted ID under a profile host", Ingress{ServerName: "bobs-laptop.child.dns.example"}, false, "child", "bobs-laptop", false, nil},
		{"unlisted ID under the server name", Ingress{ServerName: "bobs-laptop.dns.example."}, false, "open", "bobs-laptop", false, nil},
		{"listed ID overrides the server name's profile", Ingress{ServerName: "annas-phone.dns.example"}, false, "child", "annas-phone", true, nil},
		{"listed ID overrides the host's profile", Ingress{ServerName: "office-pc.child.dns.example"}, false, "work", "office-pc", true, nil},
		{"names compare case-insensitively", Ingress{ServerName: "Annas-Phone.Child.DNS.example"}, false, "child", "annas-phone", true, nil},
		{"unknown name: no ID", Ingress{ServerName: "www.other.example"}, false, "open", "", false, nil},
		{"two labels deep: no ID", Ingress{ServerName: "a.b.dns.example"}, false, "open", "", false, nil},
		{"unknown name, address profile", Ingress{ServerName: "www.other.example", Local: netip.MustParseAddr("127.0.0.3")}, false, "child", "", false, nil},
		{"ID under the server name, address profile", Ingress{ServerName: "bob.dns.example", Local: netip.MustParseAddr("127.0.0.3")}, false, "child", "bob", false, nil},
		{"malformed ID label", Ingress{ServerName: "anna_phone.child.dns.example"}, false, "", "", false, ErrClientID},
		{"reserved label", Ingress{ServerName: "dns-query.dns.example"}, false, "", "", false, ErrClientID},
		{"path profile and path ID", Ingress{Profile: child, ClientID: "bob"}, false, "child", "bob", false, nil},
		{"path ID wins over the name's", Ingress{Profile: open, ClientID: "annas-phone", ServerName: "bob.dns.example"}, false, "child", "annas-phone", true, nil},
		{"path profile, the name's ID", Ingress{Profile: open, ServerName: "bob.child.dns.example"}, false, "open", "bob", false, nil},
		{"generic path ID, the host's profile", Ingress{ClientID: "bob", ServerName: "child.dns.example"}, false, "child", "bob", false, nil},
		{"malformed path ID", Ingress{ClientID: "a/b"}, false, "", "", false, ErrClientID},
		{"too long path ID", Ingress{ClientID: strings.Repeat("x", 64)}, false, "", "", false, ErrClientID},
		{"refuse: unlisted ID", Ingress{ServerName: "bob.child.dns.example"}, true, "", "", false, ErrUnknownClient},
		{"refuse: unlisted path ID", Ingress{ClientID: "bob"}, true, "", "", false, ErrUnknownClient},
		{"refuse: listed ID", Ingress{ServerName: "annas-phone.dns.example"}, true, "child", "annas-phone", true, nil},
		{"refuse: no ID at all", Ingress{ServerName: "child.dns.example"}, true, "child", "", false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := accept
			if tt.refuse {
				r = refuse
			}
			got, err := r.Identify(tt.in)
			if !errors.Is(err, tt.err) {
				t.Fatalf("error %v, want %v", err, tt.err)
			}
			if err != nil {
				return
			}
			if got.Profile.Name != tt.profile || got.ID != tt.id || got.Listed != tt.listed {
				t.Fatalf("got profile %s, ID %q, listed %v; want %s, %q, %v", got.Profile.Name, got.ID, got.Listed, tt.profile, tt.id, tt.listed)
			}
		})
	}
}

// TestSetClientsKeepsTheLastGoodTable: a table naming an unknown profile
// or a malformed ID is refused, and the one before stays in force.
func TestSetClientsKeepsTheLastGoodTable(t *testing.T) {
	r := clientProfiles(t, false)
	for _, bad := range []ClientsConfig{
		{Profiles: map[string]string{"bob": "nope"}, RefuseUnknown: true},
		{Profiles: map[string]string{"Bob": "child"}, RefuseUnknown: true},
		{Profiles: map[string]string{"resolve": "child"}, RefuseUnknown: true},
	} {
		if err := r.SetClients(bad); err == nil {
			t.Fatalf("SetClients(%v) accepted", bad)
		}
	}
	got, err := r.Identify(Ingress{ServerName: "annas-phone.dns.example"})
	if err != nil || got.Profile.Name != "child" {
		t.Fatalf("the previous table is gone: %+v, %v", got, err)
	}
	if _, err := r.Identify(Ingress{ClientID: "bob"}); err != nil {
		t.Fatalf("unknown IDs are refused after a failed SetClients: %v", err)
	}
}

// FuzzIdentify: whatever a client sends as server name or path ID, Identify
// never panics, and an ID it accepts is a canonical DNS label.
func FuzzIdentify(f *testing.F) {
	for _, s := range []string{"annas-phone.dns.example", "x.child.dns.example", "dns.example", ".", "..", "a..dns.example",
		"-.dns.example", "Ä.dns.example", "a\x00.child.dns.example", strings.Repeat("a", 70) + ".dns.example"} {
		f.Add(s, "")
		f.Add("", s)
	}
	r := clientProfiles(f, false)
	f.Fuzz(func(t *testing.T, name, id string) {
		got, err := r.Identify(Ingress{ServerName: name, ClientID: id})
		if err != nil {
			if !errors.Is(err, ErrClientID) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if got.Profile == nil {
			t.Fatal("no profile")
		}
		if got.ID != "" {
			if canon, err := ParseClientID(got.ID); err != nil || canon != got.ID {
				t.Fatalf("accepted ID %q is not canonical", got.ID)
			}
		}
	})
}

// TestClientIDMetrics: dnsward_client_queries_total counts answers only
// after CountClientIDs(true), replayed ones too, with one series per listed
// ID and every unlisted ID as UnlistedClients.
func TestClientIDMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	h, err := New(Config{Upstream: upstreamFunc((&scripted{fn: aAnswer(300)}).ServeDNS), Cache: &CacheConfig{Size: 10}, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	p := &Profile{Name: "child"}
	ask := func(id string, listed bool, qid uint16) {
		req := Request{Transport: transport.DoT, Profile: p, ClientID: id, ClientListed: listed}
		if _, _, ok := h.Replay(&req, packedQuery(t, qid, "a.example.", nil), nil); !ok {
			resolvePacked(t, h, req, packedQuery(t, qid, "a.example.", nil), true)
		}
	}
	ask("annas-phone", true, 1)
	if n, _ := testutil.GatherAndCount(reg, "dnsward_client_queries_total"); n != 0 {
		t.Fatalf("%d client series before CountClientIDs(true)", n)
	}
	m.CountClientIDs(true)
	ask("annas-phone", true, 2) // replayed
	ask("annas-phone", true, 3)
	ask("bob", false, 4)
	ask("eve", false, 5)
	ask("", false, 6)
	want := `
# HELP dnsward_client_queries_total Answered queries by client ID (configured clients; (unlisted) for the rest), when metrics.client_ids is on.
# TYPE dnsward_client_queries_total counter
dnsward_client_queries_total{client_id="(unlisted)"} 2
dnsward_client_queries_total{client_id="annas-phone"} 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "dnsward_client_queries_total"); err != nil {
		t.Fatal(err)
	}
}
