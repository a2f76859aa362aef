package gateway

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dnstap "github.com/dnstap/golang-dnstap"
	"github.com/miekg/dns"
	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
	"google.golang.org/protobuf/proto"

	"github.com/dnsward/dnsward/internal/dnstest"
	"github.com/dnsward/dnsward/internal/testpki"
	"github.com/dnsward/dnsward/querystats"
	"github.com/dnsward/dnsward/resolver/upstream"
)

// clientIDYAML runs DoH, DoT, DoQ, metrics and a JSON query log with a
// static wildcard certificate (tls.mode files) for dns.example and
// child.dns.example. adult.example is blocked in child only; annas-phone
// is listed for child. %s: ports, upstream, data dir, then the clients
// section (with unknown_clients and metrics).
const clientIDYAML = `
listen:
  doh: ["127.0.0.1:%[1]s"]
  dot: ["127.0.0.1:%[2]s"]
  doq: ["127.0.0.1:%[2]s"]
  metrics: "127.0.0.1:%[3]s"
upstreams: [udp://%[4]s]
data_dir: %[5]s
server_name: dns.example
tls: {mode: files, cert_file: cert.pem, key_file: key.pem}
doh: {http2: %[6]s, http3: %[6]s}
lists:
  adult: [adult.hosts]
default_profile: open
profiles:
  open: {}
  child: {paths: [/child], hosts: [child.dns.example], block: [adult]}
query_log:
  client: none
  sinks: [{json: queries.jsonl}, {dnstap: "file://%[8]s"}]
%[7]s`

// clientIDEnv is one running gateway of clientIDYAML and how to reach it.
type clientIDEnv struct {
	dir, dohAddr, tlsAddr, metrics, caFile string
	pki                                    *testpki.CA
	yaml                                   func(clients string) string
}

func startClientIDGateway(t *testing.T, engine, clients string) (*Gateway, *clientIDEnv) {
	t.Helper()
	up := dnstest.StartUnbound(t, []string{"adult.example. 300 IN A 127.0.0.16", "www.example. 300 IN A 127.0.0.17"}, "")
	dir := t.TempDir()
	ca := testpki.NewCA("client-id root")
	cert, key := testpki.PEM(ca.Issue(testpki.Leaf{Names: []string{"dns.example", "*.dns.example", "child.dns.example", "*.child.dns.example"}}))
	e := &clientIDEnv{dir: dir, pki: ca, caFile: filepath.Join(dir, "ca.pem")}
	for name, data := range map[string][]byte{"cert.pem": cert, "key.pem": key, "ca.pem": ca.RootPEM(), "adult.hosts": []byte("0.0.0.0 adult.example\n")} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	dohPort, tlsPort, metricsPort := fmt.Sprint(dnstest.FreePort(t)), fmt.Sprint(dnstest.FreePort(t)), fmt.Sprint(dnstest.FreePort(t))
	e.dohAddr, e.tlsAddr, e.metrics = "127.0.0.1:"+dohPort, "127.0.0.1:"+tlsPort, "127.0.0.1:"+metricsPort
	e.yaml = func(clients string) string {
		return fmt.Sprintf(clientIDYAML, dohPort, tlsPort, metricsPort, up, filepath.Join(dir, "data"), engine, clients, filepath.Join(dir, "tap.fstrm"))
	}
	return runGateway(t, loadYAML(t, dir, e.yaml(clients)), nil), e
}

