package gateway

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dnsward/dnsward/internal/transport"

	"github.com/miekg/dns"
	"golang.org/x/net/idna"

	"github.com/dnsward/dnsward/bench/listgen/names"
	"github.com/dnsward/dnsward/gateway/config"
	"github.com/dnsward/dnsward/internal/dnstest"
	"github.com/dnsward/dnsward/resolver"
)

// profilesYAML is the example configuration (lists and profiles),
// with every profile also reachable by a local address. %P% is the plain DNS
// port shared by all six addresses, %UP% the upstream, %LIST% the remote
// list server, %DATA% the data directory, %TESTDATA% this package's
// testdata folder (the configuration file is written elsewhere).
const profilesYAML = `
listen:
  dns: ["127.0.0.1:%P%", "127.0.0.2:%P%", "127.0.0.3:%P%", "127.0.0.4:%P%", "127.0.0.5:%P%", "127.0.0.6:%P%"]
  metrics: "%METRICS%"
upstreams: [udp://%UP%]
data_dir: "%DATA%"
list_refresh: 100ms
lists:
  malware: ["%TESTDATA%/malware.hosts"]
  ads: ["%TESTDATA%/ads.txt", "%LIST%/ads.txt"]
  adult: ["%TESTDATA%/adult.rpz"]
default_profile: unfiltered
profiles:
  unfiltered: {paths: ["/dns-query"], addrs: ["127.0.0.6"]}
  protective: {paths: ["/protective"], hosts: ["protective.dns.example.org"], addrs: ["127.0.0.2"], block: [malware]}
  noads:      {paths: ["/ads", "/noads"], hosts: ["noads.dns.example.org"], addrs: ["127.0.0.4"], block: [malware, ads]}
  child:      {paths: ["/child"], hosts: ["child.dns.example.org"], addrs: ["127.0.0.3"],
               block: [malware, adult], safe_search: true}
  child-noads: {paths: ["/child-ads"], addrs: ["127.0.0.5"], block: [malware, ads, adult], safe_search: true,
                allow: ["allowed.example"], deny: ["extra-blocked.example"], blocked_answer: null_ip, blocked_ttl: 2m}
`

// blockedTTL is each profile's blocked_ttl in profilesYAML, in seconds.
func blockedTTL(profile string) uint32 {
	if profile == "child-noads" {
		return 120
	}
	return resolver.DefaultBlockedTTL
}

// profileAddr is the local address that selects each profile; "default"
// is an address no profile claims.
var profileAddr = map[string]string{
	"default": "127.0.0.1", "protective": "127.0.0.2", "child": "127.0.0.3",
	"noads": "127.0.0.4", "child-noads": "127.0.0.5", "unfiltered": "127.0.0.6",
}

// upstreamZone answers every test name, so that only the policy decides
// what a profile blocks.
var upstreamZone = []string{
	"www.example.org. 300 IN A 127.0.0.30",
	"malware.example. 300 IN A 127.0.0.11",
	"sub.malware.example. 300 IN A 127.0.0.11",
	"dropper.example. 300 IN A 127.0.0.11",
	"crlf-malware.example. 300 IN A 127.0.0.11",
	"allowed.example. 300 IN A 127.0.0.12",
	"ads.example. 300 IN A 127.0.0.13",
	"x.doubleclick.example. 300 IN A 127.0.0.13",
	"doubleclick.example. 300 IN A 127.0.0.14",
	"tracker.cdn.example. 300 IN A 127.0.0.13",
	"cdn.example. 300 IN A 127.0.0.15",
	"adult.example. 300 IN A 127.0.0.16",
	"www.adult.example. 300 IN A 127.0.0.16",
	"nodata-adult.example. 300 IN A 127.0.0.16",
	"safe.adult.example. 300 IN A 127.0.0.17",
	"dropped-adult.example. 300 IN A 127.0.0.16",
	"adult-landing.example. 300 IN A 127.0.0.18",
	"extra-blocked.example. 300 IN A 127.0.0.19",
	"www.google.com. 300 IN A 127.0.0.20",
	"forcesafesearch.google.com. 300 IN A 127.0.0.21",
	"www.bing.com. 300 IN A 127.0.0.24",
	"strict.bing.com. 300 IN A 127.0.0.25",
	"cloaked.example. 300 IN CNAME x.doubleclick.example.",
	"cloaked-malware.example. 300 IN CNAME cdn.malware.example.",
	"remote-ad.example. 300 IN A 127.0.0.22",
	"remote-ad2.example. 300 IN A 127.0.0.23",
}

