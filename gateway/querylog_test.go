package gateway

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsward/dnsward/internal/dnstest"
	"github.com/dnsward/dnsward/querylog"
	"github.com/dnsward/dnsward/resolver/upstream"
)

// qlogRecord is a line of the JSON sink.
type qlogRecord struct {
	Time      string  `json:"time"`
	Client    string  `json:"client"`
	Profile   string  `json:"profile"`
	Transport string  `json:"transport"`
	Name      string  `json:"qname"`
	Type      string  `json:"qtype"`
	Rcode     string  `json:"rcode"`
	Outcome   string  `json:"outcome"`
	Blocked   string  `json:"blocked"`
	EDE       *uint16 `json:"ede"`
	LatencyUS int64   `json:"latency_us"`
	Size      int     `json:"size"`
}

// tapMessage is one message of `dnstap -j`, the independent reader.
type tapMessage struct {
	Type    string `json:"type"`
	Message struct {
		Type            string `json:"type"`
		SocketFamily    string `json:"socket_family"`
		SocketProtocol  string `json:"socket_protocol"`
		QueryAddress    string `json:"query_address"`
		QueryMessage    string `json:"query_message"`
		ResponseMessage string `json:"response_message"`
	} `json:"message"`
}

// readTap reads a dnstap file back with golang-dnstap's dnstap command.
func readTap(t *testing.T, file string) []tapMessage {
	t.Helper()
	bin := dnstest.NeedBinary(t, "dnstap", "go install github.com/dnstap/golang-dnstap/dnstap@v0.4.0")
	out, err := exec.Command(bin, "-r", file, "-j").Output()
	if err != nil {
		t.Fatalf("dnstap -r %s -j: %v", file, err)
	}
	var msgs []tapMessage
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var m tapMessage
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("dnstap output %q: %v", line, err)
		}
		msgs = append(msgs, m)
	}
	return msgs
}

// readJSONLog reads the JSON sink's lines; each must be a whole record.
func readJSONLog(t *testing.T, file string) []qlogRecord {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var recs []qlogRecord
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		var r qlogRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("%s: line %q: %v", file, sc.Text(), err)
		}
		recs = append(recs, r)
	}
	return recs
}

