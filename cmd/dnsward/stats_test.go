package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsward/dnsward/querystats"
)

// TestStats sends queries (some blocked) to a gateway with query_log and
// reads them back through `dnsward stats`, as JSON and as tables.
func TestStats(t *testing.T) {
	lists := filepath.Join(t.TempDir(), "ads.hosts")
	if err := os.WriteFile(lists, []byte("0.0.0.0 ads.example\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dnsAddr, metricsAddr := startGateway(t, `
listen: {dns: ["%DNS%"], metrics: "%METRICS%"}
upstreams: [udp://%UPSTREAM%]
lists: {ads: [`+lists+`]}
profiles:
  family: {block: [ads]}
query_log: {}
`)
	c := &dns.Client{Timeout: time.Second}
	for i, name := range []string{"a.localhost.", "a.localhost.", "a.localhost.", "b.localhost.", "ads.example.", "ads.example."} {
		q := new(dns.Msg)
		q.SetQuestion(name, dns.TypeA)
		q.Id = uint16(i)
		if _, _, err := c.Exchange(q, dnsAddr); err != nil {
			t.Fatal(err)
		}
	}
	var rep querystats.Report
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var out, errOut bytes.Buffer
		if code := run([]string{"stats", "--metrics", metricsAddr, "--json", "--top", "2"}, &out, &errOut); code != 0 {
			t.Fatalf("exit %d: %s", code, errOut.String())
		}
		rep = querystats.Report{}
		if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
			t.Fatalf("%v: %s", err, out.String())
		}
		if len(rep.Queries) == 1 && rep.Queries[0].Queries == 6 || time.Now().After(deadline) {
			break
		}
	}
	if len(rep.Queries) != 1 || rep.Queries[0] != (querystats.QueryCount{Transport: "udp", Profile: "family", Queries: 6}) {
		t.Fatalf("queries %+v, want 6 on udp for family", rep.Queries)
	}
	if len(rep.TopQueried) != 1 || len(rep.TopQueried[0].Names) != 2 || rep.TopQueried[0].Names[0] != (querystats.Count{Name: "a.localhost.", Count: 3}) {
		t.Fatalf("top queried %+v", rep.TopQueried)
	}
	if len(rep.TopBlocked) != 1 || rep.TopBlocked[0].Category != "ads" || rep.TopBlocked[0].Names[0] != (querystats.Count{Name: "ads.example.", Count: 2}) {
		t.Fatalf("top blocked %+v", rep.TopBlocked)
	}
	if rep.DistinctClients != 1 {
		t.Fatalf("distinct clients %d, want 1", rep.DistinctClients)
	}
	var out, errOut bytes.Buffer
	if code := run([]string{"stats", "--metrics", metricsAddr}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	for _, want := range []string{`about 1 distinct clients`, `\budp\s+family\s+6\n`, `TOP BLOCKED \(family, ads\)\s+COUNT\nads\.example\.\s+2\n`} {
		if !regexp.MustCompile(want).MatchString(out.String()) {
			t.Errorf("table lacks %s:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "127.0.0.1") {
		t.Errorf("the table names the client:\n%s", out.String())
	}
}

// TestStatsClientIDs: the table lists the client IDs with the most queries
// and the most blocked answers, and nothing about them when there are none.
func TestStatsClientIDs(t *testing.T) {
	var out bytes.Buffer
	printStats(&out, &querystats.Report{
		TopClients:        []querystats.Count{{Name: "annas-phone", Count: 7}, {Name: "office-pc", Count: 2}},
		TopBlockedClients: []querystats.Count{{Name: "annas-phone", Count: 3}},
	})
	for _, want := range []string{`TOP CLIENT IDS\s+QUERIES\nannas-phone\s+7\noffice-pc\s+2\n`, `TOP CLIENT IDS BLOCKED\s+BLOCKED\nannas-phone\s+3\n`} {
		if !regexp.MustCompile(want).MatchString(out.String()) {
			t.Errorf("table lacks %s:\n%s", want, out.String())
		}
	}
	out.Reset()
	printStats(&out, &querystats.Report{})
	if strings.Contains(out.String(), "CLIENT IDS") {
		t.Errorf("client-ID tables without client IDs:\n%s", out.String())
	}
}