// listServer serves one remote list with an ETag, answers 304 to a matching
// If-None-Match, and can be made to fail with 500.
type listServer struct {
	*httptest.Server
	mu       sync.Mutex
	body     string
	version  int
	fail     bool
	statuses map[int]int // responses sent, by status
}

func startListServer(t *testing.T, body string) *listServer {
	t.Helper()
	ls := &listServer{body: body, version: 1, statuses: map[int]int{}}
	ls.Server = httptest.NewServer(http.HandlerFunc(ls.serve))
	t.Cleanup(ls.Close)
	return ls
}

func (ls *listServer) serve(w http.ResponseWriter, r *http.Request) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	etag := fmt.Sprintf(`"v%d"`, ls.version)
	status := http.StatusOK
	switch {
	case ls.fail:
		status = http.StatusInternalServerError
	case r.Header.Get("If-None-Match") == etag:
		status = http.StatusNotModified
	}
	ls.statuses[status]++
	if status == http.StatusOK {
		w.Header().Set("ETag", etag)
	}
	w.WriteHeader(status)
	if status == http.StatusOK {
		io.WriteString(w, ls.body)
	}
}

// set replaces the list (a new version and ETag) or, with fail, makes every
// request fail.
func (ls *listServer) set(body string, fail bool) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if body != ls.body {
		ls.body, ls.version = body, ls.version+1
	}
	ls.fail = fail
}

func (ls *listServer) count(status int) int {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	return ls.statuses[status]
}

// profileGateway is the example configuration running on loopback.
type profileGateway struct {
	port    int
	metrics string
}

func startProfileGateway(t *testing.T, list *listServer, dataDir string) *profileGateway {
	t.Helper()
	auth := dnstest.StartAuthority(t, upstreamZone, nil)
	port := dnstest.FreePort(t)
	testdata, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	yaml := strings.NewReplacer("%P%", strconv.Itoa(port), "%UP%", auth.Addr, "%LIST%", list.URL,
		"%DATA%", dataDir, "%TESTDATA%", testdata).Replace(profilesYAML)
	_, metrics := startGateway(t, yaml)
	// The gateway serves even when lists fail to load; these tests need them.
	body := scrape(t, metrics)
	for _, cat := range []string{"malware", "ads", "adult"} {
		if !regexp.MustCompile(`(?m)^dnsward_filter_list_entries\{category="` + cat + `"\} [1-9]`).MatchString(body) {
			t.Fatalf("the %s list did not load:\n%s", cat, body)
		}
	}
	return &profileGateway{port: port, metrics: metrics}
}

// addr is where the profile is reached.
func (pg *profileGateway) addr(profile string) string {
	return fmt.Sprintf("%s:%d", profileAddr[profile], pg.port)
}

// query sends name over UDP to the profile's address, with an OPT record
// unless noEDNS.
func (pg *profileGateway) query(t *testing.T, profile, name string, qtype uint16, noEDNS bool) *dns.Msg {
	t.Helper()
	q := new(dns.Msg)
	q.SetQuestion(dns.Fqdn(name), qtype)
	if !noEDNS {
		q.SetEdns0(1232, false)
	}
	resp, _, err := (&dns.Client{Timeout: 3 * time.Second}).Exchange(q, pg.addr(profile))
	if err != nil {
		t.Fatalf("%s %s: %v", profile, name, err)
	}
	return resp
}

// waitRcode queries until name gets rcode on profile, for up to 10 s.
func (pg *profileGateway) waitRcode(t *testing.T, profile, name string, rcode int) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%s to answer %s with %s", profile, name, dns.RcodeToString[rcode]), func() bool {
		return pg.query(t, profile, name, dns.TypeA, false).Rcode == rcode
	})
}

// answerWant is the expected answer to one query.
type answerWant struct {
	rcode int
	cname string // first answer record is a CNAME to this target
	ip    string // the A/AAAA answer; "" for none
	ede   uint16 // 0: no Extended DNS Error
	text  string // the EDE's extra text
	// synth: the block made the answer, so its address records and, for
	// NXDOMAIN and NODATA, the SOA that lets caches keep it (RFC 2308) have
	// the profile's blocked TTL; check tests that when ttl is set.
	synth bool
	ttl   uint32
}

