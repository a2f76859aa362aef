package config

import (
	"strings"
	"testing"
	"time"
)

// TestThreatIntelErrors: every threat_intel mistake is reported as
// file:line: key: problem.
func TestThreatIntelErrors(t *testing.T) {
	const base = "listen:\n  dns: [\"127.0.0.1:8053\"]\nupstreams: [udp://127.0.0.1:5300]\nthreat_intel:\n  misp:\n"
	tests := []struct{ name, yaml, want string }{
		{"feed and url", base + "    - {name: a, feed: \"https://m.example/f/\", url: \"https://m.example\", api_key_env: K, category: malware}\n",
			"c.yaml:6: threat_intel.misp[0]: set exactly one of feed (a MISP feed) and url (a MISP instance)"},
		{"bad name", base + "    - {name: \"a b\", feed: \"https://m.example/f/\", category: malware}\n",
			`c.yaml:6: threat_intel.misp[0].name: want 1-64 letters, digits, '.', '_' or '-', got "a b"`},
		{"duplicate name", base + "    - {name: a, feed: \"https://m.example/f/\", category: malware}\n    - {name: a, feed: \"https://m.example/g/\", category: malware}\n",
			`c.yaml:7: threat_intel.misp[1].name: "a" is used by two sources`},
		{"not http", base + "    - {name: a, feed: \"ftp://m.example/f/\", category: malware}\n",
			`c.yaml:6: threat_intel.misp[0].feed: expected an http(s) URL, got "ftp://m.example/f/"`},
		{"no category", base + "    - {name: a, feed: \"https://m.example/f/\"}\n",
			"c.yaml: threat_intel.misp[0].category: is required"},
		{"no key", base + "    - {name: a, url: \"https://m.example\", category: malware}\n",
			"c.yaml:6: threat_intel.misp[0].url: the REST API needs api_key_file or api_key_env"},
		{"missing key file", base + "    - {name: a, url: \"https://m.example\", api_key_file: /nonexistent/k, category: malware}\n",
			"c.yaml:6: threat_intel.misp[0].api_key_file: open /nonexistent/k: no such file or directory"},
		{"empty key env", base + "    - {name: a, url: \"https://m.example\", api_key_env: DNSWARD_TEST_UNSET_KEY, category: malware}\n",
			"c.yaml:6: threat_intel.misp[0].api_key_env: the API key is empty"},
		{"sightings on a feed", base + "    - {name: a, feed: \"https://m.example/f/\", category: malware, sightings: true}\n",
			"c.yaml:6: threat_intel.misp[0].sightings: needs url: a feed cannot take sightings"},
		{"bad max_age", base + "    - {name: a, feed: \"https://m.example/f/\", category: malware, max_age: 3 months}\n",
			`c.yaml:6: threat_intel.misp[0].max_age: expected a duration such as 30s or 24h, got "3 months"`},
		{"missing warninglist", base + "    - {name: a, feed: \"https://m.example/f/\", category: malware}\n  warninglists: [/nonexistent/wl]\n",
			"c.yaml:7: threat_intel.warninglists[0]: /nonexistent/wl does not exist"},
		{"profile blocks an unknown category", base + "    - {name: a, feed: \"https://m.example/f/\", category: malware}\nprofiles: {p: {block: [threats]}}\n",
			`profiles.p.block[0]: list category "threats" is not defined under lists or threat_intel.misp (defined: malware)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("c.yaml", []byte(tt.yaml))
			if err == nil {
				t.Fatal("no error")
			}
			if got := err.Error(); !strings.Contains(got, tt.want) {
				t.Fatalf("error\n  %s\nwant it to contain\n  %s", got, tt.want)
			}
		})
	}
}

// TestThreatIntelDefaults: a MISP category can be blocked without a lists
// entry, max_age takes days, and the defaults are filled in.
func TestThreatIntelDefaults(t *testing.T) {
	cfg, err := Parse("c.yaml", []byte(`listen: {dns: ["127.0.0.1:8053"]}
upstreams: [udp://127.0.0.1:5300]
server_name: node1.example
threat_intel:
  misp: [{name: a, feed: "https://m.example/f/", category: malware, max_age: 90d}]
profiles: {p: {block: [malware]}}
`))
	if err != nil {
		t.Fatal(err)
	}
	ti := cfg.ThreatIntel
	if ti.MISP[0].MaxAge.Std() != 90*24*time.Hour || ti.Refresh.Std() != 10*time.Minute ||
		ti.SightingInterval.Std() != 5*time.Minute || ti.SightingSource != "node1.example" {
		t.Errorf("threat_intel %+v", ti)
	}
}