// doh asks adult.example at path over HTTP version v (1, 2 or 3) with host
// as TLS name, and returns the HTTP status and, for 200, the RCODE.
func (e *clientIDEnv) doh(t *testing.T, v int, host, path string) (int, string, string) {
	t.Helper()
	tlsCfg := &tls.Config{RootCAs: e.pki.Pool, ServerName: host}
	dial := func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, e.dohAddr)
	}
	var rt http.RoundTripper
	switch v {
	case 1:
		tlsCfg.NextProtos = []string{"http/1.1"}
		rt = &http.Transport{TLSClientConfig: tlsCfg, DialContext: dial}
	case 2:
		rt = &http.Transport{TLSClientConfig: tlsCfg, DialContext: dial, ForceAttemptHTTP2: true}
	case 3:
		h3 := &http3.Transport{TLSClientConfig: tlsCfg, Dial: func(ctx context.Context, _ string, tc *tls.Config, qc *quic.Config) (*quic.Conn, error) {
			return quic.DialAddrEarly(ctx, e.dohAddr, tc, qc)
		}}
		defer h3.Close()
		rt = h3
	}
	q := new(dns.Msg)
	q.SetQuestion("adult.example.", dns.TypeA)
	wire, err := q.Pack()
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodGet, "https://"+host+path+"?dns="+base64.RawURLEncoding.EncodeToString(wire), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/dns-message")
	resp, err := (&http.Client{Transport: rt, Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("HTTP/%d %s: %v", v, path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.ProtoMajor != v {
		t.Fatalf("asked for HTTP/%d, got %s", v, resp.Proto)
	}
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, "", string(body)
	}
	m := new(dns.Msg)
	if err := m.Unpack(body); err != nil {
		t.Fatalf("HTTP/%d %s: %v", v, path, err)
	}
	return resp.StatusCode, dns.RcodeToString[m.Rcode], string(body)
}

// exchange asks adult.example over url (tls:// or quic://, #name the TLS
// name) and returns the RCODE, or the error.
func (e *clientIDEnv) exchange(t *testing.T, url string) (string, error) {
	t.Helper()
	u, err := upstream.New(url, upstream.Options{RootCAs: e.pki.Pool, Timeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	q := new(dns.Msg)
	q.SetQuestion("adult.example.", dns.TypeA)
	resp, err := u.Exchange(context.Background(), q)
	if err != nil {
		return "", err
	}
	return dns.RcodeToString[resp.Rcode], nil
}

// kdig asks adult.example over DoT with sni as TLS name (verified against
// the test CA) and returns the RCODE kdig printed, or "handshake failed"
// when the server refused the TLS handshake ("" for anything else).
func (e *clientIDEnv) kdig(t *testing.T, sni string) string {
	t.Helper()
	bin := dnstest.NeedBinary(t, "kdig", "apt-get install knot-dnsutils")
	host, port, _ := net.SplitHostPort(e.tlsAddr)
	out, _ := exec.Command(bin, "@"+host, "-p", port, "+tls", "+tls-ca="+e.caFile, "+tls-hostname="+sni, "+tls-sni="+sni,
		"+timeout=3", "+retry=0", "adult.example", "A").CombinedOutput()
	if strings.Contains(string(out), "TLS, handshake failed") {
		return "handshake failed"
	}
	for _, line := range strings.Split(string(out), "\n") {
		if _, after, ok := strings.Cut(line, "status: "); ok {
			return strings.TrimRight(strings.Fields(after)[0], ",;")
		}
	}
	return ""
}

func (e *clientIDEnv) get(t *testing.T, path string) string {
	t.Helper()
	resp, err := http.Get("http://" + e.metrics + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// TestClientIDs: a client ID in the DoH path (HTTP/1.1, HTTP/2 on both
// engines, HTTP/3) or the TLS name (DoT through Go and kdig, DoQ through
// the project's client) gets its listed profile (adult.example blocked
// only in child) or, unlisted, the path's or name's; malformed IDs get 400
// or a refused handshake; the ID reaches the query log, the statistics and
// (only once metrics.client_ids is on) /metrics; a SIGHUP reload to
// unknown_clients: refuse answers unlisted IDs 403 and refuses their
// handshakes.
func TestClientIDs(t *testing.T) {
	for _, engine := range []string{"builtin", "stdlib"} {
		t.Run(engine, func(t *testing.T) { testClientIDs(t, engine) })
	}
}

func testClientIDs(t *testing.T, engine string) {
	g, e := startClientIDGateway(t, engine, "clients:\n  annas-phone: {profile: child}\n")
	const blocked, open = "NXDOMAIN", "NOERROR"

	for _, v := range []int{1, 2, 3} {
		for _, tt := range []struct {
			host, path string
			want       string
		}{
			{"dns.example", "/dns-query", open},
			{"dns.example", "/dns-query/annas-phone", blocked},       // listed: child
			{"dns.example", "/dns-query/Annas-Phone", blocked},       // IDs compare case-insensitively
			{"dns.example", "/dns-query/bobs-laptop", open},          // unlisted: the path's (default) profile
			{"dns.example", "/child/bobs-laptop", blocked},           // unlisted: the profile path's
			{"child.dns.example", "/dns-query/bobs-laptop", blocked}, // unlisted: the host's profile
			{"annas-phone.dns.example", "/dns-query", blocked},       // the ID in the name
		} {
			status, rcode, body := e.doh(t, v, tt.host, tt.path)
			if status != http.StatusOK || rcode != tt.want {
				t.Errorf("HTTP/%d %s%s: %d %s %q, want 200 %s", v, tt.host, tt.path, status, rcode, body, tt.want)
			}
		}
		for _, path := range []string{"/dns-query/anna_phone", "/dns-query/-anna", "/dns-query/" + strings.Repeat("a", 64),
			"/child/%3Cscript%3Ealert(1)", "/dns-query/%00"} {
			status, _, body := e.doh(t, v, "dns.example", path)
			if status != http.StatusBadRequest || strings.Contains(body, "script") || strings.Contains(body, "anna") {
				t.Errorf("HTTP/%d %s: %d %q, want 400 without the ID", v, path, status, body)
			}
		}
		if status, _, _ := e.doh(t, v, "dns.example", "/nope/annas-phone"); status != http.StatusNotFound {
			t.Errorf("HTTP/%d /nope/annas-phone: %d, want 404", v, status)
		}
	}

	for _, tt := range []struct{ name, want string }{
		{"annas-phone.dns.example", blocked},
		{"annas-phone.child.dns.example", blocked},
		{"bobs-laptop.dns.example", open},
		{"bobs-laptop.child.dns.example", blocked},
		{"dns.example", open},
	} {
		for _, scheme := range []string{"tls", "quic"} {
			if got, err := e.exchange(t, scheme+"://"+e.tlsAddr+"#"+tt.name); err != nil || got != tt.want {
				t.Errorf("%s with TLS name %s: %s %v, want %s", scheme, tt.name, got, err, tt.want)
			}
		}
		if got := e.kdig(t, tt.name); got != tt.want {
			t.Errorf("kdig +tls-sni=%s: %q, want %s", tt.name, got, tt.want)
		}
	}
	for _, scheme := range []string{"tls", "quic"} {
		if _, err := e.exchange(t, scheme+"://"+e.tlsAddr+"#anna_phone.dns.example"); !handshakeRefused(err) {
			t.Errorf("%s with a malformed ID in the TLS name: %v, want the handshake refused", scheme, err)
		}
	}
	if got := e.kdig(t, "anna_phone.child.dns.example"); got != "handshake failed" {
		t.Errorf("kdig with a malformed ID in the TLS name got an answer: %s", got)
	}

	// The query log and the statistics carry the IDs; metrics do not yet.
	deadline := time.Now().Add(5 * time.Second)
	var recs []clientIDRecord
	for time.Now().Before(deadline) {
		if recs = readClientIDLog(t, filepath.Join(e.dir, "queries.jsonl")); countIDs(recs)["annas-phone"]["doq"] > 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	ids := countIDs(recs)
	for _, tr := range []string{"doh1", "doh2", "doh3", "dot", "doq"} {
		if ids["annas-phone"][tr] == 0 || ids["bobs-laptop"][tr] == 0 {
			t.Errorf("query log: no %s record with client_id annas-phone and bobs-laptop: %v", tr, ids)
		}
	}
	for _, r := range recs {
		if r.ClientID == "annas-phone" && r.Profile != "child" {
			t.Errorf("query log: annas-phone logged with profile %s", r.Profile)
		}
	}
	var rep querystats.Report
	if err := json.Unmarshal([]byte(e.get(t, "/debug/stats")), &rep); err != nil {
		t.Fatal(err)
	}
	top := map[string]uint64{}
	for _, c := range rep.TopClients {
		top[c.Name] = c.Count
	}
	if top["annas-phone"] == 0 || top["bobs-laptop"] == 0 || len(rep.TopBlockedClients) == 0 {
		t.Errorf("stats: top clients %v, blocked %v", rep.TopClients, rep.TopBlockedClients)
	}
	if m := e.get(t, "/metrics"); strings.Contains(m, "dnsward_client_queries_total") {
		t.Errorf("client IDs in /metrics without metrics.client_ids")
	}

	// SIGHUP: refuse unlisted IDs, list office-pc for open, count IDs.
	next := loadYAML(t, e.dir, e.yaml("clients:\n  annas-phone: {profile: child}\n  office-pc: {profile: open}\nunknown_clients: refuse\nmetrics: {client_ids: true}\n"))
	if err := g.Reload(next); err != nil {
		t.Fatal(err)
	}
	for _, v := range []int{1, 2, 3} {
		for _, tt := range []struct {
			path   string
			status int
			rcode  string
		}{
			{"/dns-query/bobs-laptop", http.StatusForbidden, ""},
			{"/child/bobs-laptop", http.StatusForbidden, ""},
			{"/dns-query/annas-phone", http.StatusOK, blocked},
			{"/child/office-pc", http.StatusOK, open}, // listed: overrides the path's profile
			{"/child", http.StatusOK, blocked},        // no ID: the path's profile, as before
		} {
			status, rcode, body := e.doh(t, v, "dns.example", tt.path)
			if status != tt.status || rcode != tt.rcode || strings.Contains(body, "bobs") {
				t.Errorf("after reload, HTTP/%d %s: %d %s %q, want %d %s", v, tt.path, status, rcode, body, tt.status, tt.rcode)
			}
		}
	}
	for _, scheme := range []string{"tls", "quic"} {
		if _, err := e.exchange(t, scheme+"://"+e.tlsAddr+"#bobs-laptop.child.dns.example"); !handshakeRefused(err) {
			t.Errorf("after reload, %s with an unlisted ID in the TLS name: %v, want the handshake refused", scheme, err)
		}
		if got, err := e.exchange(t, scheme+"://"+e.tlsAddr+"#office-pc.child.dns.example"); err != nil || got != open {
			t.Errorf("after reload, %s as office-pc: %s %v, want %s", scheme, got, err, open)
		}
	}
	if got := e.kdig(t, "bobs-laptop.dns.example"); got != "handshake failed" {
		t.Errorf("after reload, kdig with an unlisted ID got an answer: %s", got)
	}
	if got := e.kdig(t, "annas-phone.child.dns.example"); got != blocked {
		t.Errorf("after reload, kdig as annas-phone: %q, want %s", got, blocked)
	}
	m := e.get(t, "/metrics")
	if !strings.Contains(m, `dnsward_client_queries_total{client_id="annas-phone"}`) ||
		!strings.Contains(m, `dnsward_client_queries_total{client_id="office-pc"}`) || strings.Contains(m, "bobs-laptop") {
		t.Errorf("metrics after metrics.client_ids: true:\n%s", grepLines(m, "dnsward_client_queries_total"))
	}

	// dnstap: each CLIENT_RESPONSE's extra names the client ID.
	g.qlog.Close()                                          // flushes the sinks
	files, _ := filepath.Glob(filepath.Join(e.dir, "tap*")) // the reload rotated the file aside
	var extras []clientIDRecord
	for _, f := range files {
		extras = append(extras, readTapExtras(t, f)...)
	}
	tapIDs := map[string]int{}
	for _, x := range extras {
		tapIDs[x.ClientID]++
		if x.ClientID == "annas-phone" && x.Profile != "child" {
			t.Errorf("dnstap: annas-phone with profile %s", x.Profile)
		}
	}
	if tapIDs["annas-phone"] == 0 || tapIDs["bobs-laptop"] == 0 || tapIDs["office-pc"] == 0 {
		t.Errorf("dnstap extras by client ID: %v", tapIDs)
	}
}

// readTapExtras reads a dnstap file with golang-dnstap's reader and returns
// the extra field of every message that has one.
func readTapExtras(t *testing.T, file string) []clientIDRecord {
	t.Helper()
	in, err := dnstap.NewFrameStreamInputFromFilename(file)
	if err != nil {
		t.Fatal(err)
	}
	frames := make(chan []byte, 1<<16)
	in.ReadInto(frames)
	close(frames)
	var out []clientIDRecord
	for f := range frames {
		var d dnstap.Dnstap
		if err := proto.Unmarshal(f, &d); err != nil {
			t.Fatal(err)
		}
		if len(d.Extra) == 0 {
			continue
		}
		var r clientIDRecord
		if err := json.Unmarshal(d.Extra, &r); err != nil {
			t.Fatalf("dnstap extra %q: %v", d.Extra, err)
		}
		out = append(out, r)
	}
	return out
}

// handshakeRefused reports whether err is the server's TLS alert
// (internal_error; over QUIC CRYPTO_ERROR 0x150).
func handshakeRefused(err error) bool {
	return err != nil && strings.Contains(err.Error(), "tls: internal error")
}

// clientIDRecord is the part of a JSON query-log line this test reads.
type clientIDRecord struct {
	Profile   string `json:"profile"`
	ClientID  string `json:"client_id"`
	Transport string `json:"transport"`
}

func readClientIDLog(t *testing.T, file string) []clientIDRecord {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var recs []clientIDRecord
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if line == "" {
			continue
		}
		var r clientIDRecord
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("query log line %q: %v", line, err)
		}
		recs = append(recs, r)
	}
	return recs
}

// countIDs counts records by client ID and transport.
func countIDs(recs []clientIDRecord) map[string]map[string]int {
	out := map[string]map[string]int{}
	for _, r := range recs {
		if out[r.ClientID] == nil {
			out[r.ClientID] = map[string]int{}
		}
		out[r.ClientID][r.Transport]++
	}
	return out
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