func answered(ip string) answerWant { return answerWant{rcode: dns.RcodeSuccess, ip: ip} }

func blockedWith(rcode int, ip string, ede uint16, text string) answerWant {
	return answerWant{rcode: rcode, ip: ip, ede: ede, text: text, synth: true}
}

// localData is an RPZ local-data answer: the zone's TTL, not the profile's.
func localData(ip string) answerWant {
	return answerWant{rcode: dns.RcodeSuccess, ip: ip, ede: resolver.EDEFiltered, text: "filtered: adult"}
}

var (
	nxMalware = blockedWith(dns.RcodeNameError, "", resolver.EDEBlocked, "blocked: malware")
	nxAds     = blockedWith(dns.RcodeNameError, "", resolver.EDEFiltered, "filtered: ads")
	nxAdult   = blockedWith(dns.RcodeNameError, "", resolver.EDEFiltered, "filtered: adult")
)

// nullIP is child-noads' blocked answer: 0.0.0.0 with EDE 15 for malware,
// 17 for the rest.
func nullIP(text string) answerWant {
	code := uint16(resolver.EDEFiltered)
	if text == nxMalware.text {
		code = resolver.EDEBlocked
	}
	return blockedWith(dns.RcodeSuccess, "0.0.0.0", code, text)
}

// check compares resp with w.
func (w answerWant) check(t *testing.T, resp *dns.Msg) {
	t.Helper()
	if resp.Rcode != w.rcode {
		t.Errorf("rcode %s, want %s", dns.RcodeToString[resp.Rcode], dns.RcodeToString[w.rcode])
	}
	var cname, ip string
	for _, rr := range resp.Answer {
		switch rr := rr.(type) {
		case *dns.CNAME:
			if cname == "" {
				cname = rr.Target
			}
		case *dns.A:
			ip = rr.A.String()
		case *dns.AAAA:
			ip = rr.AAAA.String()
		}
	}
	if cname != w.cname || ip != w.ip {
		t.Errorf("answer cname %q ip %q, want %q %q: %v", cname, ip, w.cname, w.ip, resp.Answer)
	}
	if w.ttl != 0 {
		w.checkTTL(t, resp)
	}
	ede, ok := resolver.EDE(resp)
	switch {
	case w.ede == 0 && ok:
		t.Errorf("unexpected EDE %d %q", ede.InfoCode, ede.ExtraText)
	case w.ede != 0 && !ok:
		t.Errorf("no EDE, want %d %q", w.ede, w.text)
	case ok && (ede.InfoCode != w.ede || ede.ExtraText != w.text):
		t.Errorf("EDE %d %q, want %d %q", ede.InfoCode, ede.ExtraText, w.ede, w.text)
	}
}

// checkTTL checks that the records of a blocked answer have TTL w.ttl and
// that a negative one carries an SOA for the query name whose TTL and
// MINIMUM are w.ttl.
func (w answerWant) checkTTL(t *testing.T, resp *dns.Msg) {
	t.Helper()
	for _, rr := range resp.Answer {
		if rr.Header().Ttl != w.ttl {
			t.Errorf("TTL %d, want %d: %v", rr.Header().Ttl, w.ttl, rr)
		}
	}
	if len(resp.Answer) > 0 {
		return
	}
	if len(resp.Ns) != 1 {
		t.Fatalf("authority %v, want one SOA", resp.Ns)
	}
	soa, ok := resp.Ns[0].(*dns.SOA)
	if !ok || !strings.EqualFold(soa.Hdr.Name, resp.Question[0].Name) || soa.Hdr.Ttl != w.ttl || soa.Minttl != w.ttl {
		t.Errorf("authority %v, want an SOA for %s with TTL and MINIMUM %d", resp.Ns[0], resp.Question[0].Name, w.ttl)
	}
}

