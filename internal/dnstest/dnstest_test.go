package dnstest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestAuthority asks a real Authority over UDP and TCP with miekg/dns's
// client.
func TestAuthority(t *testing.T) {
	zone := []string{
		"test. 3600 IN SOA ns.test. admin.test. 1 7200 900 1209600 120",
		"a.test. 300 IN A 127.0.0.1",
	}
	for i := range 40 {
		zone = append(zone, "big.test. 60 IN TXT \""+strings.Repeat("x", 30)+string(rune('a'+i%26))+"\"")
	}
	auth := StartAuthority(t, zone, nil)
	auth.SetRcode("fail.test", dns.RcodeServerFailure)
	for _, tc := range []struct {
		net, name string
		qtype     uint16
		rcode     int
		answers   int
		truncated bool
		soaMin    uint32 // 0: no SOA expected
	}{
		{"udp", "a.test.", dns.TypeA, dns.RcodeSuccess, 1, false, 0},
		{"udp", "a.test.", dns.TypeAAAA, dns.RcodeSuccess, 0, false, 120},
		{"udp", "nope.test.", dns.TypeA, dns.RcodeNameError, 0, false, 120},
		{"udp", "fail.test.", dns.TypeA, dns.RcodeServerFailure, 0, false, 0},
		{"udp", "big.test.", dns.TypeTXT, dns.RcodeSuccess, 0, true, 0},
		{"tcp", "big.test.", dns.TypeTXT, dns.RcodeSuccess, 40, false, 0},
	} {
		t.Run(tc.net+"/"+tc.name+"/"+dns.TypeToString[tc.qtype], func(t *testing.T) {
			q := new(dns.Msg)
			q.SetQuestion(tc.name, tc.qtype)
			r, _, err := (&dns.Client{Net: tc.net, Timeout: 2 * time.Second}).Exchange(q, auth.Addr)
			if err != nil {
				t.Fatal(err)
			}
			if r.Rcode != tc.rcode || r.Truncated != tc.truncated || (!tc.truncated && len(r.Answer) != tc.answers) {
				t.Fatalf("rcode %s, %d answers, TC=%v", dns.RcodeToString[r.Rcode], len(r.Answer), r.Truncated)
			}
			var soaMin uint32
			if len(r.Ns) == 1 {
				soaMin = r.Ns[0].(*dns.SOA).Minttl
			}
			if soaMin != tc.soaMin {
				t.Fatalf("SOA minimum %d, want %d", soaMin, tc.soaMin)
			}
		})
	}
	if auth.Queries.Load() != 6 {
		t.Fatalf("Queries = %d, want 6", auth.Queries.Load())
	}
}

func TestFreeAddrs(t *testing.T) {
	text, addrs := FreeAddrs(t, "a=%A% b=%B% a=%A%", "A", "B")
	if addrs["A"] == "" || addrs["A"] == addrs["B"] {
		t.Fatalf("addrs %v", addrs)
	}
	if want := "a=" + addrs["A"] + " b=" + addrs["B"] + " a=" + addrs["A"]; text != want {
		t.Fatalf("text %q, want %q", text, want)
	}
}

// fakeServer records what Run does with it.
type fakeServer struct{ started, stopped bool }

func (f *fakeServer) Start(context.Context) error    { f.started = true; return nil }
func (f *fakeServer) Shutdown(context.Context) error { f.stopped = true; return nil }

func TestRun(t *testing.T) {
	f := &fakeServer{}
	t.Run("server", func(t *testing.T) {
		Run(t, f, nil)
		if !f.started || f.stopped {
			t.Fatalf("started %v, stopped %v before the test ended", f.started, f.stopped)
		}
	})
	if !f.stopped {
		t.Fatal("not shut down when the test ended")
	}
}
