package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// TestCheckExplain: --explain NAME says which indicators of the MISP sets
// kept in data_dir match NAME, and whether a warninglist vetoes them.
func TestCheckExplain(t *testing.T) {
	t.Chdir(t.TempDir())
	if err := os.MkdirAll("data/lists", 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, "c.yaml", `listen: {dns: ["127.0.0.1:8053"]}
upstreams: [udp://127.0.0.1:5300]
data_dir: data
threat_intel:
  misp: [{name: cert-feed, feed: "https://misp.example/feed/", category: malware}]
  warninglists: [popular.json]
profiles: {default: {block: [malware]}}
`)
	writeFile(t, "popular.json", `{"name": "Popular", "type": "hostname", "list": ["popular.example"], "matching_attributes": ["domain", "hostname"]}`)
	// The set as the last good pull left it: its state, then one indicator a line.
	writeFile(t, "data/lists/misp-cert-feed.json", `{"etag": "\"v1\""}
{"a": "10614cdf-5507-47e7-b79f-95c3cb55a5b2", "e": "20ce8968-0bed-5526-acb4-1d2ae90c42d0", "t": "domain", "n": "bad.example", "ts": 4102444800}
{"a": "7722641a-52d3-4ae6-9f0a-11a7c423ec16", "e": "20ce8968-0bed-5526-acb4-1d2ae90c42d0", "t": "hostname", "n": "www.popular.example", "ts": 4102444800}
`)
	tests := []struct{ name, want string }{
		{"www.bad.example", "cert-feed: domain bad.example (attribute 10614cdf-5507-47e7-b79f-95c3cb55a5b2, event 20ce8968-0bed-5526-acb4-1d2ae90c42d0): blocks in category malware"},
		{"www.popular.example", `cert-feed: hostname www.popular.example (attribute 7722641a-52d3-4ae6-9f0a-11a7c423ec16, event 20ce8968-0bed-5526-acb4-1d2ae90c42d0): not blocked: warninglist "Popular" matches it`},
		{"sub.www.popular.example", "no MISP indicator kept in data/lists matches sub.www.popular.example"}, // hostname is exact
	}
	for _, tt := range tests {
		var out, errOut bytes.Buffer
		if code := run([]string{"check", "--config", "c.yaml", "--explain", tt.name}, &out, &errOut); code != 0 {
			t.Fatalf("exit %d: %s", code, errOut.String())
		}
		if want := "\n  misp     " + tt.want + "\n"; !strings.HasSuffix(out.String(), want) {
			t.Errorf("output ends\n%s\nwant\n%s", out.String(), want)
		}
	}
}