// TestProfilesEndToEnd queries every profile through its local address over
// plain DNS with the example lists and checks RCODE, answer and EDE.
func TestProfilesEndToEnd(t *testing.T) {
	list := startListServer(t, "remote-ad.example\n")
	pg := startProfileGateway(t, list, t.TempDir())
	pg.waitRcode(t, "noads", "remote-ad.example", dns.RcodeNameError) // the first refresh is in

	idn, err := idna.Lookup.ToASCII("bücher-malware.example")
	if err != nil {
		t.Fatal(err)
	}
	safeGoogle := answerWant{rcode: dns.RcodeSuccess, cname: "forcesafesearch.google.com.", ip: "127.0.0.21"}
	tests := []struct {
		profile, name string
		qtype         uint16
		noEDNS        bool
		want          answerWant
	}{
		{"unfiltered", "www.example.org", dns.TypeA, false, answered("127.0.0.30")},
		{"unfiltered", "malware.example", dns.TypeA, false, answered("127.0.0.11")},
		{"unfiltered", "ads.example", dns.TypeA, false, answered("127.0.0.13")},
		{"unfiltered", "adult.example", dns.TypeA, false, answered("127.0.0.16")},
		{"unfiltered", "www.google.com", dns.TypeA, false, answered("127.0.0.20")},
		{"unfiltered", "cloaked.example", dns.TypeA, false, answerWant{rcode: dns.RcodeSuccess, cname: "x.doubleclick.example."}},
		{"default", "malware.example", dns.TypeA, false, answered("127.0.0.11")},
		{"default", "extra-blocked.example", dns.TypeA, false, answered("127.0.0.19")},

		{"protective", "www.example.org", dns.TypeA, false, answered("127.0.0.30")},
		{"protective", "malware.example", dns.TypeA, false, nxMalware},
		{"protective", "sub.malware.example", dns.TypeA, false, nxMalware},                                     // a parent entry covers its subtree
		{"protective", "MALWARE.Example", dns.TypeA, false, nxMalware},                                         // case-insensitive
		{"protective", "crlf-malware.example", dns.TypeA, false, nxMalware},                                    // CRLF line, trailing dot
		{"protective", idn, dns.TypeA, false, nxMalware},                                                       // Unicode name in the list
		{"protective", "allowed.example", dns.TypeA, false, nxMalware},                                         // allowed only by child-noads
		{"protective", "ads.example", dns.TypeA, false, answered("127.0.0.13")},                                // ads not chosen
		{"protective", "cloaked-malware.example", dns.TypeA, false, nxMalware},                                 // CNAME uncloaking
		{"protective", "malware.example", dns.TypeA, true, answerWant{rcode: dns.RcodeNameError, synth: true}}, // no OPT, no EDE

		{"noads", "malware.example", dns.TypeA, false, nxMalware},
		{"noads", "ads.example", dns.TypeA, false, nxAds},
		{"noads", "x.doubleclick.example", dns.TypeA, false, nxAds},                // *.doubleclick.example
		{"noads", "doubleclick.example", dns.TypeA, false, answered("127.0.0.14")}, // … but not the name itself
		{"noads", "tracker.cdn.example", dns.TypeA, false, nxAds},
		{"noads", "cdn.example", dns.TypeA, false, answered("127.0.0.15")},
		{"noads", "remote-ad.example", dns.TypeA, false, nxAds}, // from the remote list
		{"noads", "cloaked.example", dns.TypeA, false, nxAds},   // CNAME to a blocked name
		{"noads", "adult.example", dns.TypeA, false, answered("127.0.0.16")},
		{"noads", "www.google.com", dns.TypeA, false, answered("127.0.0.20")},

		{"child", "malware.example", dns.TypeA, false, nxMalware},
		{"child", "dropper.example", dns.TypeA, false, nxMalware}, // second name of a hosts line
		{"child", "ads.example", dns.TypeA, false, answered("127.0.0.13")},
		{"child", "adult.example", dns.TypeA, false, nxAdult},
		{"child", "www.adult.example", dns.TypeA, false, nxAdult},
		{"child", "nodata-adult.example", dns.TypeA, false, blockedWith(dns.RcodeSuccess, "", resolver.EDEFiltered, "filtered: adult")},
		{"child", "safe.adult.example", dns.TypeA, false, answered("127.0.0.17")}, // rpz-passthru
		{"child", "dropped-adult.example", dns.TypeA, false, nxAdult},             // rpz-drop: the profile's answer
		{"child", "adult-landing.example", dns.TypeA, false, localData("127.0.0.99")},
		{"child", "www.google.com", dns.TypeA, false, safeGoogle},
		{"child", "www.bing.com", dns.TypeA, false, answerWant{rcode: dns.RcodeSuccess, cname: "strict.bing.com.", ip: "127.0.0.25"}},
		{"child", "www.example.org", dns.TypeA, false, answered("127.0.0.30")},

		{"child-noads", "malware.example", dns.TypeA, false, nullIP("blocked: malware")},
		{"child-noads", "ads.example", dns.TypeA, false, nullIP("filtered: ads")},
		{"child-noads", "ads.example", dns.TypeAAAA, false, blockedWith(dns.RcodeSuccess, "::", resolver.EDEFiltered, "filtered: ads")},
		{"child-noads", "ads.example", dns.TypeA, true, answerWant{rcode: dns.RcodeSuccess, ip: "0.0.0.0", synth: true}},            // no OPT, no EDE
		{"child-noads", "ads.example", dns.TypeMX, false, blockedWith(dns.RcodeSuccess, "", resolver.EDEFiltered, "filtered: ads")}, // null_ip has no MX: NODATA
		{"child-noads", "dropped-adult.example", dns.TypeA, false, nullIP("filtered: adult")},
		{"child-noads", "adult.example", dns.TypeA, false, nxAdult},                  // the RPZ's own NXDOMAIN action wins
		{"child-noads", "allowed.example", dns.TypeA, false, answered("127.0.0.12")}, // allow wins over malware
		{"child-noads", "extra-blocked.example", dns.TypeA, false, nullIP("filtered: deny")},
		{"child-noads", "cloaked.example", dns.TypeA, false, nullIP("filtered: ads")},
		{"child-noads", "www.google.com", dns.TypeA, false, safeGoogle},
		{"child-noads", "www.example.org", dns.TypeA, false, answered("127.0.0.30")},
	}
	for _, tt := range tests {
		edns := ""
		if tt.noEDNS {
			edns = " no-edns"
		}
		t.Run(fmt.Sprintf("%s/%s/%s%s", tt.profile, tt.name, dns.TypeToString[tt.qtype], edns), func(t *testing.T) {
			want := tt.want
			if want.synth {
				want.ttl = blockedTTL(tt.profile)
			}
			want.check(t, pg.query(t, tt.profile, tt.name, tt.qtype, tt.noEDNS))
		})
	}

	body := scrape(t, pg.metrics)
	for _, series := range []string{
		`dnsward_policy_blocked_total{category="malware",profile="protective"}`,
		`dnsward_policy_blocked_total{category="ads",profile="noads"}`,
		`dnsward_policy_blocked_total{category="deny",profile="child-noads"}`,
		`dnsward_policy_rewrites_total{profile="child"}`,
		`dnsward_filter_list_entries{category="adult"}`,
	} {
		if !strings.Contains(body, series) {
			t.Errorf("/metrics lacks %s", series)
		}
	}
}

