package gateway

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	dnstap "github.com/dnstap/golang-dnstap"
	"github.com/miekg/dns"
	"google.golang.org/protobuf/proto"

	"github.com/dnsward/dnsward/internal/dnstest"
)

// readTapMessages reads a dnstap file with golang-dnstap's reader and
// returns its messages, in order.
func readTapMessages(t *testing.T, file string) []*dnstap.Message {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := dnstap.NewReader(f, nil)
	if err != nil {
		t.Fatal(err)
	}
	var msgs []*dnstap.Message
	buf := make([]byte, 1<<16)
	for {
		n, err := r.ReadFrame(buf)
		if err == io.EOF {
			return msgs
		}
		if err != nil {
			t.Fatal(err)
		}
		var d dnstap.Dnstap
		if err := proto.Unmarshal(buf[:n], &d); err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, d.Message)
	}
}

// TestQueryLogBytesAsSent: the query log holds, byte for byte, the query a
// client sent and the answer it received, over UDP (answers compressed and
// cut to the client's size) and DoH (answers padded), whether resolved or
// replayed. The JSON sink's size is the answer's. An answer sent by the
// JSON API is logged too.
func TestQueryLogBytesAsSent(t *testing.T) {
	var zone []string
	for i := range 40 { // 40 addresses: over 512 bytes, truncated over UDP without EDNS
		zone = append(zone, fmt.Sprintf("many.example. 300 IN A 192.0.2.%d", i+1))
	}
	auth := dnstest.StartAuthority(t, zone, nil)
	dir := t.TempDir()
	dnsAddr := fmt.Sprintf("127.0.0.1:%d", dnstest.FreePort(t))
	dohPort := dnstest.FreePort(t)
	tap, jsonl := filepath.Join(dir, "tap.fstrm"), filepath.Join(dir, "queries.jsonl")
	g := runGateway(t, loadYAML(t, dir, fmt.Sprintf(`
listen:
  dns: ["%s"]
  doh: ["127.0.0.1:%d"]
upstreams: [udp://%s]
data_dir: %s
query_log:
  sinks:
    - dnstap: file://%s
    - json: %s
`, dnsAddr, dohPort, auth.Addr, filepath.Join(dir, "data"), tap, jsonl)), nil)

	query := func(id uint16, edns bool, padded bool) []byte {
		q := new(dns.Msg)
		q.SetQuestion("many.example.", dns.TypeA)
		q.Id = id
		if edns {
			q.SetEdns0(1232, false)
			if padded {
				q.IsEdns0().Option = []dns.EDNS0{&dns.EDNS0_PADDING{Padding: make([]byte, 40)}}
			}
		}
		b, err := q.Pack()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	udp := func(q []byte) []byte {
		c, err := net.Dial("udp", dnsAddr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write(q); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 65535)
		n, err := c.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		return buf[:n]
	}
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: caPool(t, g), ServerName: "localhost"}, ForceAttemptHTTP2: true}}
	defer hc.CloseIdleConnections()
	doh := func(q []byte) []byte {
		resp, err := hc.Post(fmt.Sprintf("https://127.0.0.1:%d/dns-query", dohPort), "application/dns-message", bytes.NewReader(q))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != http.StatusOK || resp.ProtoMajor != 2 {
			t.Fatalf("DoH: %s %d: %v", resp.Proto, resp.StatusCode, err)
		}
		return body
	}

	type exchange struct {
		name   string
		q, ans []byte
	}
	var sent []exchange
	for _, tt := range []struct {
		name     string
		q        []byte
		exchange func([]byte) []byte
	}{
		{"udp without EDNS, truncated", query(1, false, false), udp},
		{"udp", query(2, true, false), udp},
		{"udp replayed", query(3, true, false), udp},
		{"doh padded", query(0, true, true), doh},
		{"doh padded replayed", query(0, true, true), doh},
	} {
		sent = append(sent, exchange{tt.name, tt.q, tt.exchange(tt.q)})
	}
	// The JSON API sends no DNS message: its answer is logged all the same.
	req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("https://127.0.0.1:%d/resolve?name=many.example&type=A", dohPort), nil)
	req.Header.Set("Accept", "application/dns-json")
	resp, err := hc.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("JSON API: %v %v", resp, err)
	}
	resp.Body.Close()
	g.qlog.Close() // flushes the sinks

	msgs := readTapMessages(t, tap)
	if len(msgs) != 2*(len(sent)+1) {
		t.Fatalf("dnstap holds %d messages, want %d", len(msgs), 2*(len(sent)+1))
	}
	recs := readJSONLog(t, jsonl)
	if r := recs[len(sent)]; r.Transport != "doh2" || r.Name != "many.example." || r.Rcode != "NOERROR" || r.Size == 0 {
		t.Errorf("JSON API: record %+v", r)
	}
	for i, ex := range sent {
		q, r := msgs[2*i], msgs[2*i+1]
		if !bytes.Equal(q.QueryMessage, ex.q) {
			t.Errorf("%s: logged query\n%x\nsent\n%x", ex.name, q.QueryMessage, ex.q)
		}
		if !bytes.Equal(r.ResponseMessage, ex.ans) {
			t.Errorf("%s: logged answer (%d bytes)\n%x\nreceived (%d bytes)\n%x", ex.name, len(r.ResponseMessage), r.ResponseMessage, len(ex.ans), ex.ans)
		}
		if recs[i].Size != len(ex.ans) {
			t.Errorf("%s: JSON size %d, want %d", ex.name, recs[i].Size, len(ex.ans))
		}

	}
	if tc := sent[0].ans; len(tc) < 3 || tc[2]&0x02 == 0 {
		t.Errorf("the answer without EDNS was not truncated: the test lost its point")
	}
}
