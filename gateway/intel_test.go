package gateway

import (
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsward/dnsward/internal/dnstest"
	"github.com/dnsward/dnsward/internal/misptest"
	"github.com/dnsward/dnsward/resolver"
)

const mispYAML = `
listen:
  dns: ["%DNS%"]
  doh: ["%DOH%"]
  metrics: "%METRICS%"
upstreams: ["udp://%UP%"]
data_dir: %DATA%
lists:
  malware: ["%DIR%/hosts.txt"]
threat_intel:
  misp:
    - name: cert-api
      url: %MISP%
      api_key_file: %DIR%/misp.key
      ca_file: %DIR%/misp-ca.pem
      category: malware
      tags: ["tlp:white"]
      max_age: 90d
      sightings: true
  warninglists: ["%WL%"]
  refresh: 1s
  sighting_source: node-test
  sighting_interval: 1s
profiles:
  default:
    block: [malware]
`

// UUIDs of the stand-in MISP's attributes and events.
const (
	evPhish = "20ce8968-0bed-5526-acb4-1d2ae90c42d0"
	evDraft = "3ab97de6-b97e-5ae9-9508-52755856f120"
	attrBad = "10614cdf-5507-47e7-b79f-95c3cb55a5b2"
	attrObj = "c2ba7298-8f88-49b9-ad3b-45a128379934"
)

func mispAttrs(now int64, badDeleted bool) []misptest.Attr {
	white := []string{"tlp:white"}
	a := func(uuid, typ, value string, toIDS bool) misptest.Attr {
		return misptest.Attr{UUID: uuid, Type: typ, Value: value, Event: evPhish, ToIDS: toIDS, Published: true, Timestamp: now, Tags: white}
	}
	bad := a(attrBad, "domain", "bad.example", true)
	bad.Deleted = badDeleted
	obj := a(attrObj, "domain", "objdomain.example", true)
	obj.Object = "domain-ip"
	draft := a("77b8e03e-9616-4957-b161-1e1cbe5b2fe6", "domain", "draft.example", true)
	draft.Event, draft.Published = evDraft, false
	red := a("5b1e6c1a-0000-4000-8000-000000000001", "domain", "redtag.example", true)
	red.Tags = []string{"tlp:red"}
	return []misptest.Attr{
		bad, obj, draft, red,
		a("7722641a-52d3-4ae6-9f0a-11a7c423ec16", "hostname", "login.host.example", true),
		a("3da35e52-cf82-47f2-980e-701c2ac49bb4", "url", "https://urlhost.example/x/login.php", true),
		a("af8903bf-43a8-4359-be43-1454ccdde43a", "domain|ip", "dip.example|198.51.100.7", true),
		a("b4af0c83-bf05-429d-a1c4-8c7fdedf5fad", "domain", "noids.example", false),
		a("f0532dc1-1151-404b-a5bf-93b3bea01f92", "domain", "www.google.com", true), // warninglisted
	}
}

// mispGateway starts a gateway pulling srv, resolving through unbound; it
// returns its listeners' addresses by name (DNS, DOH, METRICS) and the
// file of the CA that signed its certificate.
func mispGateway(t *testing.T, srv *misptest.Server, upstream, dataDir string) (addrs map[string]string, caFile string) {
	t.Helper()
	dir := t.TempDir()
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	for name, body := range map[string]string{"hosts.txt": "listed.example\n", "misp.key": srv.Key + "\n", "misp-ca.pem": string(caPEM)} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	wl, err := filepath.Abs("../resolver/filter/testdata/misp/warninglists")
	if err != nil {
		t.Fatal(err)
	}
	yaml := strings.NewReplacer("%UP%", upstream, "%DATA%", dataDir, "%DIR%", dir, "%MISP%", srv.URL, "%WL%", wl).Replace(mispYAML)
	yaml, addrs = dnstest.FreeAddrs(t, yaml, "DNS", "DOH", "METRICS")
	g := runGateway(t, loadYAML(t, dir, yaml), nil)
	return addrs, g.CAFile()
}