func scrape(t *testing.T, metricsAddr string) string {
	t.Helper()
	resp, err := http.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var (
	kdigStatus = regexp.MustCompile(`status: ([A-Z]+)`)
	kdigEDE    = regexp.MustCompile(`EDE: (\d+) \([^)]*\)(?:: '([^']*)')?`)
	kdigA      = regexp.MustCompile(`(?m)^\S+\s+\d+\s+IN\s+A\s+(\S+)$`)
	kdigCNAME  = regexp.MustCompile(`(?m)^\S+\s+\d+\s+IN\s+CNAME\s+(\S+)$`)
)

// TestProfilesKdig asks the child profile (127.0.0.3) with Knot's kdig, a
// client that is not built on miekg/dns, and reads status, answer and EDE
// from its output.
func TestProfilesKdig(t *testing.T) {
	kdig := dnstest.NeedBinary(t, "kdig", "knot-dnsutils")
	list := startListServer(t, "remote-ad.example\n")
	pg := startProfileGateway(t, list, t.TempDir())
	tests := []struct {
		name string
		want answerWant
	}{
		{"www.example.org", answered("127.0.0.30")},
		{"malware.example", nxMalware},
		{"adult.example", nxAdult},
		{"adult-landing.example", localData("127.0.0.99")},
		{"ads.example", answered("127.0.0.13")},
		{"www.google.com", answerWant{rcode: dns.RcodeSuccess, cname: "forcesafesearch.google.com.", ip: "127.0.0.21"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := exec.Command(kdig, "@127.0.0.3", "-p", strconv.Itoa(pg.port), tt.name, "A", "+edns",
				"+time=3", "+retry=0").CombinedOutput()
			if err != nil {
				t.Fatalf("kdig: %v\n%s", err, out)
			}
			got := answerWant{rcode: -1}
			if m := kdigStatus.FindSubmatch(out); m != nil {
				got.rcode = dns.StringToRcode[string(m[1])]
			}
			if m := kdigEDE.FindSubmatch(out); m != nil {
				code, _ := strconv.Atoi(string(m[1]))
				got.ede, got.text = uint16(code), string(m[2])
			}
			if m := kdigA.FindSubmatch(out); m != nil {
				got.ip = string(m[1])
			}
			if m := kdigCNAME.FindSubmatch(out); m != nil {
				got.cname = string(m[1])
			}
			want := tt.want
			want.synth = false // TTLs are TestProfilesEndToEnd's to check
			if got != want {
				t.Errorf("kdig says %+v, want %+v\n%s", got, want, out)
			}
		})
	}
}

// TestRemoteListRefresh serves the ads list over HTTP: it is fetched with
// an ETag, refreshed when it changes, and when the server fails the last
// good version keeps blocking — also for a gateway that starts while the
// server is down, from the copy in the data directory.
func TestRemoteListRefresh(t *testing.T) {
	list := startListServer(t, "remote-ad.example\n")
	dataDir := t.TempDir()
	pg := startProfileGateway(t, list, dataDir)
	pg.waitRcode(t, "noads", "remote-ad.example", dns.RcodeNameError)
	nxAds.check(t, pg.query(t, "noads", "remote-ad.example", dns.TypeA, false))
	waitFor(t, "a conditional request answered 304", func() bool { return list.count(http.StatusNotModified) > 0 })

	list.set("remote-ad2.example\n", false)
	pg.waitRcode(t, "noads", "remote-ad2.example", dns.RcodeNameError)
	answered("127.0.0.22").check(t, pg.query(t, "noads", "remote-ad.example", dns.TypeA, false)) // dropped from v2

	list.set("remote-ad2.example\n", true)
	failed := list.count(http.StatusInternalServerError)
	waitFor(t, "three failed refreshes", func() bool { return list.count(http.StatusInternalServerError) >= failed+3 })
	nxAds.check(t, pg.query(t, "noads", "remote-ad2.example", dns.TypeA, false))
	nxAds.check(t, pg.query(t, "noads", "ads.example", dns.TypeA, false)) // the local list of the category too
	if body := scrape(t, pg.metrics); !strings.Contains(body, `dnsward_filter_list_errors_total{category="ads",stage="download"}`) {
		t.Error("/metrics lacks the download errors of the ads list")
	}

	restarted := startProfileGateway(t, list, dataDir) // the server still fails
	nxAds.check(t, restarted.query(t, "noads", "remote-ad2.example", dns.TypeA, false))
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestExampleProfilesLists builds examples/profiles.yaml and loads its local
// lists: every path in it resolves against the example's folder and every
// category has entries.
func TestExampleProfilesLists(t *testing.T) {
	cfg, err := config.Load("../examples/profiles.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg.DataDir = t.TempDir()
	g, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.closeAll() })
	if err := g.lists.Reload(); err != nil { // local files and remote copies; nothing is downloaded
		t.Fatal(err)
	}
	mfs, err := g.registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	entries := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() == "dnsward_filter_list_entries" {
			for _, m := range mf.GetMetric() {
				entries[m.GetLabel()[0].GetValue()] = m.GetGauge().GetValue()
			}
		}
	}
	for _, cat := range cfg.ListNames() {
		if entries[cat] == 0 {
			t.Errorf("category %s: no entries loaded (%v)", cat, entries)
		}
	}
}

