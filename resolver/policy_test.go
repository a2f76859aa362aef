package resolver_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dnsward/dnsward/internal/transport"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dnsward/dnsward/resolver"
	"github.com/dnsward/dnsward/resolver/filter"
)

// startUpstream runs a miekg/dns server on loopback with a few canned
// names; every other name answers 192.0.2.1 / 2001:db8::1.
func startUpstream(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rr := func(s string) dns.RR {
		r, err := dns.NewRR(s)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		name, qt := q.Question[0].Name, q.Question[0].Qtype
		switch {
		case name == "cloaked.example.":
			m.Answer = []dns.RR{rr(name + " 60 CNAME t.tracker.example."), rr("t.tracker.example. 60 A 192.0.2.10")}
		case name == "clean-cname.example.":
			m.Answer = []dns.RR{rr(name + " 60 CNAME cdn.example."), rr("cdn.example. 60 A 192.0.2.11")}
		case name == "forcesafesearch.google.com." && qt == dns.TypeA:
			m.Answer = []dns.RR{rr(name + " 60 A 216.239.38.120")}
		case name == "walled.garden." && qt == dns.TypeA:
			m.Answer = []dns.RR{rr(name + " 60 A 192.0.2.99")}
		case qt == dns.TypeA:
			m.Answer = []dns.RR{rr(name + " 60 A 192.0.2.1")}
		case qt == dns.TypeAAAA:
			m.Answer = []dns.RR{rr(name + " 60 AAAA 2001:db8::1")}
		}
		_ = w.WriteMsg(m)
	})}
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	go func() { _ = srv.ActivateAndServe() }()
	<-started
	t.Cleanup(func() { _ = srv.Shutdown() })
	return pc.LocalAddr().String()
}

// forwarder asks the upstream over UDP: the real upstream for the chain.
func forwarder(addr string) resolver.Handler {
	c := &dns.Client{Net: "udp"}
	return resolver.HandlerFunc(func(ctx context.Context, req *resolver.Request) (*dns.Msg, error) {
		m, _, err := c.ExchangeContext(ctx, req.Msg, addr)
		return m, err
	})
}

