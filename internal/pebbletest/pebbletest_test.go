package pebbletest

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/dnsward/dnsward/internal/testpki"
	"github.com/miekg/dns"
)

func TestStartDNS(t *testing.T) {
	addr, queries := StartDNS(t)
	tests := []struct {
		net     string
		qtype   uint16
		answers int
	}{
		{"udp", dns.TypeA, 1},
		{"tcp", dns.TypeA, 1},
		{"udp", dns.TypeAAAA, 0},
	}
	for i, tt := range tests {
		q := new(dns.Msg)
		q.SetQuestion("any.dnsward.test.", tt.qtype)
		r, _, err := (&dns.Client{Net: tt.net, Timeout: 2 * time.Second}).Exchange(q, addr)
		if err != nil {
			t.Fatalf("%s %s: %v", tt.net, dns.TypeToString[tt.qtype], err)
		}
		if r.Rcode != dns.RcodeSuccess || len(r.Answer) != tt.answers {
			t.Errorf("%s %s: %v", tt.net, dns.TypeToString[tt.qtype], r)
		}
		if tt.answers == 1 && r.Answer[0].(*dns.A).A.String() != "127.0.0.1" {
			t.Errorf("A answer %v, want 127.0.0.1", r.Answer[0])
		}
		if got := queries.Load(); got != int64(i+1) {
			t.Errorf("query counter %d after %d queries", got, i+1)
		}
	}
}

func TestIssuedBy(t *testing.T) {
	ca := testpki.NewCA("test root")
	leaf := ca.Issue(testpki.Leaf{Names: []string{"dns.dnsward.test"}, Serial: 7})
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{leaf}})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	trusted := ca.Pool
	tests := []struct {
		name  string
		roots *x509.CertPool
		want  bool
	}{
		{"dns.dnsward.test", trusted, true},
		{"other.dnsward.test", trusted, false}, // not on the certificate
		{"dns.dnsward.test", x509.NewCertPool(), false},
	}
	for _, tt := range tests {
		got, ok := IssuedBy(ln.Addr().String(), tt.name, tt.roots)
		if ok != tt.want || got == nil || got.SerialNumber.Int64() != 7 {
			t.Errorf("IssuedBy(%s) = %v, %v; want serial 7, %v", tt.name, got, ok, tt.want)
		}
	}
	if got, ok := IssuedBy("127.0.0.1:1", "dns.dnsward.test", trusted); ok || got != nil {
		t.Errorf("IssuedBy with nothing listening = %v, %v", got, ok)
	}
}

// TestStart checks pebble serves its ACME directory over an API certificate
// that verifies against APIRoot, and its issuing root, until Stop.
func TestStart(t *testing.T) {
	p := Start(t, "127.0.0.1:1", Options{})
	roots := x509.NewCertPool()
	caPEM, err := os.ReadFile(p.APIRoot)
	if err != nil || !roots.AppendCertsFromPEM(caPEM) {
		t.Fatalf("APIRoot: %v", err)
	}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	resp, err := client.Get(p.DirURL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var dir map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&dir); err != nil || dir["newOrder"] == nil {
		t.Fatalf("directory %v: %v", dir, err)
	}
	if n := p.Orders(t); n != 0 {
		t.Errorf("%d orders counted before any was placed", n)
	}
	if host, _, _ := net.SplitHostPort(p.Addr); host != "127.0.0.1" {
		t.Errorf("pebble listens on %s, want loopback", p.Addr)
	}
	p.Stop()
	if _, err := p.Root(); err == nil {
		t.Error("Root answered after Stop")
	}
}