// ednsQuery asks addr for name over UDP with an OPT record, so that the
// answer can carry an EDE.
func ednsQuery(t *testing.T, addr, name string, qtype uint16) *dns.Msg {
	t.Helper()
	q := new(dns.Msg)
	q.SetQuestion(name, qtype)
	q.SetEdns0(1232, false)
	resp, _, err := (&dns.Client{Timeout: 3 * time.Second}).Exchange(q, addr)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return resp
}

// checkMISPAnswer checks that name was resolved (edeText "") or blocked
// with NXDOMAIN and EDE 15 edeText.
func checkMISPAnswer(t *testing.T, resp *dns.Msg, edeText string) {
	t.Helper()
	ede, hasEDE := resolver.EDE(resp)
	switch {
	case edeText == "" && (resp.Rcode != dns.RcodeSuccess || hasEDE):
		t.Errorf("%s: rcode %s, EDE %v, want resolved", resp.Question[0].Name, dns.RcodeToString[resp.Rcode], ede)
	case edeText != "" && (resp.Rcode != dns.RcodeNameError || !hasEDE || ede.InfoCode != resolver.EDEBlocked || ede.ExtraText != edeText):
		t.Errorf("%s: rcode %s, EDE %v, want NXDOMAIN with EDE 15 %q", resp.Question[0].Name, dns.RcodeToString[resp.Rcode], ede, edeText)
	}
}