func writeLists(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range map[string]string{
		"malware.hosts": "0.0.0.0 malware.example\n",
		"ads.txt":       "||tracker.example^\n||ads.example^\n@@||ok.ads.example^\n",
		"adult.rpz": "$ORIGIN rpz.\n@ SOA a. b. 1 2 3 4 5\nadult.example CNAME .\nnodata.example CNAME *.\n" +
			"local.example A 192.0.2.50\nredirect.example CNAME walled.garden.\n" +
			"both.example CNAME .\n*.both.example CNAME .\n*.below.example CNAME .\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// render shows an answer as "RCODE | TYPE rdata; … | EDE code text".
func render(m *dns.Msg) string {
	var ans []string
	for _, rr := range m.Answer {
		f := strings.Fields(rr.String())
		ans = append(ans, strings.Join(f[3:], " "))
	}
	s := dns.RcodeToString[m.Rcode] + " | " + strings.Join(ans, "; ")
	if e, ok := resolver.EDE(m); ok {
		s += fmt.Sprintf(" | EDE %d %s", e.InfoCode, e.ExtraText)
	}
	return s
}

func TestPolicyStep(t *testing.T) {
	up := startUpstream(t)
	mgr, err := filter.NewManager(filter.ManagerConfig{
		Lists: map[string][]filter.Source{
			"malware": {{Location: "malware.hosts"}},
			"ads":     {{Location: "ads.txt"}},
			"adult":   {{Location: "adult.rpz"}},
		},
		BaseDir: writeLists(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := mgr.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer mgr.Close()
	profiles := map[string]filter.PolicyConfig{
		"noads": {Block: []string{"malware", "ads"}},
		// An allowed name's answer is not uncloaked: its CNAME target may be listed.
		"allowcloak": {Block: []string{"ads"}, Allow: []string{"cloaked.example"}},
		"child": {Block: []string{"malware", "adult"}, SafeSearch: true, Allow: []string{"malware.example"},
			Deny: []string{"extra-blocked.example"}},
		"nullip":  {Block: []string{"ads"}, BlockedAnswer: resolver.BlockedAnswer{Kind: resolver.BlockNullIP}},
		"nodata":  {Block: []string{"ads"}, BlockedAnswer: resolver.BlockedAnswer{Kind: resolver.BlockNoData}},
		"refused": {Block: []string{"ads"}, BlockedAnswer: resolver.BlockedAnswer{Kind: resolver.BlockRefused}},
		"custom": {Block: []string{"ads"}, BlockedAnswer: resolver.BlockedAnswer{Kind: resolver.BlockCustomIP,
			Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.7"), netip.MustParseAddr("2001:db8::7")}}},
	}
	byName := map[string]*resolver.Profile{"unfiltered": {Name: "unfiltered"}}
	for name, pc := range profiles {
		pol, err := mgr.Policy(pc)
		if err != nil {
			t.Fatal(err)
		}
		byName[name] = &resolver.Profile{Name: name, Policy: pol}
	}
	reg := prometheus.NewRegistry()
	mw, err := resolver.NewPolicyStep(resolver.PolicyConfig{Metrics: reg})
	if err != nil {
		t.Fatal(err)
	}
	h := mw(forwarder(up))

	A, AAAA, MX := dns.TypeA, dns.TypeAAAA, dns.TypeMX
	tests := []struct {
		profile, name string
		qtype         uint16
		noEDNS        bool
		want          string
	}{
		{"noads", "malware.example", A, false, "NXDOMAIN |  | EDE 15 blocked: malware"},
		{"noads", "x.ads.example", A, false, "NXDOMAIN |  | EDE 17 filtered: ads"},
		{"noads", "ok.ads.example", A, false, "NOERROR | A 192.0.2.1"},
		{"noads", "ads.example", A, true, "NXDOMAIN | "},
		{"noads", "cloaked.example", A, false, "NXDOMAIN |  | EDE 17 filtered: ads"},
		{"allowcloak", "cloaked.example", A, false, "NOERROR | CNAME t.tracker.example.; A 192.0.2.10"},
		{"noads", "clean-cname.example", A, false, "NOERROR | CNAME cdn.example.; A 192.0.2.11"},
		{"noads", "www.google.com", A, false, "NOERROR | A 192.0.2.1"},
		{"unfiltered", "malware.example", A, false, "NOERROR | A 192.0.2.1"},
		{"child", "www.google.com", A, false, "NOERROR | CNAME forcesafesearch.google.com.; A 216.239.38.120"},
		{"child", "WWW.Google.CO.UK.", A, false, "NOERROR | CNAME forcesafesearch.google.com.; A 216.239.38.120"},
		{"child", "www.youtube.com", AAAA, false, "NOERROR | CNAME restrict.youtube.com.; AAAA 2001:db8::1"},
		{"child", "adult.example", A, false, "NXDOMAIN |  | EDE 17 filtered: adult"},
		{"child", "www.adult.example", A, false, "NOERROR | A 192.0.2.1"}, // an RPZ owner is exact
		{"child", "both.example", A, false, "NXDOMAIN |  | EDE 17 filtered: adult"},
		{"child", "www.both.example", A, false, "NXDOMAIN |  | EDE 17 filtered: adult"}, // *.both.example
		{"child", "below.example", A, false, "NOERROR | A 192.0.2.1"},                   // *.x: not x itself
		{"child", "a.b.below.example", A, false, "NXDOMAIN |  | EDE 17 filtered: adult"},
		{"child", "nodata.example", A, false, "NOERROR |  | EDE 17 filtered: adult"},
		{"child", "x.nodata.example", A, false, "NOERROR | A 192.0.2.1"},
		{"child", "x.local.example", A, false, "NOERROR | A 192.0.2.1"},
		{"child", "local.example", A, false, "NOERROR | A 192.0.2.50 | EDE 17 filtered: adult"},
		{"child", "local.example", AAAA, false, "NOERROR |  | EDE 17 filtered: adult"},
		{"child", "redirect.example", A, false, "NOERROR | CNAME walled.garden.; A 192.0.2.99 | EDE 17 filtered: adult"},
		{"child", "malware.example", A, false, "NOERROR | A 192.0.2.1"},
		{"child", "extra-blocked.example", A, false, "NXDOMAIN |  | EDE 17 filtered: deny"},
		{"nullip", "ads.example", A, false, "NOERROR | A 0.0.0.0 | EDE 17 filtered: ads"},
		{"nullip", "ads.example", AAAA, false, "NOERROR | AAAA :: | EDE 17 filtered: ads"},
		{"nullip", "ads.example", MX, false, "NOERROR |  | EDE 17 filtered: ads"},
		{"nodata", "ads.example", A, false, "NOERROR |  | EDE 17 filtered: ads"},
		{"refused", "ads.example", A, false, "REFUSED |  | EDE 17 filtered: ads"},
		{"custom", "ads.example", A, false, "NOERROR | A 192.0.2.7 | EDE 17 filtered: ads"},
		{"custom", "ads.example", AAAA, false, "NOERROR | AAAA 2001:db8::7 | EDE 17 filtered: ads"},
	}
	for _, tt := range tests {
		t.Run(tt.profile+"/"+tt.name+"/"+dns.TypeToString[tt.qtype], func(t *testing.T) {
			q := new(dns.Msg)
			q.SetQuestion(dns.Fqdn(tt.name), tt.qtype)
			if !tt.noEDNS {
				q.SetEdns0(1232, false)
			}
			resp, err := h.ServeDNS(context.Background(), &resolver.Request{Msg: q, Transport: transport.UDP, Profile: byName[tt.profile]})
			if err != nil {
				t.Fatal(err)
			}
			if got := render(resp); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
			if resp.Id != q.Id || tt.noEDNS && resp.IsEdns0() != nil {
				t.Errorf("ID %d (want %d) or OPT added to a non-EDNS query", resp.Id, q.Id)
			}
		})
	}
	if got := blockedCount(t, reg, "noads", "ads"); got != 3 {
		t.Errorf("blocked{noads,ads} = %v, want 3", got)
	}
}

// blockedCount reads dnsward_policy_blocked_total{profile,category} from reg.
func blockedCount(t *testing.T, reg *prometheus.Registry, profile, category string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "dnsward_policy_blocked_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["profile"] == profile && labels["category"] == category {
				return m.GetCounter().GetValue()
			}
		}
	}
	t.Fatalf("no blocked counter for %s/%s", profile, category)
	return 0
}
