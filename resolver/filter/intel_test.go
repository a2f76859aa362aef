package filter

import (
	"bufio"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/dnsward/dnsward/resolver"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// refData is the reference data made by PyMISP (see testdata/misp/README.md).
const refData = "testdata/misp/"

// expected reads EXPECTED.tsv: name → whether it is blocked.
func expected(t *testing.T) map[string]bool {
	t.Helper()
	f, err := os.Open(refData + "EXPECTED.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, outcome, _ := strings.Cut(sc.Text(), "\t")
		want[name] = strings.HasPrefix(outcome, "blocked")
	}
	if len(want) < 10 {
		t.Fatalf("EXPECTED.tsv has %d names", len(want))
	}
	return want
}

// intelManager runs a manager with one MISP source and the reference
// warninglists, pulled once.
func intelManager(t *testing.T, src MISPSource, reg prometheus.Registerer) *Manager {
	t.Helper()
	m, err := NewManager(ManagerConfig{
		DataDir: t.TempDir(), Metrics: reg,
		ThreatIntel: ThreatIntelConfig{MISP: []MISPSource{src}, Warninglists: []string{refData + "warninglists"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Reload(); err != nil {
		t.Fatal(err)
	}
	if err := m.RefreshIntel(context.Background()); err != nil {
		t.Fatal(err)
	}
	return m
}

// checkExpected asks the malware policy about every name of EXPECTED.tsv.
func checkExpected(t *testing.T, m *Manager, source string) {
	t.Helper()
	pol, err := m.Policy(PolicyConfig{Block: []string{"malware"}})
	if err != nil {
		t.Fatal(err)
	}
	for name, blocked := range expected(t) {
		v := pol.Check(name, 1)
		if got := v.Action == resolver.ActionBlock; got != blocked {
			t.Errorf("%s: blocked %v, want %v", name, got, blocked)
		}
	}
	v := pol.Check("www.phish.example.misp.test", 1)
	if want := source + " event 20ce8968-0bed-5526-acb4-1d2ae90c42d0"; v.Category != "malware" || v.Detail != want {
		t.Errorf("verdict %+v, want category malware, detail %q", v, want)
	}
}

// TestMISPReferenceFeed pulls the feed PyMISP wrote and checks every name
// of EXPECTED.tsv, and that the warninglisted indicator is counted.
func TestMISPReferenceFeed(t *testing.T) {
	srv := httptest.NewServer(http.StripPrefix("/feed/", http.FileServer(http.Dir(refData+"feed"))))
	defer srv.Close()
	reg := prometheus.NewRegistry()
	m := intelManager(t, MISPSource{Name: "cert-feed", Feed: srv.URL + "/feed/", Category: "malware"}, reg)
	checkExpected(t, m, "cert-feed")
	if got := testutil.ToFloat64(m.imetrics.vetoed.WithLabelValues("cert-feed", "Top 1000 website from Alexa")); got != 1 {
		t.Errorf("vetoed by the first matching list, alexa: %v, want 1", got) // www.google.com
	}
	if got := testutil.ToFloat64(m.imetrics.indicators.WithLabelValues("cert-feed", "malware", "domain")); got != 2 {
		t.Errorf("domain indicators %v, want 2 (phish, objdomain)", got)
	}
}

// TestMISPReferenceRestSearch answers restSearch with the body PyMISP
// wrote (which holds the unpublished event's attribute) and checks every
// name of EXPECTED.tsv and the request dnsward sent.
func TestMISPReferenceRestSearch(t *testing.T) {
	body, err := os.ReadFile(refData + "restsearch.json")
	if err != nil {
		t.Fatal(err)
	}
	var auth, ctype string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/attributes/restSearch" {
			http.NotFound(w, r)
			return
		}
		auth, ctype = r.Header.Get("Authorization"), r.Header.Get("Content-Type")
		w.Write(body)
	}))
	defer srv.Close()
	m := intelManager(t, MISPSource{Name: "cert-api", URL: srv.URL, APIKey: "k3y", Category: "malware"}, nil)
	if auth != "k3y" || ctype != "application/json" {
		t.Errorf("Authorization %q, Content-Type %q", auth, ctype)
	}
	checkExpected(t, m, "cert-api")
}

// TestWarninglistTypes checks each match type on the reference lists.
func TestWarninglistTypes(t *testing.T) {
	lists, err := loadWarninglists([]string{refData + "warninglists"})
	if err != nil {
		t.Fatal(err)
	}
	if len(lists) != 4 {
		t.Fatalf("%d lists, want 4", len(lists))
	}
	byType := map[string]*warninglist{}
	for _, w := range lists {
		byType[w.Type] = w
	}
	tests := []struct {
		list string
		in   indicator
		want bool
	}{
		{"string", indicator{Type: "domain", Name: "www.google.com"}, true},
		{"string", indicator{Type: "domain", Name: "mail.google.co.ao"}, false}, // exact only
		{"string", indicator{Type: "url", Name: "x.test", Value: "drive.google.com"}, true},
		{"hostname", indicator{Type: "hostname", Name: "deep.sub.wikipedia.org"}, true}, // parents
		{"hostname", indicator{Type: "hostname", Name: "wikipedia.org.evil.test"}, false},
		{"substring", indicator{Type: "domain", Name: "x.virustotal.com.evil.test"}, true},
		{"substring", indicator{Type: "domain", Name: "evil.test"}, false},
		{"cidr", indicator{Type: "domain|ip", Name: "mx.evil.test", IP: "209.85.128.5"}, true},
		{"cidr", indicator{Type: "domain|ip", Name: "mx.evil.test", IP: "198.51.100.1"}, false},
		{"cidr", indicator{Type: "domain", Name: "evil.test", IP: "209.85.128.5"}, false}, // matching_attributes
	}
	for _, tt := range tests {
		if got := byType[tt.list].matches(tt.in); got != tt.want {
			t.Errorf("%s list, %+v: %v, want %v", tt.list, tt.in, got, tt.want)
		}
	}
}