// TestMISPThroughGateway pulls a stand-in MISP over HTTPS (its own CA,
// API key from a file) and checks through the gateway (plain DNS, kdig over DoH): what
// blocks, what does not, the EDE text, sightings, a deletion, and MISP
// down — also across a restart, from the set kept in data_dir.
func TestMISPThroughGateway(t *testing.T) {
	now := time.Now().Unix()
	var local []string
	for _, n := range []string{"bad.example", "www.bad.example", "login.host.example", "other.host.example", "urlhost.example",
		"dip.example", "noids.example", "objdomain.example", "draft.example", "redtag.example", "listed.example", "www.google.com"} {
		local = append(local, n+". 300 IN A 127.0.0.40")
	}
	ub := dnstest.StartUnbound(t, local, "")
	srv := misptest.Start("s3cret-key", true, mispAttrs(now, false)...)
	defer srv.Close()
	dataDir := t.TempDir()
	addrs, caFile := mispGateway(t, srv, ub, dataDir)
	dnsAddr, metrics := addrs["DNS"], addrs["METRICS"]

	ede := "blocked: malware: cert-api event " + evPhish
	waitFor(t, "the MISP set to load", func() bool {
		return ednsQuery(t, dnsAddr, "bad.example.", dns.TypeA).Rcode == dns.RcodeNameError
	})
	tests := []struct{ name, ede string }{
		{"bad.example", ede},                   // domain
		{"www.bad.example", ede},               // domain covers subdomains
		{"login.host.example", ede},            // hostname
		{"other.host.example", ""},             // hostname is exact
		{"urlhost.example", ede},               // url host
		{"dip.example", ede},                   // domain|ip
		{"objdomain.example", ede},             // domain in a domain-ip object
		{"noids.example", ""},                  // to_ids false
		{"draft.example", ""},                  // unpublished event
		{"redtag.example", ""},                 // not one of the tags asked for
		{"www.google.com", ""},                 // warninglisted
		{"listed.example", "blocked: malware"}, // the category's hosts list, beside MISP
	}
	for _, tt := range tests {
		checkMISPAnswer(t, ednsQuery(t, dnsAddr, tt.name+".", dns.TypeA), tt.ede)
	}
	kdig := dnstest.NeedBinary(t, "kdig", "knot-dnsutils")
	for _, tt := range []struct{ name, status, ede string }{
		{"www.bad.example", "NXDOMAIN", ede}, {"other.host.example", "NOERROR", ""},
	} {
		host, port, _ := strings.Cut(addrs["DOH"], ":")
		out, err := exec.Command(kdig, "@"+host, "-p", port, "+https=/dns-query", "+tls-ca="+caFile, "+tls-hostname=localhost",
			"+edns", "+timeout=5", "+retry=0", tt.name, "A").CombinedOutput()
		m := kdigEDE.FindSubmatch(out)
		if err != nil || !strings.Contains(string(out), "status: "+tt.status) || (tt.ede == "") != (m == nil) || m != nil && string(m[2]) != tt.ede {
			t.Errorf("kdig over DoH, %s: %v, want %s with EDE %q\n%s", tt.name, err, tt.status, tt.ede, out)
		}
	}
	body := scrape(t, metrics)
	for _, want := range []string{
		`dnsward_misp_vetoed_indicators{source="cert-api",warninglist="Top 1000 website from Alexa"} 1`,
		`dnsward_misp_indicators{category="malware",source="cert-api",type="domain"} 2`,
		`dnsward_misp_indicators{category="malware",source="cert-api",type="hostname"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	// Sightings: the blocked attributes' UUIDs, type 0, the node's name,
	// nothing about the client.
	blockedAttrs := []string{attrBad, attrObj, "7722641a-52d3-4ae6-9f0a-11a7c423ec16"}
	seen := map[string]bool{}
	waitFor(t, "sightings", func() bool {
		for _, s := range srv.Sightings() {
			seen[fmt.Sprint(s["uuid"])] = true
		}
		return seen[blockedAttrs[0]] && seen[blockedAttrs[1]] && seen[blockedAttrs[2]]
	})
	for _, s := range srv.Sightings() {
		b, _ := json.Marshal(s)
		if len(s) != 4 || s["type"] != "0" || s["source"] != "node-test" || strings.Contains(string(b), "127.0.0") {
			t.Errorf("sighting %s: want exactly uuid, type 0, source node-test, timestamp", b)
		}
		if ts, _ := strconv.ParseInt(fmt.Sprint(s["timestamp"]), 10, 64); ts < now-5 {
			t.Errorf("sighting %s: timestamp", b)
		}
	}
	if seen["b4af0c83-bf05-429d-a1c4-8c7fdedf5fad"] || seen["f0532dc1-1151-404b-a5bf-93b3bea01f92"] {
		t.Error("a sighting of an attribute that blocked nothing")
	}
	if srv.BadAuth() != 0 {
		t.Errorf("%d requests without the API key", srv.BadAuth())
	}

	// A deletion unblocks at the next (incremental) refresh.
	srv.Set(mispAttrs(now+1, true)...)
	waitFor(t, "the deletion to unblock bad.example", func() bool {
		return ednsQuery(t, dnsAddr, "bad.example.", dns.TypeA).Rcode == dns.RcodeSuccess
	})
	if q := srv.Queries(); len(q) < 2 || q[len(q)-1]["timestamp"] == nil || q[0]["to_ids"] != float64(1) || q[0]["published"] != float64(1) {
		t.Errorf("restSearch queries %v: want a full pull (to_ids, published) then incremental ones (timestamp)", q)
	}

	// MISP down: the last good set keeps blocking, here and after a restart.
	srv.SetDown(true)
	waitFor(t, "a failed pull", func() bool {
		return strings.Contains(scrape(t, metrics), `dnsward_misp_pull_errors_total{source="cert-api",stage="download"}`)
	})
	checkMISPAnswer(t, ednsQuery(t, dnsAddr, "objdomain.example.", dns.TypeA), ede)
	restarted, _ := mispGateway(t, srv, ub, dataDir)
	checkMISPAnswer(t, ednsQuery(t, restarted["DNS"], "objdomain.example.", dns.TypeA), ede)
	checkMISPAnswer(t, ednsQuery(t, restarted["DNS"], "bad.example.", dns.TypeA), "")
}
