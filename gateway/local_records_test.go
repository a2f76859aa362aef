package gateway

import (
	"context"
	"crypto/x509"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsward/dnsward/internal/dnstest"
	"github.com/dnsward/dnsward/resolver/upstream"
)

// localZone is the zone file of TestLocalRecordsKdig.
const localZone = `$ORIGIN home.example.
$TTL 600
@       IN SOA ns.home.example. admin.home.example. 7 3600 600 86400 120
nas     IN A 192.0.2.5
printer IN CNAME nas
web     IN CNAME www.public.example.
evil    IN CNAME blocked.public.example.
`

// localYAML serves localZone and inline records over every front-end;
// the malware list blocks nas.home.example and blocked.public.example.
const localYAML = `
listen:
  dns: ["127.0.0.1:%d"]
  doh: ["127.0.0.1:%d"]
  dot: ["127.0.0.1:%d"]
  doq: ["127.0.0.1:%d"]
upstreams: [udp://%s]
data_dir: data
lists: {malware: [malware.txt]}
profiles: {default: {block: [malware]}}
local_zone_files: [home.zone]
local_records:
  - "*.lab.example. 300 IN A 192.0.2.6"
  - "solo.example. IN TXT \"hello\""
local_ptr: true
`

// TestLocalRecordsKdig asks kdig over UDP, TCP, DoH and DoT (and the
// project's clients over DoQ and HTTP/3) for local
// records: answers flagged AA even for a name a list blocks (and the
// upstream answers otherwise), NXDOMAIN and
// NODATA with the zone's SOA in authority, a wildcard, CNAMEs chased
// locally and through the upstream (unbound), a chased target the list
// blocks, and automatic PTRs.
func TestLocalRecordsKdig(t *testing.T) {
	kdig := dnstest.NeedBinary(t, "kdig", "knot-dnsutils")
	up := dnstest.StartUnbound(t, []string{
		"www.public.example. 300 IN A 192.0.2.1",
		"blocked.public.example. 300 IN A 192.0.2.2",
		"nas.home.example. 300 IN A 198.51.100.5", // the public view, which local data overrides
	}, "")
	dir := t.TempDir()
	for name, text := range map[string]string{"home.zone": localZone, "malware.txt": "nas.home.example\nblocked.public.example\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	dnsPort, dohPort, dotPort, doqPort := dnstest.FreePort(t), dnstest.FreePort(t), dnstest.FreePort(t), dnstest.FreePort(t)
	g := runGateway(t, loadYAML(t, dir, fmt.Sprintf(localYAML, dnsPort, dohPort, dotPort, doqPort, up)), nil)
	// Debian's kdig has no QUIC: DoQ and DoH over HTTP/3 are asked with the
	// project's own clients (resolver/upstream).
	for _, u := range []string{fmt.Sprintf("quic://127.0.0.1:%d#localhost", doqPort), fmt.Sprintf("h3://localhost:%d/dns-query", dohPort)} {
		t.Run(u, func(t *testing.T) { checkLocalOverClient(t, u, caPool(t, g)) })
	}
	ca := g.CAFile()
	transports := map[string][]string{
		"udp": {"-p", fmt.Sprint(dnsPort)},
		"tcp": {"-p", fmt.Sprint(dnsPort), "+tcp"},
		"doh": {"-p", fmt.Sprint(dohPort), "+https=/dns-query", "+tls-ca=" + ca, "+tls-hostname=localhost"},
		"dot": {"-p", fmt.Sprint(dotPort), "+tls", "+tls-ca=" + ca, "+tls-hostname=localhost"},
	}
	soa := regexp.MustCompile(`(?m)^;; AUTHORITY SECTION:\nhome\.example\.\s+120\s+IN\s+SOA\s+ns\.home\.example\. admin\.home\.example\. 7 `)
	tests := []struct {
		name, qtype, status string
		want                []*regexp.Regexp // each must match kdig's output
	}{
		{"nas.home.example", "A", "NOERROR", []*regexp.Regexp{regexp.MustCompile(`(?m)^nas\.home\.example\.\s+600\s+IN\s+A\s+192\.0\.2\.5$`)}},
		{"missing.home.example", "A", "NXDOMAIN", []*regexp.Regexp{soa}},
		{"nas.home.example", "TXT", "NOERROR", []*regexp.Regexp{soa, regexp.MustCompile(`ANSWER: 0;`)}},
		{"x.y.lab.example", "A", "NOERROR", []*regexp.Regexp{regexp.MustCompile(`(?m)^x\.y\.lab\.example\.\s+300\s+IN\s+A\s+192\.0\.2\.6$`)}},
		{"printer.home.example", "A", "NOERROR", []*regexp.Regexp{
			regexp.MustCompile(`(?m)^printer\.home\.example\.\s+600\s+IN\s+CNAME\s+nas\.home\.example\.$`),
			regexp.MustCompile(`(?m)^nas\.home\.example\.\s+600\s+IN\s+A\s+192\.0\.2\.5$`)}},
		{"web.home.example", "A", "NOERROR", []*regexp.Regexp{
			regexp.MustCompile(`(?m)^web\.home\.example\.\s+600\s+IN\s+CNAME\s+www\.public\.example\.$`),
			regexp.MustCompile(`(?m)^www\.public\.example\.\s+\d+\s+IN\s+A\s+192\.0\.2\.1$`)}},
		{"evil.home.example", "A", "NXDOMAIN", []*regexp.Regexp{
			regexp.MustCompile(`(?m)^evil\.home\.example\.\s+600\s+IN\s+CNAME\s+blocked\.public\.example\.$`),
			regexp.MustCompile(`EDE: 15 \(Blocked\): 'blocked: malware'`)}},
		{"5.2.0.192.in-addr.arpa", "PTR", "NOERROR", []*regexp.Regexp{regexp.MustCompile(`(?m)^5\.2\.0\.192\.in-addr\.arpa\.\s+600\s+IN\s+PTR\s+nas\.home\.example\.$`)}},
		{"solo.example", "TXT", "NOERROR", []*regexp.Regexp{regexp.MustCompile(`(?m)^solo\.example\.\s+3600\s+IN\s+TXT\s+"hello"$`)}},
		{"solo.example", "A", "NOERROR", []*regexp.Regexp{regexp.MustCompile(`(?m)^;; AUTHORITY SECTION:\nsolo\.example\.\s+300\s+IN\s+SOA\s`)}},
	}
	flags := regexp.MustCompile(`(?m)^;; Flags: ([a-z ]+);`)
	for tr, args := range transports {
		for _, tt := range tests {
			t.Run(tr+" "+tt.name+" "+tt.qtype, func(t *testing.T) {
				cmd := append([]string{"@127.0.0.1"}, args...)
				cmd = append(cmd, "+edns", "+time=5", "+retry=0", tt.name, tt.qtype)
				b, err := exec.Command(kdig, cmd...).CombinedOutput()
				out := string(b)
				if err != nil {
					t.Fatalf("kdig: %v\n%s", err, out)
				}
				f := flags.FindStringSubmatch(out)
				if !strings.Contains(out, "status: "+tt.status) || f == nil || !strings.Contains(" "+f[1]+" ", " aa ") {
					t.Errorf("want status %s with AA:\n%s", tt.status, out)
				}
				for _, re := range tt.want {
					if !re.MatchString(out) {
						t.Errorf("no %s in:\n%s", re, out)
					}
				}
			})
		}
	}
}

// checkLocalOverClient asks for a local record and a name the local zone
// lacks through one of dnsward's upstream clients.
func checkLocalOverClient(t *testing.T, url string, roots *x509.CertPool) {
	u, err := upstream.New(url, upstream.Options{RootCAs: roots})
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	for _, tt := range []struct {
		name  string
		rcode int
		want  string
	}{
		{"nas.home.example.", dns.RcodeSuccess, "nas.home.example.\t600\tIN\tA\t192.0.2.5"},
		{"missing.home.example.", dns.RcodeNameError, "home.example.\t120\tIN\tSOA\tns.home.example. admin.home.example. 7 3600 600 86400 120"},
	} {
		q := new(dns.Msg)
		q.SetQuestion(tt.name, dns.TypeA)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		resp, err := u.Exchange(ctx, q)
		cancel()
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		got := append(resp.Answer, resp.Ns...)
		if resp.Rcode != tt.rcode || !resp.Authoritative || len(got) != 1 || got[0].String() != tt.want {
			t.Errorf("%s: %v, want %s with AA and %s", tt.name, resp, dns.RcodeToString[tt.rcode], tt.want)
		}
	}
}