// TestQueryLogEveryTransport sends a query over every transport (and a
// blocked one, a replayed one and an invalid one) through a gateway with a
// dnstap file sink and a JSON sink, reads the dnstap file back with the
// dnstap command and checks both against what was sent.
func TestQueryLogEveryTransport(t *testing.T) {
	names := []string{"udp", "tcp", "doh", "h3", "dot", "doq"}
	var zone []string
	for _, n := range names {
		zone = append(zone, n+".example. 300 IN A 127.0.0.1")
	}
	auth := dnstest.StartAuthority(t, append(zone, "evil.example. 300 IN A 127.0.0.66"), nil)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "malware.hosts"), []byte("0.0.0.0 evil.example\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dnsAddr := fmt.Sprintf("127.0.0.1:%d", dnstest.FreePort(t))
	dohPort, tlsPort := fmt.Sprint(dnstest.FreePort(t)), fmt.Sprint(dnstest.FreePort(t))
	tap, jsonl := filepath.Join(dir, "tap.fstrm"), filepath.Join(dir, "queries.jsonl")
	yaml := fmt.Sprintf(`
listen:
  dns: ["%[1]s"]
  doh: ["127.0.0.1:%[4]s"]
  dot: ["127.0.0.1:%[5]s"]
  doq: ["127.0.0.1:%[5]s"]
upstreams: [udp://%[2]s]
data_dir: %[3]s
lists:
  malware: [malware.hosts]
profiles:
  protective: {paths: [/dns-query], block: [malware]}
query_log:
  sinks:
    - dnstap: file://%[6]s
    - json: %[7]s
`, dnsAddr, auth.Addr, filepath.Join(dir, "data"), dohPort, tlsPort, tap, jsonl)
	g := runGateway(t, loadYAML(t, dir, yaml), nil)
	roots := caPool(t, g)
	urls := map[string]string{
		"udp": "udp://" + dnsAddr, "tcp": "tcp://" + dnsAddr,
		"doh": "https://localhost:" + dohPort + "/dns-query", "h3": "h3://localhost:" + dohPort + "/dns-query",
		"dot": "tls://localhost:" + tlsPort, "doq": "quic://localhost:" + tlsPort,
	}
	ask := func(url, name string, qtype uint16) *dns.Msg {
		t.Helper()
		u, err := upstream.New(url, upstream.Options{RootCAs: roots, Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		defer u.Close()
		q := new(dns.Msg)
		q.SetQuestion(name, qtype)
		q.SetEdns0(1232, false)
		resp, err := u.Exchange(context.Background(), q)
		if err != nil {
			t.Fatalf("%s %s: %v", url, name, err)
		}
		return resp
	}
	for _, n := range names {
		ask(urls[n], n+".example.", dns.TypeA)
	}
	ask(urls["doh"], "evil.example.", dns.TypeA)
	ask(urls["doh"], "doh.example.", dns.TypeA) // within the second: replayed
	ask(urls["tcp"], "tcp.example.", dns.TypeAXFR)
	g.qlog.Close() // flushes both sinks

	wantProto := map[string]string{"udp": "UDP", "tcp": "TCP", "doh": "DOH", "h3": "DOH", "dot": "DOT",
		"doq": "7"} // DOQ is 7 in dnstap.proto, newer than golang-dnstap v0.4.0's names
	msgs := readTap(t, tap)
	if len(msgs) != 2*(len(names)+3) {
		t.Fatalf("dnstap holds %d messages, want a query and a response for each of %d queries", len(msgs), len(names)+3)
	}
	for i := 0; i < len(names); i++ {
		q, r := msgs[2*i], msgs[2*i+1]
		n := names[i]
		if q.Type != "MESSAGE" || q.Message.Type != "CLIENT_QUERY" || r.Message.Type != "CLIENT_RESPONSE" {
			t.Fatalf("%s: messages %s/%s, want CLIENT_QUERY then CLIENT_RESPONSE", n, q.Message.Type, r.Message.Type)
		}
		for _, m := range []tapMessage{q, r} {
			if m.Message.SocketProtocol != wantProto[n] {
				t.Errorf("%s: socket protocol %q, want %q", n, m.Message.SocketProtocol, wantProto[n])
			}
			a, err := netip.ParseAddr(m.Message.QueryAddress)
			if err != nil || !querylog.PseudonymPrefix.Contains(a) {
				t.Errorf("%s: query address %q, want a pseudonym in %s", n, m.Message.QueryAddress, querylog.PseudonymPrefix)
			}
		}
		if !strings.Contains(q.Message.QueryMessage, n+".example.\tIN\t A") {
			t.Errorf("%s: query message %q lacks the question", n, q.Message.QueryMessage)
		}
		if !strings.Contains(r.Message.ResponseMessage, "status: NOERROR") || !strings.Contains(r.Message.ResponseMessage, "127.0.0.1") {
			t.Errorf("%s: response message %q, want NOERROR with the answer", n, r.Message.ResponseMessage)
		}
	}
	if r := msgs[2*len(names)+1]; !strings.Contains(r.Message.ResponseMessage, "status: NXDOMAIN") {
		t.Errorf("blocked: response %q, want NXDOMAIN", r.Message.ResponseMessage)
	}

	recs := readJSONLog(t, jsonl)
	if len(recs) != len(names)+3 {
		t.Fatalf("JSON log holds %d records, want %d", len(recs), len(names)+3)
	}
	wantTransport := map[string]string{"udp": "udp", "tcp": "tcp", "doh": "doh2", "h3": "doh3", "dot": "dot", "doq": "doq"}
	for i, n := range names {
		r := recs[i]
		if r.Transport != wantTransport[n] || r.Name != n+".example." || r.Type != "A" || r.Rcode != "NOERROR" ||
			r.Outcome != "upstream" || r.Profile != "protective" || r.Size == 0 || r.Blocked != "" || !strings.HasPrefix(r.Client, "100::") {
			t.Errorf("%s: record %+v", n, r)
		}
	}
	blocked, replayed, axfr := recs[len(names)], recs[len(names)+1], recs[len(names)+2]
	if blocked.Name != "evil.example." || blocked.Rcode != "NXDOMAIN" || blocked.Blocked != "malware" || blocked.EDE == nil || *blocked.EDE != 15 {
		t.Errorf("blocked: record %+v, want NXDOMAIN blocked by malware with EDE 15", blocked)
	}
	if replayed.Name != "doh.example." || replayed.Outcome != "cache" || replayed.Rcode != "NOERROR" {
		t.Errorf("replayed: record %+v, want a cache answer", replayed)
	}
	if axfr.Type != "AXFR" || axfr.Rcode != "REFUSED" || axfr.Outcome != "local" {
		t.Errorf("zone transfer: record %+v, want REFUSED built locally", axfr)
	}
}

// TestQueryLogRefusalsAndReload: the log sees admission's refusals (DoH's
// 429 as outcome limited, TCP's REFUSED with EDE 18), writes clients the
// configured way, and SIGHUP moves it to a new sink and client mode.
func TestQueryLogRefusalsAndReload(t *testing.T) {
	auth := dnstest.StartAuthority(t, []string{"www.example. 300 IN A 127.0.0.1"}, nil)
	dir := t.TempDir()
	dnsAddr := fmt.Sprintf("127.0.0.1:%d", dnstest.FreePort(t))
	dohPort := fmt.Sprint(dnstest.FreePort(t))
	first, second := filepath.Join(dir, "first.jsonl"), filepath.Join(dir, "second.jsonl")
	yaml := func(mode, file string) string {
		return fmt.Sprintf(`
listen:
  dns: ["%s"]
  doh: ["127.0.0.1:%s"]
upstreams: [udp://%s]
data_dir: %s
rate_limit: {qps: 1, burst: 2}
query_log:
  client: %s
  sinks:
    - json: %s
`, dnsAddr, dohPort, auth.Addr, filepath.Join(dir, "data"), mode, file)
	}
	g := runGateway(t, loadYAML(t, dir, yaml("truncate", first)), nil)
	roots := caPool(t, g)
	for _, url := range []string{"https://localhost:" + dohPort + "/dns-query", "tcp://" + dnsAddr} {
		u, err := upstream.New(url, upstream.Options{RootCAs: roots, Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		for range 5 {
			q := new(dns.Msg)
			q.SetQuestion("www.example.", dns.TypeA)
			q.SetEdns0(1232, false)
			u.Exchange(context.Background(), q) // DoH's 429s are errors
		}
		u.Close()
	}
	if err := g.Reload(loadYAML(t, dir, yaml("none", second))); err != nil {
		t.Fatal(err)
	}
	u, err := upstream.New("udp://"+dnsAddr, upstream.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	q := new(dns.Msg)
	q.SetQuestion("www.example.", dns.TypeA)
	if _, err := u.Exchange(context.Background(), q); err != nil {
		t.Fatal(err)
	}
	g.qlog.Close()

	var limited, refused int
	recs := readJSONLog(t, first)
	for _, r := range recs {
		if r.Client != "127.0.0.0" {
			t.Errorf("record %+v: client %q, want the truncated 127.0.0.0", r, r.Client)
		}
		switch {
		case r.Transport == "doh2" && r.Outcome == "limited" && r.Rcode == "" && r.Size == 0:
			limited++
		case r.Transport == "tcp" && r.Rcode == "REFUSED" && r.EDE != nil && *r.EDE == 18:
			refused++
		}
	}
	if len(recs) != 10 || limited == 0 || refused == 0 {
		t.Fatalf("first sink: %d records, %d limited on DoH, %d refused on TCP; want 10 with both kinds: %+v", len(recs), limited, refused, recs)
	}
	after := readJSONLog(t, second)
	if len(after) != 1 || after[0].Transport != "udp" || after[0].Client != "" {
		t.Fatalf("after SIGHUP: records %+v, want one UDP query without a client", after)
	}
}