// BenchmarkProfileCacheHit measures the resolver chain the gateway assembles
// on the cache-hit path, in-process (no sockets): the unfiltered profile vs
// one blocking three categories of 300,000 synthetic names each with safe
// search, for a name no list holds; and a blocked name, answered by the
// policy. The difference is the filter's cost per query.
func BenchmarkProfileCacheHit(b *testing.B) {
	auth := dnstest.StartAuthority(b, []string{"www.example.org. 300 IN A 127.0.0.30"}, nil)
	dir := b.TempDir()
	var blockedName string
	for i, cat := range []string{"malware", "ads", "adult"} {
		var sb strings.Builder
		g := names.New(uint64(i + 1))
		for range 300000 {
			sb.WriteString(g.Next() + "\n")
		}
		if blockedName == "" {
			blockedName, _, _ = strings.Cut(sb.String(), "\n")
		}
		if err := os.WriteFile(filepath.Join(dir, cat+".txt"), []byte(sb.String()), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	cfg, err := config.Parse(filepath.Join(dir, "bench.yaml"), []byte(`
listen: {dns: ["127.0.0.1:53"]}   # never bound: only the chain runs
upstreams: [udp://`+auth.Addr+`]
data_dir: "`+dir+`"
lists: {malware: [malware.txt], ads: [ads.txt], adult: [adult.txt]}
default_profile: unfiltered
profiles:
  unfiltered: {}
  filtered: {addrs: ["127.0.0.2"], block: [malware, ads, adult], safe_search: true}
`))
	if err != nil {
		b.Fatal(err)
	}
	g, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { g.closeAll() })
	if err := g.lists.Reload(); err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct{ profile, name string }{
		{"unfiltered", "www.example.org."},
		{"filtered", "www.example.org."},
		{"filtered", dns.Fqdn(blockedName)},
	} {
		p, _ := g.profiles.ByName(bc.profile)
		b.Run(bc.profile+"/"+bc.name, func(b *testing.B) {
			q := new(dns.Msg)
			q.SetQuestion(bc.name, dns.TypeA)
			q.SetEdns0(1232, false)
			req := &resolver.Request{Msg: q, Transport: transport.UDP, Profile: p}
			ctx := context.Background()
			if _, err := g.handler.ServeDNS(ctx, req); err != nil { // fills the cache
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := g.handler.ServeDNS(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestBlockedAnswersCachedDownstream puts a caching unbound in front of the
// gateway: a blocked NXDOMAIN and NODATA carry an SOA, so unbound keeps
// them for the profile's blocked_ttl (RFC 2308), asking the gateway only
// once, and hands the SOA on with the TTL left.
func TestBlockedAnswersCachedDownstream(t *testing.T) {
	dir := t.TempDir()
	rpz := filepath.Join(dir, "blocked.rpz")
	if err := os.WriteFile(rpz, []byte("nx.example CNAME .\nnodata.example CNAME *.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dnsAddr, metricsAddr := startGateway(t, `
listen:
  dns: ["%DNS%"]
  metrics: "%METRICS%"
upstreams: [udp://127.0.0.1:9]
data_dir: "`+dir+`"
lists: {blocked: ["`+rpz+`"]}
profiles:
  default: {block: [blocked], blocked_ttl: 90s}
`)
	ub := dnstest.StartForwardingUnbound(t, dnsAddr)
	blocked := func() float64 {
		v, _ := metricValue(scrape(t, metricsAddr), `dnsward_policy_blocked_total{category="blocked",profile="default"}`)
		return v
	}
	for _, tc := range []struct {
		name  string
		rcode int
	}{
		{"nx.example.", dns.RcodeNameError},
		{"nodata.example.", dns.RcodeSuccess},
	} {
		before := blocked()
		for i := range 3 {
			resp := exchange(t, "udp", ub, tc.name, dns.TypeA)
			if resp.Rcode != tc.rcode || len(resp.Answer) != 0 {
				t.Fatalf("%s query %d: want %s without records, got %v", tc.name, i+1, dns.RcodeToString[tc.rcode], resp)
			}
			// Without an SOA unbound would keep the answer 5 s, and say nothing of it.
			if len(resp.Ns) != 1 || resp.Ns[0].Header().Rrtype != dns.TypeSOA || resp.Ns[0].Header().Ttl > 90 || resp.Ns[0].Header().Ttl < 80 {
				t.Fatalf("%s query %d: want the SOA with TTL 80-90 (blocked_ttl 90s), got %v", tc.name, i+1, resp.Ns)
			}
		}
		if got := blocked() - before; got != 1 {
			t.Errorf("%s: the gateway blocked %v of unbound's queries, want 1 (the others from unbound's cache)", tc.name, got)
		}
	}
}
